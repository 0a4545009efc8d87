// Sotto's web client: what the phone app does, over the documented protocol only
// (docs/protocol.md). Plain modules, no build step; config.json says where the stage is.

import { Cognito, claims, expiring } from "./cognito.js";
import { MicrophoneError, Recorder } from "./recorder.js";
import { Connection } from "./socket.js";
import { forgetSession, loadCache, saveCache, savedSession, saveSession } from "./store.js";
import { Timeline } from "./timeline.js";
import { $, conversationItem, element, messageItem, showPlaying, showProgress } from "./view.js";
import { explain } from "./words.js";

const SECTIONS = ["sign-in", "sign-up", "verify", "chat"];
const RECORDING_REPEAT_MS = 4000; // the indicator lasts 6 s unless repeated
const SHORTEST_CLIP_MS = 400;
const OWN_CLIP_CHECKS_MS = [700, 1500, 3000, 6000, 12000];

const state = {
  config: null,
  cognito: null,
  session: null,
  me: null,
  connection: null,
  conversations: new Map(),
  openId: null,
  names: new Map(),
  lookups: new Map(),
  indicators: new Map(), // conversationId -> Map userId -> {kind, timer}
  recorder: new Recorder(),
  holding: false,
  recordingSignal: null,
  playing: null, // {message, button, svg, retried}
  listened: new Set(),
  verified: false,
  verificationState: null,
  persistTimer: null,
};

// ---- what the user sees ------------------------------------------------------------------

function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
}

function say(text) {
  $("status").textContent = text;
}

function problem(error) {
  const text = error ? (typeof error === "string" ? error : explain(error)) : "";
  $("problem").textContent = text;
  $("problem").hidden = !text;
}

function showConnection(connectionState, detail) {
  const box = $("connection");
  box.hidden = connectionState === "closed";
  box.dataset.state = connectionState;
  $("retry-now").hidden = connectionState !== "waiting";
  const text = {
    connecting: "Connecting…",
    open: "Online",
    waiting: `Offline: reconnecting in ${Math.ceil(((detail && detail.delay) || 0) / 1000)} s`,
  }[connectionState];
  $("connection-text").textContent = text || "";
}

// ---- signing in and out -------------------------------------------------------------------

async function signIn(username, password) {
  problem(null);
  say("Signing in…");
  const session = await state.cognito.signIn(username, password);
  await enter(session);
}

async function enter(session) {
  state.session = session;
  saveSession(session);
  const identity = claims(session.idToken);
  state.me = {
    id: identity.sub,
    username: identity["cognito:username"] || identity.username,
    name: identity.name || identity["cognito:username"],
  };
  $("who").textContent = `Signed in as ${state.me.name}`;
  $("who").hidden = false;
  $("sign-out").hidden = false;
  state.connection = new Connection({
    url: socketUrl,
    onEvent: (frame) => handleEvent(frame),
    onState: showConnection,
    onOpen: () => afterConnect().catch(problem),
  });
  const cache = loadCache(state.me.id);
  restore(cache);
  say("");
  showChat(); // until the server says the account is not verified yet
  if (cache.openId && state.conversations.has(cache.openId)) await openConversation(cache.openId);
  state.connection.start();
}

function signOut() {
  if (state.connection) state.connection.stop();
  if (state.recorder.active) state.recorder.cancel();
  forgetSession(state.me && state.me.id);
  window.location.reload();
}

async function freshToken() {
  if (expiring(state.session.idToken)) {
    state.session = await state.cognito.refresh(state.session);
    saveSession(state.session);
  }
  return state.session.idToken;
}

async function socketUrl() {
  return `${state.config.wsUrl}?token=${encodeURIComponent(await freshToken())}`;
}

function request(action, fields) {
  return state.connection.request(action, fields);
}

// ---- signing up and verifying -------------------------------------------------------------

async function signUp(form) {
  problem(null);
  await state.cognito.signUp(form);
  $("sign-up-form").hidden = true;
  $("confirm-form").hidden = false;
  $("code-hint").textContent = state.config.anyConfirmationCode
    ? "Locally no email goes out: any code confirms."
    : `We sent it to ${form.email}.`;
  $("code").focus();
}

async function confirmSignUp(pending, code) {
  await state.cognito.confirm(pending.username, code);
  await signIn(pending.username, pending.password);
}

