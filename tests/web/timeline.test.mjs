// The web client's pure modules, run by `node --test` (tests/unit/test_web_client.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Timeline, backoffMs } from "../../sotto_cli/web/timeline.js";
import { duration, explain, selfieRetryReason } from "../../sotto_cli/web/words.js";

const m = (seq, extra = {}) => ({ seq, conversationId: "d_1", ...extra });
const seqs = (messages) => messages.map((message) => message.seq);

test("messages in order are appended at once", () => {
  const timeline = new Timeline();
  assert.deepEqual(seqs(timeline.receive(m(1)).appended), [1]);
  assert.deepEqual(seqs(timeline.receive(m(2)).appended), [2]);
  assert.equal(timeline.have, 2);
});

test("a duplicate live copy is ignored", () => {
  const timeline = new Timeline(3, [m(1), m(2), m(3)]);
  assert.deepEqual(timeline.receive(m(2)), { appended: [], gap: false });
  assert.equal(timeline.messages.length, 3);
});

test("a gap buffers the message until a sync fills what is missing, then drains in order", () => {
  const timeline = new Timeline(1, [m(1)]);
  assert.deepEqual(timeline.receive(m(4)), { appended: [], gap: true });
  assert.deepEqual(timeline.receive(m(5)), { appended: [], gap: true });
  assert.equal(timeline.waiting, true);
  const appended = timeline.fill([m(2), m(3)]);
  assert.deepEqual(seqs(appended), [2, 3, 4, 5]);
  assert.deepEqual(seqs(timeline.messages), [1, 2, 3, 4, 5]);
  assert.equal(timeline.waiting, false);
});

test("a sync's copy wins over the buffered live one, and nothing is shown twice", () => {
  const timeline = new Timeline(0);
  timeline.receive(m(2, { copy: "live" }));
  const appended = timeline.fill([m(1), m(2, { copy: "sync" }), m(3)]);
  assert.deepEqual(seqs(appended), [1, 2, 3]);
  assert.equal(timeline.find(2).copy, "sync");
  assert.deepEqual(timeline.fill([m(2), m(3)]), []);
});

test("withdrawn and hidden messages fill their seq", () => {
  const timeline = new Timeline(0);
  timeline.receive(m(3));
  const appended = timeline.fill([m(1, { withdrawn: true, clip: null }), m(2, { hidden: true, clip: null })]);
  assert.deepEqual(seqs(appended), [1, 2, 3]);
});

test("a newer copy replaces the held one", () => {
  const timeline = new Timeline(2, [m(1), m(2, { clip: { status: "processing" } })]);
  assert.equal(timeline.update(m(2, { clip: { status: "ready" } })), true);
  assert.equal(timeline.find(2).clip.status, "ready");
  assert.equal(timeline.update(m(7)), false);
});

test("a restored timeline keeps only what it holds without a gap", () => {
  const timeline = new Timeline(2, [m(1), m(2), m(5)]);
  assert.deepEqual(seqs(timeline.messages), [1, 2]);
});

test("backoff doubles from half a second to half a minute, jittered within its upper half", () => {
  assert.equal(backoffMs(0, () => 0), 250);
  assert.equal(backoffMs(0, () => 1), 500);
  assert.equal(backoffMs(3, () => 1), 4000);
  assert.equal(backoffMs(20, () => 1), 30000);
  assert.equal(backoffMs(20, () => 0), 15000);
});

test("durations read as m:ss, rounded up", () => {
  assert.equal(duration(2150), "0:03");
  assert.equal(duration(60000), "1:00");
  assert.equal(duration(0), "0:00");
});

test("server errors read as sentences, never as bare codes", () => {
  assert.match(explain({ code: "rate_limited", retryAfter: 2.2, message: "x" }), /Try again in 3 s/);
  assert.match(explain({ code: "clip_rejected", reason: "empty" }), /no sound was recorded/);
  assert.match(explain({ code: "not_verified" }), /not verified yet/);
  assert.equal(explain({ code: "forbidden", message: "That clip belongs to someone else." }),
    "That clip belongs to someone else.");
  assert.doesNotMatch(explain({ code: "bad_request" }), /bad_request/);
});

test("a request the network refused reads as a sentence, not as the browser's words", () => {
  assert.match(explain(new TypeError("Failed to fetch")), /cannot be reached/);
  assert.match(explain(new TypeError("NetworkError when attempting to fetch resource.")), /cannot be reached/);
});

test("a selfie retry's reason reads as words", () => {
  assert.equal(selfieRetryReason("eyes_closed"), "your eyes are closed");
  assert.equal(selfieRetryReason("something_new"), "it could not be used");
});
