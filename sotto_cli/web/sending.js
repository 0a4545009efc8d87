// Hold to record, then upload through the presigned POST and send; the recording indicator
// while the button is held.

import { conversation, fill, renderList, renderTitle, rerender, showAppended } from "./conversations.js";
import { MicrophoneError } from "./recorder.js";
import { persist, postForm, problem, request, say, sleep, state } from "./shared.js";
import { $, element } from "./view.js";
import { explain } from "./words.js";

const RECORDING_REPEAT_MS = 4000; // the indicator lasts 6 s unless repeated
const SHORTEST_CLIP_MS = 400;
const OWN_CLIP_CHECKS_MS = [700, 1500, 3000, 6000, 12000];

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
  const item = outboxItem();
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

function outboxItem() {
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
export async function checkOwnClip(found, seq) {
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

// Hold to record: a pointer held down, or Space/Enter held on the focused button; Esc cancels.
export function wireRecordButton(button) {
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