async function api(method, path, body) {
  const response = await fetch(`${state.config.apiBase}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${await freshToken()}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(answer.message || `The server answered ${response.status}.`), answer);
  }
  return answer;
}

const VERIFICATION_WORDS = {
  unverified: "Send a selfie so that a moderator can verify you. It is deleted once they have decided.",
  screening: "Checking your selfie…",
  retry: "We need another selfie",
  pending_review: "Thanks! A moderator will look at your selfie soon; you can chat once they approve.",
  approved: "You are verified.",
  rejected: "Your verification was not approved",
};

function showVerification(status) {
  state.verificationState = status.state;
  show("verify");
  const words = VERIFICATION_WORDS[status.state] || status.state;
  $("verify-state").textContent = status.reason ? `${words}: ${status.reason}` : words;
  $("selfie-form").hidden = !["unverified", "retry"].includes(status.state);
  if (status.state === "approved") becomeVerified();
}

async function checkVerification() {
  showVerification(await api("GET", "/verification"));
}

async function sendSelfie(file) {
  if (!file) return;
  problem(null);
  say("Sending your selfie…");
  const grant = await api("POST", "/selfie", { contentType: file.type, size: file.size });
  await postForm(grant, file);
  say("");
  // The verification event may have come first: never step back from what it said.
  if (["unverified", "retry"].includes(state.verificationState)) showVerification({ state: "screening" });
  for (let tries = 0; tries < 30 && state.verificationState === "screening"; tries += 1) {
    await sleep(1000);
    showVerification(await api("GET", "/verification"));
  }
}

function becomeVerified() {
  if (state.verified) return;
  state.verified = true;
  showChat();
  afterConnect().catch(problem);
}

// A presigned POST: every field, then the file as the last one, named "file".
async function postForm(grant, blob) {
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
  form.append("file", blob);
  const response = await fetch(grant.url, { method: "POST", body: form });
  if (!response.ok) throw new Error("The upload failed. Try again.");
}

// ---- conversations and catching up --------------------------------------------------------

function restore(cache) {
  state.verified = Boolean(cache.verified);
  for (const [userId, name] of Object.entries(cache.names || {})) state.names.set(userId, name);
  for (const saved of cache.conversations || []) {
    const { messages, have, ...conversation } = saved;
    state.conversations.set(saved.id, { ...conversation, timeline: new Timeline(have, messages) });
  }
}

function persist() {
  clearTimeout(state.persistTimer);
  state.persistTimer = setTimeout(() => {
    const conversations = [...state.conversations.values()]
      .filter((conversation) => !conversation.draft)
      .map(({ timeline, ...conversation }) => ({
        ...conversation,
        have: timeline.have,
        messages: timeline.messages.map(({ clip, ...message }) => ({
          ...message,
          clip: clip && { ...clip, localUrl: undefined },
        })),
      }));
    saveCache(state.me.id, {
      verified: state.verified,
      openId: state.conversations.has(state.openId) && !state.openId.startsWith("draft:") ? state.openId : null,
      names: Object.fromEntries(state.names),
      conversations,
    });
  }, 200);
}

function conversation(id) {
  let found = state.conversations.get(id);
  if (!found) {
    found = { id, kind: id.startsWith("g_") ? "group" : "direct", title: null, with: null,
      unread: 0, lastSeq: 0, loaded: false, timeline: new Timeline() };
    state.conversations.set(id, found);
  }
  return found;
}

// On every (re)connect: the summary of what is new since what we hold, each known conversation
// filled in order, then the list (titles, unread counts) afresh.
async function afterConnect() {
  try {
    await catchUp();
  } catch (error) {
    if (error.code === "not_verified") {
      state.verified = false;
      await checkVerification();
      return;
    }
    throw error;
  }
  becomeVerifiedQuietly();
  await refreshList();
  const open = state.openId && state.conversations.get(state.openId);
  if (open && !open.loaded) await fill(open);
  for (const found of state.conversations.values()) {
    for (const message of found.timeline.messages.slice(-20)) {
      if (message.from === state.me.id && message.clip && message.clip.status === "processing") {
        checkOwnClip(found, message.seq);
      }
    }
  }
  persist();
}

function becomeVerifiedQuietly() {
  state.verified = true;
  if ($("chat").hidden) showChat();
  request("lookupUser", { userId: state.me.id })
    .then((user) => { $("who").textContent = `Signed in as ${user.displayName || user.username}`; })
    .catch(() => {});
}

async function catchUp() {
  for (;;) {
    const since = {};
    for (const known of state.conversations.values()) {
      // What is held, or for one not opened yet, what its unread count already covers.
      if (!known.draft) since[known.id] = known.loaded ? known.timeline.have : known.lastSeq;
    }
    const summary = await request("sync", { since });
    for (const news of summary.conversations) {
      if (news.member === false) {
        state.conversations.delete(news.conversationId);
        continue;
      }
      const found = conversation(news.conversationId);
      found.lastSeq = Math.max(found.lastSeq, news.lastSeq || 0);
      if (found.loaded) await fill(found);
    }
    if (!summary.more) return;
  }
}

async function refreshList() {
  for (let offset = 0, more = true; more; ) {
    const listed = await request("conversations", { limit: 100, offset });
    listed.conversations.forEach(takeListed);
    offset += listed.conversations.length;
    more = listed.more && listed.conversations.length > 0;
  }
  const open = state.openId && state.conversations.get(state.openId);
  if (open && open.unread === 0 && open.lastSeq > 0) markRead(open);
  renderList();
}

function takeListed(item) {
  const found = conversation(item.conversationId);
  Object.assign(found, {
    kind: item.kind,
    title: item.title,
    with: item.with,
    unread: state.openId === found.id && !document.hidden ? 0 : item.unread,
    lastSeq: item.lastSeq,
    lastMessageAt: item.lastMessageAt,
  });
  if (item.with) lookupName(item.with);
}

// sync from `have` until `more` is false; what it adds is shown and acknowledged as delivered.
async function fill(found) {
  if (found.draft) return;
  for (;;) {
    const page = await request("sync", { conversationId: found.id, afterSeq: found.timeline.have, limit: 100 });
    showAppended(found, found.timeline.fill(page.messages), { live: false });
    if (!page.more) break;
  }
  found.loaded = true;
  persist();
}

function showAppended(found, appended, { live }) {
  if (!appended.length) return;
  const last = appended[appended.length - 1];
  found.lastSeq = Math.max(found.lastSeq, last.seq);
  found.lastMessageAt = last.sentAt;
  const others = appended.filter((message) => message.from !== state.me.id && message.clip);
  if (others.length) {
    request("receipt", { conversationId: found.id, kind: "delivered", seqs: others.slice(-100).map((m) => m.seq) })
      .catch(() => {});
  }
  for (const message of appended) lookupName(message.from);
  if (state.openId === found.id) {
    for (const message of appended) $("messages").append(renderMessage(message));
    if (!document.hidden) markRead(found);
    else if (live) found.unread += others.length;
  } else if (live) {
    found.unread += others.length;
  }
  if (live && others.length) say(`New voice message from ${nameOf(others[0].from)}.`);
  renderList();
  persist();
}

function markRead(found) {
  found.unread = 0;
  if (found.lastSeq > 0 && !found.draft) {
    request("markRead", { conversationId: found.id, seq: found.lastSeq }).catch(() => {});
  }
}

// ---- names ------------------------------------------------------------------------------

function nameOf(userId) {
  if (userId === state.me.id) return "You";
  return state.names.get(userId) || "…";
}

function lookupName(userId) {
  if (!userId || state.names.has(userId) || state.lookups.has(userId) || userId === state.me.id) return;
  const lookup = request("lookupUser", { userId })
    .then((user) => {
      state.names.set(userId, user.displayName || user.username);
      for (const span of document.querySelectorAll(`.sender[data-user-id="${CSS.escape(userId)}"]`)) {
        span.textContent = state.names.get(userId);
      }
      renderList();
      if (state.openId) renderTitle(state.conversations.get(state.openId));
      persist();
    })
    .catch(() => {})
    .finally(() => state.lookups.delete(userId));
  state.lookups.set(userId, lookup);
}

function titleOf(found) {
  if (found.title) return found.title;
  if (found.with) return nameOf(found.with);
  return found.kind === "group" ? "A group" : "A conversation";
}

// ---- rendering ----------------------------------------------------------------------------

function showChat() {
  show("chat");
  renderList();
}

function renderList() {
  if (!state.me) return;
  const ordered = [...state.conversations.values()].sort((a, b) =>
    String(b.lastMessageAt || "").localeCompare(String(a.lastMessageAt || "")),
  );
  $("conversations").replaceChildren(
    ...ordered.map((found) =>
      conversationItem(found, {
        title: titleOf(found),
        open: found.id === state.openId,
        recording: [...(state.indicators.get(found.id) || new Map()).values()].some((i) => i.kind === "recording"),
        onOpen: () => openConversation(found.id).catch(problem),
      }),
    ),
  );
  $("no-conversations").hidden = ordered.length > 0;
}

function renderTitle(found) {
  if (found) $("conversation-title").textContent = titleOf(found);
}

function renderMessage(message) {
  const mine = message.from === state.me.id;
  const item = messageItem(message, { who: nameOf(message.from), mine, onPlay: play });
  item.querySelector(".sender").dataset.userId = message.from;
  return item;
}

function rerender(message) {
  const old = document.querySelector(
    `#messages li.message[data-seq="${message.seq}"][data-conversation-id="${CSS.escape(message.conversationId)}"]`,
  );
  if (old) old.replaceWith(renderMessage(message));
}

