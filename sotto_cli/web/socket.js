// The WebSocket to Sotto: requests matched to their answers by requestId, events handed on,
// and a connection that comes back by itself (exponential backoff with jitter, at once when
// the browser is online again) after any drop: the idle timeout, the two-hour lifetime, 1013
// for a slow reader, a network change.

import { backoffMs } from "./timeline.js";

const ANSWER_TIMEOUT_MS = 20_000;
const KEEPALIVE_MS = 4 * 60_000; // the gateway closes sockets idle for 10 minutes

export class ServerError extends Error {
  constructor(frame) {
    super(frame.message || frame.code);
    Object.assign(this, frame);
  }
}

export class Connection {
  // url(): a promise of the URL to open (with a fresh token); onEvent(frame); onState(state, detail)
  // with state "connecting", "open", "waiting" (detail: milliseconds until the next try) or "closed".
  constructor({ url, onEvent, onState, onOpen }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onOpen = onOpen;
    this.socket = null;
    this.pending = new Map();
    this.nextId = 1;
    this.attempt = 0;
    this.timer = null;
    this.keepalive = null;
    this.stopped = true;
    this.whenOnline = () => this.retryNow();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.whenOnline);
    this.#connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.whenOnline);
    clearTimeout(this.timer);
    clearInterval(this.keepalive);
    if (this.socket) this.socket.close(1000, "Signed out");
    this.#failPending("offline");
    this.onState("closed");
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timer);
    this.#connect();
  }

  // A request; resolves with its answer, rejects with a ServerError (code, message...).
  request(action, fields = {}) {
    if (!this.open) {
      return Promise.reject(new ServerError({ code: "offline", message: "You are offline." }));
    }
    const requestId = `r${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new ServerError({ code: "timeout", message: "No answer from the server." }));
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ action, requestId, ...fields }));
    });
  }

  // A signal with no answer on success (typing, recording); dropped when offline.
  signal(action, fields) {
    if (this.open) this.socket.send(JSON.stringify({ action, ...fields }));
  }

  async #connect() {
    this.onState("connecting");
    let url;
    try {
      url = await this.url();
    } catch (error) {
      this.#scheduleRetry(error);
      return;
    }
    if (this.stopped) return;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.keepalive = setInterval(() => this.request("ping").catch(() => {}), KEEPALIVE_MS);
      this.onState("open");
      this.onOpen();
    });
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.keepalive);
      this.#failPending("offline");
      if (!this.stopped) this.#scheduleRetry(event);
    });
  }

  #scheduleRetry(reason) {
    const delay = backoffMs(this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    this.onState("waiting", { delay, reason });
    this.timer = setTimeout(() => this.#connect(), delay);
  }

  #receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const waiting = frame.requestId !== undefined && this.pending.get(frame.requestId);
    if (waiting) {
      this.pending.delete(frame.requestId);
      clearTimeout(waiting.timer);
      if (frame.type === "error") waiting.reject(new ServerError(frame));
      else waiting.resolve(frame);
      return;
    }
    if (frame.type === undefined) {
      // API Gateway's own answer to a handler that failed ("Internal server error").
      this.onEvent({ type: "error", code: "internal_error", message: frame.message });
      return;
    }
    this.onEvent(frame);
  }

  #failPending(code) {
    for (const [requestId, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new ServerError({ code, requestId, message: "The connection closed." }));
    }
    this.pending.clear();
  }
}
