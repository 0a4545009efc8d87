// Hold-to-record with MediaRecorder: Opus (in WebM or Ogg, whichever the browser records), the
// microphone released as soon as the recording ends.

const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];

export class MicrophoneError extends Error {}

export class Recorder {
  constructor() {
    this.media = null;
    this.stream = null;
    this.chunks = [];
    this.startedAt = 0;
  }

  get active() {
    return this.media !== null;
  }

  async start() {
    if (!navigator.mediaDevices || typeof MediaRecorder === "undefined") {
      throw new MicrophoneError("This browser cannot record audio.");
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      throw new MicrophoneError(
        error.name === "NotAllowedError"
          ? "Sotto needs your microphone: allow it in the browser's site settings."
          : "No microphone could be opened.",
      );
    }
    const mimeType = TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    this.media = new MediaRecorder(this.stream, mimeType ? { mimeType } : undefined);
    this.chunks = [];
    this.media.addEventListener("dataavailable", (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    });
    this.media.start();
    this.startedAt = performance.now();
  }

  // The recording: {blob, contentType (without codec parameters), durationMs}.
  stop() {
    const media = this.media;
    if (!media) return Promise.resolve(null);
    return new Promise((resolve) => {
      media.addEventListener(
        "stop",
        () => {
          const contentType = (media.mimeType || "audio/webm").split(";")[0];
          const blob = new Blob(this.chunks, { type: contentType });
          resolve({ blob, contentType, durationMs: performance.now() - this.startedAt });
        },
        { once: true },
      );
      media.stop();
      this.#release();
    });
  }

  cancel() {
    if (!this.media) return;
    this.media.stop();
    this.#release();
  }

  #release() {
    for (const track of this.stream.getTracks()) track.stop();
    this.media = null;
    this.stream = null;
  }
}