async function openConversation(id) {
  const found = state.conversations.get(id);
  if (!found) return;
  state.openId = id;
  $("conversation").hidden = false;
  renderTitle(found);
  $("messages").replaceChildren(...found.timeline.messages.map(renderMessage));
  renderIndicator();
  renderList();
  if (!found.loaded && state.connection.open) await fill(found);
  markRead(found);
  renderList();
  persist();
}

async function startConversation(username) {
  problem(null);
  const user = await request("lookupUser", { username }).catch((error) => {
    if (error.code === "not_found") error.message = `Nobody is called “${username}” on Sotto.`;
    throw error;
  });
  if (user.userId === state.me.id) throw new Error("That is you: choose someone else.");
  state.names.set(user.userId, user.displayName || user.username);
  const existing = [...state.conversations.values()].find((c) => c.kind === "direct" && c.with === user.userId);
  if (existing) return openConversation(existing.id);
  const draftId = `draft:${user.userId}`;
  state.conversations.set(draftId, {
    id: draftId, draft: true, kind: "direct", title: null, with: user.userId,
    unread: 0, lastSeq: 0, loaded: true, timeline: new Timeline(),
  });
  return openConversation(draftId);
}

// ---- events -------------------------------------------------------------------------------

function handleEvent(frame) {
  switch (frame.type) {
    case "message":
      return receiveMessage(frame);
    case "receipt":
      return receiveReceipt(frame);
    case "indicator":
      return receiveIndicator(frame);
    case "membership":
      return refreshList().catch(() => {});
    case "verification":
      return showVerificationEvent(frame);
    case "error":
      return receiveError(frame);
    default:
      return undefined;
  }
}

