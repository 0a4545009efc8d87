// Signing up (Cognito) and getting verified: the selfie, its screening, the moderator's word.

import { afterConnect, showChat } from "./conversations.js";
import { api, postForm, problem, say, show, sleep, state } from "./shared.js";
import { $ } from "./view.js";
import { selfieRetryReason } from "./words.js";

export async function signUp(form) {
  problem(null);
  await state.cognito.signUp(form);
  $("sign-up-form").hidden = true;
  $("confirm-form").hidden = false;
  $("code-hint").textContent = state.config.anyConfirmationCode
    ? "Locally no email goes out: any code confirms."
    : `We sent it to ${form.email}.`;
  $("code").focus();
}

export async function confirmSignUp(pending, code) {
  await state.cognito.confirm(pending.username, code);
}

const VERIFICATION_WORDS = {
  unverified: "Send a selfie so that a moderator can verify you (it is deleted once they have decided)",
  screening: "Checking your selfie",
  retry: "We need another selfie",
  pending_review: "Thanks! A moderator will look at your selfie soon; you can chat once they approve",
  approved: "You are verified",
  rejected: "Your verification was not approved",
};

export function showVerification(status) {
  state.verificationState = status.state;
  show("verify");
  const words = VERIFICATION_WORDS[status.state] || status.state;
  // A retry's reason is a code; a rejection's is the moderator's own words.
  const reason = status.state === "retry" ? selfieRetryReason(status.reason) : status.reason;
  $("verify-state").textContent = reason ? `${words}: ${reason}.` : `${words}.`;
  $("selfie-form").hidden = !["unverified", "retry"].includes(status.state);
  $("appeal-form").hidden = status.state !== "rejected" || Boolean(status.appealed);
  if (status.state === "approved") becomeVerified();
}

export async function appeal(message) {
  problem(null);
  showVerification(await api("POST", "/verification/appeal", message ? { message } : {}));
}

export async function checkVerification() {
  showVerification(await api("GET", "/verification"));
}

export async function sendSelfie(file) {
  if (!file) return;
  problem(null);
  say("Sending your selfie…");
  const grant = await api("POST", "/selfie", { contentType: file.type, size: file.size });
  await postForm(grant, file);
  say("");
  // The verification event may have come first: never step back from what it said.
  if (["unverified", "retry"].includes(state.verificationState)) showVerification({ state: "screening" });
  for (let tries = 0; tries < 30 && state.verificationState === "screening"; tries += 1) {
    await sleep(1000);
    showVerification(await api("GET", "/verification"));
  }
}

export function becomeVerified() {
  if (state.verified) return;
  state.verified = true;
  showChat();
  afterConnect().catch(problem);
}
