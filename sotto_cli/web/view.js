// Building the page's pieces. Everything from the server is set as text, never as markup.

import { clockTime, duration, rejectionReason } from "./words.js";

const SVG = "http://www.w3.org/2000/svg";
const BAR_WIDTH = 3;
const BAR_GAP = 1;
const HEIGHT = 32;

export const $ = (id) => document.getElementById(id);

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// The clip's `waveform` (peaks 0-255) as bars; `played` (0-1) colours the part heard so far.
export function waveform(peaks) {
  const svg = document.createElementNS(SVG, "svg");
  const width = peaks.length * (BAR_WIDTH + BAR_GAP);
  svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  svg.setAttribute("class", "waveform");
  svg.setAttribute("aria-hidden", "true");
  peaks.forEach((peak, index) => {
    const bar = document.createElementNS(SVG, "rect");
    const height = Math.max(1, Math.round((Math.min(255, Math.max(0, peak)) / 255) * HEIGHT));
    bar.setAttribute("x", String(index * (BAR_WIDTH + BAR_GAP)));
    bar.setAttribute("y", String((HEIGHT - height) / 2));
    bar.setAttribute("width", String(BAR_WIDTH));
    bar.setAttribute("height", String(height));
    svg.append(bar);
  });
  return svg;
}

const ICONS = { play: "M8 5v14l11-7z", pause: "M6 5h4v14H6zM14 5h4v14h-4z" };

// The play button as a play or a pause button (an icon; its label says which).
export function showPlaying(button, playing) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", playing ? ICONS.pause : ICONS.play);
  svg.append(path);
  button.replaceChildren(svg);
  button.setAttribute("aria-label", playing ? "Pause" : button.dataset.label);
  button.setAttribute("aria-pressed", playing ? "true" : "false");
}

export function showProgress(svg, played) {
  const bars = svg.querySelectorAll("rect");
  const heard = Math.round(played * bars.length);
  bars.forEach((bar, index) => bar.classList.toggle("played", index < heard));
}

// One message as a list item; `who` is the sender's name, `mine` whether I sent it.
export function messageItem(message, { who, mine, onPlay }) {
  const item = element("li", {
    className: `message${mine ? " mine" : ""}`,
    dataset: { seq: message.seq, conversationId: message.conversationId },
  });
  const sentAt = clockTime(message.sentAt);
  item.append(
    element(
      "p",
      { className: "meta" },
      element("span", { className: "sender" }, mine ? "You" : who),
      sentAt ? element("time", { datetime: message.sentAt }, ` ${sentAt}`) : null,
    ),
  );
  item.append(body(message, who, mine, onPlay));
  if (mine) item.append(element("p", { className: "receipt" }, receiptText(message)));
  return item;
}

function body(message, who, mine, onPlay) {
  if (message.hidden) return element("p", { className: "note" }, "A message from someone you blocked.");
  if (message.withdrawn || !message.clip) {
    return element("p", { className: "note" }, mine ? "Not delivered: your clip could not be used." : "Withdrawn.");
  }
  const clip = message.clip;
  if (clip.status === "rejected") {
    return element("p", { className: "note" }, `Not delivered: ${rejectionReason(clip.reason)}.`);
  }
  const ready = clip.status === "ready" && Array.isArray(clip.waveform);
  const length = ready ? duration(clip.durationMs) : "";
  const play = element("button", {
    type: "button",
    className: "play",
    "aria-label": `Play voice message from ${mine ? "you" : who}${length ? `, ${length}` : ""}`,
    disabled: !ready && !clip.localUrl,
  });
  play.dataset.label = play.getAttribute("aria-label");
  showPlaying(play, false);
  play.addEventListener("click", () => onPlay(message, play));
  const clipBox = element("div", { className: "clip" }, play);
  if (ready) clipBox.append(waveform(clip.waveform), element("span", { className: "duration" }, length));
  else clipBox.append(element("span", { className: "note" }, "Processing…"));
  return clipBox;
}

export function receiptText(message) {
  if (message.failed) return message.failed;
  if (message.sending) return "Sending…";
  const receipts = message.receipts || {};
  if ((receipts.listened || []).length) return "Listened";
  if ((receipts.delivered || []).length) return "Delivered";
  return "Sent";
}

export function conversationItem(conversation, { title, open, recording, onOpen }) {
  const unread = conversation.unread || 0;
  const button = element(
    "button",
    {
      type: "button",
      className: "open-conversation",
      dataset: { conversationId: conversation.id },
      "aria-current": open ? "true" : null,
    },
    element("span", { className: "title" }, title),
    recording ? element("span", { className: "note" }, " recording…") : null,
    unread > 0
      ? element("span", { className: "unread", "aria-label": `${unread} unread` }, String(unread))
      : null,
  );
  button.addEventListener("click", onOpen);
  return element("li", {}, button);
}