function receiveMessage(message) {
  const found = conversation(message.conversationId);
  clearIndicator(found.id, message.from);
  if (!found.loaded) {
    // Not opened yet: count it; the history comes when it is opened.
    found.lastSeq = Math.max(found.lastSeq, message.seq);
    found.lastMessageAt = message.sentAt;
    if (message.from !== state.me.id) {
      found.unread += 1;
      request("receipt", { conversationId: found.id, kind: "delivered", seqs: [message.seq] }).catch(() => {});
    }
    lookupName(message.from);
    if (!found.title && !found.with && found.kind === "direct") refreshList().catch(() => {});
    renderList();
    return;
  }
  if (message.seq <= found.timeline.have) {
    // A live copy of what sync gave while its clip was still being processed: now it is ready.
    const held = found.timeline.find(message.seq);
    if (held && (!held.clip || held.clip.status !== "ready") && found.timeline.update(message)) rerender(message);
    return;
  }
  const { appended, gap } = found.timeline.receive(message);
  showAppended(found, appended, { live: true });
  if (gap) fill(found).catch(problem);
}

function receiveReceipt(frame) {
  const found = state.conversations.get(frame.conversationId);
  if (!found) return;
  for (const seq of frame.seqs) {
    const message = found.timeline.find(seq);
    if (!message || message.from !== state.me.id) continue;
    const receipts = { delivered: [], listened: [], ...(message.receipts || {}) };
    const kinds = frame.kind === "listened" ? ["delivered", "listened"] : ["delivered"];
    for (const kind of kinds) {
      if (!receipts[kind].includes(frame.userId)) receipts[kind] = [...receipts[kind], frame.userId];
    }
    message.receipts = receipts;
    rerender(message);
  }
  persist();
}

