// What the parts of the web client share: its state, the ways it speaks to the user, and
// its requests (the WebSocket, the HTTP API, a presigned POST).

import { expiring } from "./cognito.js";
import { Recorder } from "./recorder.js";
import { saveCache, saveSession } from "./store.js";
import { $ } from "./view.js";
import { explain } from "./words.js";

const SECTIONS = ["sign-in", "sign-up", "verify", "chat"];

export const state = {
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

export function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
}

export function say(text) {
  $("status").textContent = text;
}

export function problem(error) {
  const text = error ? (typeof error === "string" ? error : explain(error)) : "";
  $("problem").textContent = text;
  $("problem").hidden = !text;
}

export function request(action, fields) {
  return state.connection.request(action, fields);
}

export async function freshToken() {
  if (expiring(state.session.idToken)) {
    state.session = await state.cognito.refresh(state.session);
    saveSession(state.session);
  }
  return state.session.idToken;
}

export async function api(method, path, body) {
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

// A presigned POST: every field, then the file as the last one, named "file".
export async function postForm(grant, blob) {
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields)) form.append(name, value);
  form.append("file", blob);
  const response = await fetch(grant.url, { method: "POST", body: form });
  if (!response.ok) throw new Error("The upload failed. Try again.");
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function persist() {
  clearTimeout(state.persistTimer);
  state.persistTimer = setTimeout(() => {
    if (!state.me) return; // signed out
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
