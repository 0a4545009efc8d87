// What the user reads: durations, times and the server's errors in words (never a bare code).

export function duration(ms) {
  const seconds = Math.max(0, Math.ceil((ms || 0) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function clockTime(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime())
    ? ""
    : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const REJECTIONS = {
  empty: "no sound was recorded",
  too_large: "it is too large",
  not_audio: "it is not audio",
  no_audio_stream: "it has no sound",
  too_long: "it is longer than five minutes",
  undecodable: "it could not be decoded",
};

const SAYINGS = {
  not_verified: () => "Your account is not verified yet: you can chat once a moderator has approved it.",
  rate_limited: (error) =>
    `You are sending too fast. Try again in ${Math.max(1, Math.ceil(error.retryAfter || 1))} s.`,
  clip_rejected: (error) =>
    `Your voice message could not be used: ${REJECTIONS[error.reason] || "it is not usable audio"}.`,
  too_large: () => "That recording is too large to send.",
  conflict: () => "Someone else changed this at the same moment. Try again.",
  internal_error: () => "Something went wrong on our side. Try again in a moment.",
  offline: () => "You are offline: try again once Sotto has reconnected.",
  timeout: () => "The server did not answer in time. Try again.",
};

// A readable sentence for a server error ({code, message, ...}) or a thrown Error.
export function explain(error) {
  const saying = error && SAYINGS[error.code];
  if (saying) return saying(error);
  if (error instanceof TypeError && /fetch|network/i.test(error.message)) {
    return "Sotto cannot be reached: check your connection and try again."; // fetch() failed
  }
  if (error && error.message) return error.message;
  return "Something went wrong. Try again.";
}

const SELFIE_RETRIES = {
  no_face: "we could not see a face",
  several_faces: "there is more than one face in it",
  blurry: "it is blurry",
  too_dark: "it is too dark",
  too_bright: "it is too bright",
  eyes_closed: "your eyes are closed",
  face_too_small: "your face is too small in it: come closer",
  sunglasses: "you are wearing sunglasses",
  face_covered: "your face is covered",
  not_facing_camera: "you are not facing the camera",
  unreadable_image: "the image could not be read",
  too_large: "the image is too large",
};

// Why the screening asks for another selfie, in words (the reason is a code).
export function selfieRetryReason(reason) {
  return SELFIE_RETRIES[reason] || "it could not be used";
}

export function rejectionReason(reason) {
  return REJECTIONS[reason] || "it is not usable audio";
}