function receiveIndicator(frame) {
  if (frame.userId === state.me.id) return;
  if (!state.indicators.has(frame.conversationId)) state.indicators.set(frame.conversationId, new Map());
  const shown = state.indicators.get(frame.conversationId);
  const before = shown.get(frame.userId);
  if (before) clearTimeout(before.timer);
  if (frame.active) {
    const timer = setTimeout(() => clearIndicator(frame.conversationId, frame.userId), (frame.expiresIn || 6) * 1000);
    shown.set(frame.userId, { kind: frame.kind, timer });
  } else {
    shown.delete(frame.userId);
  }
  renderIndicator();
  renderList();
}

function clearIndicator(conversationId, userId) {
  const shown = state.indicators.get(conversationId);
  if (!shown || !shown.has(userId)) return;
  clearTimeout(shown.get(userId).timer);
  shown.delete(userId);
  renderIndicator();
  renderList();
}

function renderIndicator() {
  const shown = state.indicators.get(state.openId) || new Map();
  const phrases = [...shown.entries()].map(
    ([userId, indicator]) => `${nameOf(userId)} is ${indicator.kind === "recording" ? "recording" : "typing"}…`,
  );
  $("indicator").textContent = phrases.join(" ");
}

function showVerificationEvent(frame) {
  if (frame.state === "approved") {
    say("You are verified: welcome to Sotto!");
    becomeVerified();
  } else if (!state.verified) {
    showVerification(frame);
  }
}

function receiveError(frame) {
  if (frame.code === "clip_rejected" && frame.conversationId) {
    const found = state.conversations.get(frame.conversationId);
    const message = found && found.timeline.find(frame.seq);
    if (message) {
      Object.assign(message, { withdrawn: true, clip: null });
      rerender(message);
    }
  }
  problem(frame);
}

// ---- recording and sending ----------------------------------------------------------------

async function startRecording() {
  const found = state.conversations.get(state.openId);
  if (!found || state.recorder.active) return;
  problem(null);
  try {
    await state.recorder.start();
  } catch (error) {
    if (error instanceof MicrophoneError) problem(error.message);
    else problem(error);
    return;
  }
  if (!state.holding) {
    // Let go while the microphone was opening (the browser may have asked for permission).
    state.recorder.cancel();
    say("Hold the button while you speak, then release to send.");
    return;
  }
  const button = $("record");
  button.setAttribute("aria-pressed", "true");
  button.textContent = "Recording… release to send";
  if (!found.draft) {
    const signal = () => state.connection.signal("recording", { conversationId: found.id, active: true });
    signal();
    state.recordingSignal = { conversationId: found.id, timer: setInterval(signal, RECORDING_REPEAT_MS) };
  }
}

function endRecordingSignal() {
  const signal = state.recordingSignal;
  if (!signal) return;
  clearInterval(signal.timer);
  state.connection.signal("recording", { conversationId: signal.conversationId, active: false });
  state.recordingSignal = null;
}

function resetRecordButton() {
  const button = $("record");
  button.setAttribute("aria-pressed", "false");
  button.textContent = "Hold to record";
}

async function stopRecording({ send }) {
  if (!state.recorder.active) return;
  endRecordingSignal();
  resetRecordButton();
  if (!send) {
    state.recorder.cancel();
    say("Recording discarded.");
    return;
  }
  const recording = await state.recorder.stop();
  if (recording.durationMs < SHORTEST_CLIP_MS || recording.blob.size === 0) {
    say("Hold the button while you speak, then release to send.");
    return;
  }
  const found = state.conversations.get(state.openId);
  if (found) await sendRecording(found, { ...recording, clientMessageId: crypto.randomUUID() });
}

