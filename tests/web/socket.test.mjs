// The web client's connection (sotto_cli/web/socket.js) against a stand-in WebSocket, with
// Node's mock timers: answers matched by requestId, events handed on, and the reconnect.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";

class FakeSocket {
  static OPEN = 1;
  static opened = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.listeners = {};
    FakeSocket.opened.push(this);
  }

  addEventListener(type, listener) {
    (this.listeners[type] ||= []).push(listener);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.drop(1000);
  }

  // What the server or the network does:
  open() {
    this.readyState = FakeSocket.OPEN;
    this.#emit("open", {});
  }

  deliver(frame) {
    this.#emit("message", { data: JSON.stringify(frame) });
  }

  drop(code = 1006) {
    this.readyState = 3;
    this.#emit("close", { code });
  }

  #emit(type, event) {
    for (const listener of this.listeners[type] || []) listener(event);
  }
}

const windowListeners = {};
globalThis.WebSocket = FakeSocket;
globalThis.window = {
  addEventListener: (type, listener) => { windowListeners[type] = listener; },
  removeEventListener: (type) => { delete windowListeners[type]; },
};
const { Connection } = await import("../../sotto_cli/web/socket.js");

let events, states, opens;

function started() {
  events = [];
  states = [];
  opens = 0;
  const connection = new Connection({
    url: async () => "ws://sotto/dev?token=t",
    onEvent: (frame) => events.push(frame),
    onState: (state, detail) => states.push([state, detail && detail.delay]),
    onOpen: () => { opens += 1; },
  });
  connection.start();
  return connection;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const latest = () => FakeSocket.opened.at(-1);

beforeEach(() => {
  FakeSocket.opened = [];
  mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
});
afterEach(() => mock.timers.reset());

test("answers are matched to their requests; other frames are events", async () => {
  const connection = started();
  await flush();
  latest().open();
  const pong = connection.request("ping");
  const refused = connection.request("send", { clipId: "c_1" });
  const [first, second] = latest().sent;
  assert.deepEqual([first.action, second.action, second.clipId], ["ping", "send", "c_1"]);
  latest().deliver({ type: "message", seq: 1 });
  latest().deliver({ type: "error", requestId: second.requestId, code: "forbidden", message: "No." });
  latest().deliver({ type: "pong", requestId: first.requestId });
  assert.equal((await pong).type, "pong");
  await assert.rejects(refused, { code: "forbidden", message: "No." });
  assert.deepEqual(events, [{ type: "message", seq: 1 }]);
  assert.equal(opens, 1);
});

test("API Gateway's own failure frame becomes an internal_error event", async () => {
  const connection = started();
  await flush();
  latest().open();
  latest().deliver({ message: "Internal server error", connectionId: "x", requestId: "gw" });
  assert.deepEqual(events, [{ type: "error", code: "internal_error", message: "Internal server error" }]);
  connection.stop();
});

test("a drop fails what was waiting and reconnects after a growing, jittered delay", async () => {
  const connection = started();
  await flush();
  latest().open();
  const waiting = connection.request("sync", { since: {} });
  latest().drop(1001);
  await assert.rejects(waiting, { code: "offline" });
  await assert.rejects(connection.request("ping"), { code: "offline" });
  const delays = [];
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const [state, delay] = states.at(-1);
    assert.equal(state, "waiting");
    delays.push(delay);
    mock.timers.tick(delay);
    await flush();
    latest().drop();  // the handshake fails
  }
  assert.equal(FakeSocket.opened.length, 5);
  for (const [attempt, delay] of delays.entries()) {
    const ceiling = Math.min(30_000, 500 * 2 ** attempt);
    assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay} ms`);
  }
  connection.stop();
});

test("the browser coming online again reconnects at once, and an open resets the delay", async () => {
  const connection = started();
  await flush();
  latest().drop();
  windowListeners.online();
  await flush();
  assert.equal(FakeSocket.opened.length, 2);
  latest().open();
  assert.equal(opens, 1);
  latest().drop();
  const [, delay] = states.at(-1);
  assert.ok(delay <= 500, `${delay} ms after a connection that had opened`);
  connection.stop();
  assert.equal(windowListeners.online, undefined);
});

test("a quiet connection sends a ping every four minutes (the idle timeout is ten)", async () => {
  const connection = started();
  await flush();
  latest().open();
  mock.timers.tick(4 * 60_000);
  assert.deepEqual(latest().sent.map((frame) => frame.action), ["ping"]);
  connection.stop();
});
