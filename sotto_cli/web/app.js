// Sotto's web client: what the phone app does, over the documented protocol only
// (docs/protocol.md). Plain modules, no build step; config.json says where the stage is.
// This module signs in and out, keeps the connection, and wires the page.

import { claims, Cognito } from "./cognito.js";
import {
  afterConnect, handleEvent, markRead, openConversation, renderList, restore, showChat, startConversation,
  startGroup,
} from "./conversations.js";
import { wirePlayer } from "./player.js";
import { wireRecordButton } from "./sending.js";
import { freshToken, problem, say, show, state } from "./shared.js";
import { Connection } from "./socket.js";
import { forgetSession, loadCache, savedSession, saveSession } from "./store.js";
import { appeal, confirmSignUp, sendSelfie, signUp } from "./verify.js";
import { $, element } from "./view.js";

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
    onOpen: () => afterConnect().catch(unlessDropped),
  });
  const cache = loadCache(state.me.id);
  restore(cache);
  say("");
  showChat(); // until the server says the account is not verified yet
  if (cache.openId && state.conversations.has(cache.openId)) await openConversation(cache.openId);
  state.connection.start();
}

// Stop everything of the signed-in user; with `forgetting`, their cache goes too.
function leave({ forgetting }) {
  if (state.connection) state.connection.stop();
  if (state.recorder.active) state.recorder.cancel();
  clearTimeout(state.persistTimer);
  const userId = state.me && state.me.id;
  state.me = null; // nothing is saved from here on
  forgetSession(forgetting ? userId : undefined);
}

function signOut() {
  leave({ forgetting: true });
  window.location.reload();
}

async function socketUrl() {
  try {
    return `${state.config.wsUrl}?token=${encodeURIComponent(await freshToken())}`;
  } catch (error) {
    if (error.type === "NotAuthorizedException") sessionEnded();
    throw error;
  }
}

// The refresh token expired or was revoked: only signing in again helps.
function sessionEnded() {
  leave({ forgetting: false });
  show("sign-in");
  $("sign-out").hidden = true;
  $("who").hidden = true;
  problem("Your session has ended: sign in again.");
}

// A request cut short by a drop is redone after the reconnect: nothing to tell the user.
function unlessDropped(error) {
  if (error.code !== "offline") problem(error);
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
    confirmSignUp(pendingSignUp, $("code").value.trim())
      .then(() => signIn(pendingSignUp.username, pendingSignUp.password))
      .catch(problem);
  });
  $("selfie-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendSelfie($("selfie").files[0]).catch((error) => { say(""); problem(error); });
  });
  $("appeal-form").addEventListener("submit", (event) => {
    event.preventDefault();
    appeal($("appeal-message").value.trim()).catch(problem);
  });
  $("sign-out").addEventListener("click", signOut);
  $("retry-now").addEventListener("click", () => state.connection && state.connection.retryNow());
  $("new-conversation-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startConversation($("new-conversation").value.trim()).catch(problem);
  });
  $("new-group-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const members = $("group-members").value.split(",").map((name) => name.trim()).filter(Boolean);
    startGroup($("group-title").value.trim(), members)
      .then(() => { $("new-group").open = false; $("new-group-form").reset(); })
      .catch(problem);
  });
  wireRecordButton($("record"));
  wirePlayer($("player"));
  document.addEventListener("visibilitychange", () => {
    const open = state.openId && state.conversations.get(state.openId);
    if (!document.hidden && open && open.unread) {
      markRead(open);
      renderList();
    }
  });
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