// Upload through the presigned POST, then send; a failure leaves a Retry on the outgoing item
// (the same clientMessageId: the server never stores it twice).
async function sendRecording(found, outgoing) {
  const item = outboxItem(outgoing);
  try {
    if (!outgoing.clipId) {
      const grant = await request("upload", { contentType: outgoing.contentType, size: outgoing.blob.size });
      await postForm(grant, outgoing.blob);
      outgoing.clipId = grant.clipId;
    }
    const target = found.draft ? { to: found.with } : { conversationId: found.id };
    const ack = await request("send", { clientMessageId: outgoing.clientMessageId, clipId: outgoing.clipId, ...target });
    item.remove();
    acknowledged(found, outgoing, ack);
  } catch (error) {
    item.querySelector(".receipt").textContent = `Not sent: ${explain(error)}`;
    const retry = element("button", { type: "button", className: "retry" }, "Retry");
    retry.addEventListener("click", () => {
      item.remove();
      sendRecording(state.conversations.get(found.id) || found, outgoing).catch(problem);
    });
    item.append(retry);
    retry.focus();
  }
}

function outboxItem(outgoing) {
  const item = element(
    "li",
    { className: "message mine outgoing" },
    element("p", { className: "meta" }, element("span", { className: "sender" }, "You")),
    element("p", { className: "receipt" }, "Sending…"),
  );
  $("messages").append(item);
  return item;
}

function acknowledged(found, outgoing, ack) {
  let target = found;
  if (found.draft) {
    state.conversations.delete(found.id);
    target = conversation(ack.conversationId);
    Object.assign(target, { kind: "direct", with: found.with, loaded: target.loaded || ack.seq === 1 });
    if (state.openId === found.id) state.openId = target.id;
  }
  const own = {
    type: "message", conversationId: target.id, messageId: ack.messageId, seq: ack.seq,
    from: state.me.id, sentAt: new Date().toISOString(), receipts: { delivered: [], listened: [] },
    clip: { status: "processing", localUrl: URL.createObjectURL(outgoing.blob), durationMs: outgoing.durationMs },
  };
  if (target.loaded) {
    const { appended, gap } = target.timeline.receive(own);
    showAppended(target, appended, { live: false });
    if (gap) fill(target).catch(problem);
  } else if (state.openId === target.id) {
    fill(target).catch(problem);
  }
  renderTitle(target);
  renderList();
  checkOwnClip(target, ack.seq);
}

// The sender's own connection gets no `message` event: ask sync for the processed clip.
async function checkOwnClip(found, seq) {
  for (const wait of OWN_CLIP_CHECKS_MS) {
    await sleep(wait);
    const page = await request("sync", { conversationId: found.id, afterSeq: seq - 1, limit: 1 }).catch(() => null);
    const fresh = page && page.messages.find((message) => message.seq === seq);
    if (fresh && (fresh.withdrawn || (fresh.clip && fresh.clip.status === "ready"))) {
      if (found.timeline.update(fresh)) rerender(fresh);
      persist();
      return;
    }
  }
}

// ---- playing ------------------------------------------------------------------------------

function play(message, button) {
  const player = $("player");
  if (state.playing && state.playing.message === message && !player.paused) {
    player.pause();
    return;
  }
  stopPlaying();
  const url = message.clip.url || message.clip.localUrl;
  const svg = button.parentElement.querySelector("svg.waveform");
  state.playing = { message, button, svg, retried: false };
  player.src = url;
  player.play().catch(() => {});
}

function stopPlaying() {
  const current = state.playing;
  if (!current) return;
  $("player").pause();
  showPlaying(current.button, false);
  current.button.closest("li").dataset.playing = "false";
  state.playing = null;
}

function playerStarted() {
  const current = state.playing;
  if (!current) return;
  showPlaying(current.button, true);
  const item = current.button.closest("li");
  item.dataset.playing = "true";
  item.dataset.played = "true";
  const message = current.message;
  const key = `${message.conversationId}:${message.seq}`;
  if (message.from !== state.me.id && !state.listened.has(key)) {
    state.listened.add(key);
    request("receipt", { conversationId: message.conversationId, kind: "listened", seqs: [message.seq] })
      .catch(() => state.listened.delete(key));
  }
}

function playerProgress() {
  const current = state.playing;
  const player = $("player");
  if (current && current.svg && player.duration > 0) showProgress(current.svg, player.currentTime / player.duration);
}

