// One conversation's messages, kept by the catch-up algorithm of docs/protocol.md: `have` is the
// highest seq held with nothing missing below it; a live message beyond have + 1 waits in a
// buffer until a sync fills the gap, so every message is shown once and in seq order.

export class Timeline {
  constructor(have = 0, messages = []) {
    this.have = have;
    this.messages = messages.filter((message) => message.seq <= have);
    this.buffer = new Map();
  }

  // A live message. `appended` are the messages now in order (it and any buffered ones after
  // it); `gap` says a sync must fill what is missing before it.
  receive(message) {
    if (message.seq <= this.have) {
      return { appended: [], gap: false };
    }
    if (message.seq > this.have + 1) {
      this.buffer.set(message.seq, message);
      return { appended: [], gap: true };
    }
    return { appended: this.#append(message), gap: false };
  }

  // A page of `sync` (seq order): what it adds, then what the buffer held after it. A sync's
  // copy of a message wins over a buffered live one (it is newer: receipts, a ready clip).
  fill(messages) {
    for (const message of messages) this.buffer.delete(message.seq);
    const appended = [];
    for (const message of messages) {
      if (message.seq > this.have) appended.push(...this.#append(message));
    }
    return appended;
  }

  // A newer copy of a message already held (a clip now ready, receipts): true if it was held.
  update(message) {
    for (let index = this.messages.length - 1; index >= 0; index -= 1) {
      if (this.messages[index].seq === message.seq) {
        this.messages[index] = message;
        return true;
      }
      if (this.messages[index].seq < message.seq) break;
    }
    return false;
  }

  find(seq) {
    return this.messages.find((message) => message.seq === seq);
  }

  get waiting() {
    return this.buffer.size > 0;
  }

  #append(message) {
    const appended = [message];
    this.messages.push(message);
    this.have = message.seq;
    while (this.buffer.has(this.have + 1)) {
      const next = this.buffer.get(this.have + 1);
      this.buffer.delete(next.seq);
      this.messages.push(next);
      this.have = next.seq;
      appended.push(next);
    }
    for (const seq of this.buffer.keys()) {
      if (seq <= this.have) this.buffer.delete(seq);
    }
    return appended;
  }
}

// How long to wait before reconnect attempt `attempt` (0, 1, ...): exponential from half a
// second to half a minute, jittered so that many clients dropped together do not return together.
export function backoffMs(attempt, random = Math.random) {
  const ceiling = Math.min(30_000, 500 * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
