// Conversations: catching up after every (re)connect, the list with its unread counts, one
// conversation's messages in seq order, and the events that change them.

import { play } from "./player.js";
import { checkOwnClip } from "./sending.js";
import { persist, problem, request, say, show, state } from "./shared.js";
import { Timeline } from "./timeline.js";
import { becomeVerified, checkVerification, showVerification } from "./verify.js";
import { $, conversationItem, messageItem } from "./view.js";

// The signed-in user's saved state, in place of whatever an earlier session left in memory.
export function restore(cache) {
  state.conversations.clear();
  state.names.clear();
  state.listened.clear();
  state.openId = null;
  state.verified = Boolean(cache.verified);
  for (const [userId, name] of Object.entries(cache.names || {})) state.names.set(userId, name);
  for (const saved of cache.conversations || []) {
    const { messages, have, ...conversation } = saved;
    state.conversations.set(saved.id, { ...conversation, timeline: new Timeline(have, messages) });
  }
}

export function conversation(id) {
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
export async function afterConnect() {
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
  showVerifiedChat();
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

// Chat actions work: the chat is shown (if the verification page was), with my own name.
function showVerifiedChat() {
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
export async function fill(found) {
  if (found.draft) return;
  for (;;) {
    const page = await request("sync", { conversationId: found.id, afterSeq: found.timeline.have, limit: 100 });
    showAppended(found, found.timeline.fill(page.messages), { live: false });
    if (!page.more) break;
  }
  found.loaded = true;
  persist();
}

export function showAppended(found, appended, { live }) {
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

export function markRead(found) {
  found.unread = 0;
  if (found.lastSeq > 0 && !found.draft) {
    request("markRead", { conversationId: found.id, seq: found.lastSeq }).catch(() => {});
  }
}

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

export function showChat() {
  show("chat");
  renderList();
}

export function renderList() {
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

export function renderTitle(found) {
  if (found) $("conversation-title").textContent = titleOf(found);
}

function renderMessage(message) {
  const mine = message.from === state.me.id;
  const item = messageItem(message, { who: nameOf(message.from), mine, onPlay: play });
  item.querySelector(".sender").dataset.userId = message.from;
  return item;
}

export function rerender(message) {
  const old = document.querySelector(
    `#messages li.message[data-seq="${message.seq}"][data-conversation-id="${CSS.escape(message.conversationId)}"]`,
  );
  if (old) old.replaceWith(renderMessage(message));
}

export async function openConversation(id) {
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

// A user's id by user name, or an error that names who was not found.
async function userNamed(username) {
  return request("lookupUser", { username }).catch((error) => {
    if (error.code === "not_found") error.message = `Nobody is called “${username}” on Sotto.`;
    throw error;
  });
}

export async function startGroup(title, usernames) {
  problem(null);
  const users = await Promise.all(usernames.map(userNamed));
  for (const user of users) state.names.set(user.userId, user.displayName || user.username);
  const others = [...new Set(users.map((user) => user.userId))].filter((id) => id !== state.me.id);
  const created = await request("createGroup", { title, members: others });
  Object.assign(conversation(created.conversationId), {
    kind: "group", title: created.title, loaded: true, lastMessageAt: new Date().toISOString(),
  });
  await openConversation(created.conversationId);
}

export async function startConversation(username) {
  problem(null);
  const user = await userNamed(username);
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

export function handleEvent(frame) {
  switch (frame.type) {
    case "message":
      return receiveMessage(frame);
    case "receipt":
      return receiveReceipt(frame);
    case "indicator":
      return receiveIndicator(frame);
    case "membership":
      return receiveMembership(frame);
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

// A group changed: if I am out of it, it goes (and closes); otherwise the list is refreshed.
function receiveMembership(frame) {
  const out = ["removed", "left"].includes(frame.change) && (frame.userIds || []).includes(state.me.id);
  if (out) {
    state.conversations.delete(frame.conversationId);
    if (state.openId === frame.conversationId) {
      state.openId = null;
      $("conversation").hidden = true;
    }
    renderList();
    persist();
    return;
  }
  refreshList().catch(() => {});
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