// A clip URL expires after 15 minutes: sync gives a fresh one, tried once.
async function playerFailed() {
  const current = state.playing;
  if (!current) return;
  const message = current.message;
  if (current.retried || !message.clip.url) {
    problem("This voice message could not be played.");
    stopPlaying();
    return;
  }
  current.retried = true;
  const page = await request("sync", { conversationId: message.conversationId, afterSeq: message.seq - 1, limit: 1 });
  const fresh = page.messages.find((m) => m.seq === message.seq);
  if (!fresh || !fresh.clip || !fresh.clip.url) return;
  message.clip = fresh.clip;
  $("player").src = fresh.clip.url;
  $("player").play().catch(() => {});
}

// ---- wiring -------------------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function wire() {
  let pendingSignUp = null;
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("username").value.trim(), $("password").value).catch((error) => {
      say("");
      problem(error);
    });
  });
  $("to-sign-up").addEventListener("click", () => { show("sign-up"); $("new-name").focus(); });
  $("to-sign-in").addEventListener("click", () => { show("sign-in"); $("username").focus(); });
  $("sign-up-form").addEventListener("submit", (event) => {
    event.preventDefault();
    pendingSignUp = {
      name: $("new-name").value.trim(),
      username: $("new-username").value.trim(),
      email: $("new-email").value.trim(),
      password: $("new-password").value,
    };
    signUp(pendingSignUp).catch(problem);
  });
  $("confirm-form").addEventListener("submit", (event) => {
    event.preventDefault();
    confirmSignUp(pendingSignUp, $("code").value.trim()).catch(problem);
  });
  $("selfie-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendSelfie($("selfie").files[0]).catch((error) => { say(""); problem(error); });
  });
  $("sign-out").addEventListener("click", signOut);
  $("retry-now").addEventListener("click", () => state.connection && state.connection.retryNow());
  $("new-conversation-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startConversation($("new-conversation").value.trim()).catch(problem);
  });
  wireRecordButton($("record"));
  const player = $("player");
  player.addEventListener("playing", playerStarted);
  player.addEventListener("timeupdate", playerProgress);
  player.addEventListener("ended", () => {
    if (state.playing && state.playing.svg) showProgress(state.playing.svg, 1);
    stopPlaying();
  });
  player.addEventListener("pause", () => state.playing && showPlaying(state.playing.button, false));
  player.addEventListener("error", () => playerFailed().catch(problem));
  document.addEventListener("visibilitychange", () => {
    const open = state.openId && state.conversations.get(state.openId);
    if (!document.hidden && open && open.unread) {
      markRead(open);
      renderList();
    }
  });
}

// Hold to record: a pointer held down, or Space/Enter held on the focused button; Esc cancels.
function wireRecordButton(button) {
  const hold = (event) => {
    event.preventDefault();
    state.holding = true;
    startRecording().catch(problem);
  };
  const release = (send) => () => {
    state.holding = false;
    stopRecording({ send }).catch(problem);
  };
  button.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    button.setPointerCapture(event.pointerId);
    hold(event);
  });
  button.addEventListener("pointerup", release(true));
  button.addEventListener("pointercancel", release(false));
  button.addEventListener("contextmenu", (event) => event.preventDefault());
  button.addEventListener("keydown", (event) => {
    if (event.key === "Escape") release(false)();
    if (event.key !== " " && event.key !== "Enter") return;
    event.preventDefault();
    if (!event.repeat) hold(event);
  });
  button.addEventListener("keyup", (event) => {
    if (event.key !== " " && event.key !== "Enter") return;
    event.preventDefault();
    release(true)();
  });
  button.addEventListener("blur", release(false));
}

function offerDemoUsers(users) {
  if (!users || !users.length) return;
  $("demo").hidden = false;
  $("demo-users").replaceChildren(
    ...users.map((user) => {
      const button = element("button", { type: "button", className: "demo-user", dataset: { username: user.username } },
        `Sign in as ${user.displayName || user.username}`);
      button.addEventListener("click", () => signIn(user.username, user.password).catch(problem));
      return element("li", {}, button);
    }),
  );
}

async function boot() {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
  wire();
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error("The page's settings (config.json) could not be loaded.");
  state.config = await response.json();
  state.cognito = new Cognito(state.config);
  offerDemoUsers(state.config.demoUsers);
  const session = savedSession();
  if (session && session.idToken) {
    await enter(session);
  } else {
    show("sign-in");
  }
}

boot().catch(problem);
