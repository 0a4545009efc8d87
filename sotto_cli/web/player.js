// Playing a voice message: one player for the page, the waveform filling as it plays, and the
// listened receipt.

import { problem, request, state } from "./shared.js";
import { $, showPlaying, showProgress } from "./view.js";

export function play(message, button) {
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

export function wirePlayer(player) {
  player.addEventListener("playing", playerStarted);
  player.addEventListener("timeupdate", playerProgress);
  player.addEventListener("ended", () => {
    if (state.playing && state.playing.svg) showProgress(state.playing.svg, 1);
    stopPlaying();
  });
  player.addEventListener("pause", () => state.playing && showPlaying(state.playing.button, false));
  player.addEventListener("error", () => playerFailed().catch(problem));
}
