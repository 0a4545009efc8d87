// Sotto's moderation console: sign in with Cognito, review the queue, decide.
// No build step and no dependencies. Data from the API is only ever set as text.
"use strict";

const state = { config: null, token: null, cursor: null, openCase: null };
const $ = (id) => document.getElementById(id);

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function show(section) {
  for (const id of ["sign-in", "queue", "case"]) {
    $(id).hidden = id !== section;
  }
}

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error("The console's settings could not be loaded.");
  state.config = await response.json();
}

async function signIn(username, password) {
  const { cognitoEndpoint, clientId } = state.config;
  const response = await fetch(cognitoEndpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  });
  const answer = await response.json().catch(() => ({}));
  const token = answer.AuthenticationResult && answer.AuthenticationResult.IdToken;
  if (!response.ok || !token) {
    throw new Error(answer.message || answer.Message || "Sign-in failed.");
  }
  state.token = token;
  $("who").textContent = `Signed in as ${username}`;
  $("who").hidden = false;
}

async function api(method, path, body) {
  const response = await fetch(state.config.apiBase + path, {
    method,
    headers: {
      Authorization: `Bearer ${state.token}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(answer.message || `The server answered ${response.status}.`);
    error.status = response.status;
    error.code = answer.code;
    throw error;
  }
  return answer;
}

function row(label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value === null || value === undefined ? "—" : String(value);
  return [dt, dd];
}

async function showQueue(more = false) {
  const query = new URLSearchParams({ limit: "20" });
  if (more && state.cursor) query.set("cursor", state.cursor);
  const page = await api("GET", `/moderation/cases?${query}`);
  const list = $("cases");
  if (!more) list.replaceChildren();
  for (const item of page.cases) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "open-case";
    button.dataset.userId = item.userId;
    button.textContent = `Open ${item.name || item.userId}`;
    button.addEventListener("click", () => openCase(item.userId).catch(fail));
    const when = document.createElement("span");
    when.textContent = ` waiting since ${item.submittedAt}${item.appealed ? " (appeal)" : ""}`;
    li.append(button, when);
    list.append(li);
  }
  state.cursor = page.cursor;
  $("more").hidden = !page.cursor;
  $("queue-empty").hidden = list.children.length > 0;
  show("queue");
}

async function openCase(userId) {
  const found = await api("GET", `/moderation/cases/${encodeURIComponent(userId)}`);
  state.openCase = found;
  $("case-user").textContent = found.name ? `${found.name}, ${found.userId}` : found.userId;
  const selfie = $("selfie");
  if (found.selfieUrl) {
    selfie.src = found.selfieUrl;
    selfie.hidden = false;
    $("selfie-note").textContent = "The link expires in two minutes.";
  } else {
    selfie.removeAttribute("src");
    selfie.hidden = true;
    $("selfie-note").textContent = "No selfie: the case is decided, or waiting for one.";
  }
  const screening = found.screening || {};
  $("case-facts").replaceChildren(
    ...row("State", found.state),
    ...row("Appeal", found.appealed ? "yes" : "no"),
    ...row("Faces", screening.faces),
    ...row("Brightness", screening.brightness),
    ...row("Sharpness", screening.sharpness),
    ...row("Selfie hash", found.selfieSha256),
  );
  $("history").replaceChildren(
    ...found.history.map((step) => {
      const li = document.createElement("li");
      li.textContent = `${step.at} ${step.actor}: ${step.action} (${step.previous} → ${step.state})` +
        (step.reason ? ` — ${step.reason}` : "");
      return li;
    }),
  );
  $("reason").value = "";
  const open = found.state === "pending_review";
  $("approve").disabled = !open;
  $("reject").disabled = !open;
  show("case");
  say("");
}

async function decide(approve) {
  const reason = $("reason").value.trim();
  if (!approve && !reason) {
    say("Say why you reject: the user will read it.", true);
    return;
  }
  const found = state.openCase;
  const decided = await api("POST", `/moderation/cases/${encodeURIComponent(found.userId)}/decision`, {
    version: found.version,
    approve,
    reason: reason || null,
  });
  say(`${found.name || found.userId} is ${decided.state}.`);
  await showQueue();
}

function fail(error) {
  if (error.status === 403) {
    say("This console is for moderators only.", true);
    return;
  }
  if (error.code === "conflict" || error.code === "invalid_state") {
    say("Someone decided this case meanwhile; the queue is up to date again.", true);
    showQueue().catch(() => {});
    return;
  }
  say(error.message || String(error), true);
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  say("Signing in…");
  signIn($("username").value.trim(), $("password").value)
    .then(() => showQueue())
    .then(() => say(""))
    .catch(fail);
});
$("refresh").addEventListener("click", () => showQueue().catch(fail));
$("more").addEventListener("click", () => showQueue(true).catch(fail));
$("approve").addEventListener("click", () => decide(true).catch(fail));
$("reject").addEventListener("click", () => decide(false).catch(fail));
$("back").addEventListener("click", () => showQueue().catch(fail));

loadConfig().catch(fail);
