"""The clip pipeline: an uploaded file becomes a small Opus clip with a duration and a
waveform, or a rejection with a reason. Raw bytes are never served and never kept."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from chat.audio import (
    ClipLimits,
    Rejection,
    judge_decoded,
    judge_probe,
    judge_size,
    parse_probe,
    pcm_duration_ms,
    waveform,
)
from chat.clip_store import Claim, ClipFiles, ClipStore
from chat.ffmpeg import Ffmpeg, FfmpegTimedOut, TranscodeFailed
from chat.logic import clip_id_from_key, processed_key
from chat.model import Clip, ProcessedClip
from chat.service import ChatService
from common.clock import Clock
from common.logs import correlation, get_logger
from common.observability import CLIP_PROCESSING_TIME, milliseconds
from common.s3 import UploadedObject

log = get_logger("clips")


@dataclass(frozen=True)
class Encoded:
    duration_ms: int
    waveform: tuple[int, ...]


def encode_clip(
    ffmpeg: Ffmpeg, source: Path, target: Path, limits: ClipLimits
) -> Encoded | Rejection:
    """Probe, then (only if the probe allows it) encode ``source`` to Opus at ``target`` and
    describe it; or say why not."""
    rejection = judge_probe(parse_probe(ffmpeg.probe(source)), limits)
    if rejection is not None:
        return rejection
    try:
        pcm = ffmpeg.transcode(source, target, limits)
    except (TranscodeFailed, FfmpegTimedOut) as failure:
        log.info("transcode failed: %s", failure)
        return Rejection.UNDECODABLE
    rejection = judge_decoded(pcm, limits)
    if rejection is not None:
        return rejection
    rate = limits.waveform_rate
    return Encoded(pcm_duration_ms(pcm, rate), waveform(pcm, rate, limits.waveform_peaks))


class ClipBusy(Exception):
    """Another processor holds a live lease on the clip; the event is retried later."""


class ClipProcessor:
    def __init__(
        self,
        *,
        clips: ClipStore,
        files: ClipFiles,
        ffmpeg: Ffmpeg,
        chat: ChatService,
        clock: Clock,
        limits: ClipLimits,
        lease: timedelta,
    ) -> None:
        self._clips = clips
        self._files = files
        self._ffmpeg = ffmpeg
        self._chat = chat
        self._clock = clock
        self._limits = limits
        self._lease = lease

    def process(self, upload: UploadedObject) -> None:
        ids = clip_id_from_key(upload.key)
        if ids is None:
            log.warning("ignored an upload outside clips/raw/")
            return
        owner_id, clip_id = ids
        with correlation(clipId=clip_id):
            clip = self._claim(clip_id, owner_id, upload)
            if clip is not None:
                started = time.perf_counter()
                prepared = self._prepare(clip, upload)
                milliseconds(CLIP_PROCESSING_TIME, (time.perf_counter() - started) * 1000)
                self._finish(clip, *prepared)
            self._files.delete(upload.key)  # the raw bytes are never kept, whatever happened

    def _claim(self, clip_id: str, owner_id: str, upload: UploadedObject) -> Clip | None:
        now = self._clock.now()
        self._clips.note_upload(clip_id, upload.etag, upload.size, now)
        claim, clip = self._clips.claim(clip_id, now, now + self._lease)
        if claim is Claim.BUSY:
            raise ClipBusy(clip_id)
        if claim is not Claim.CLAIMED or clip is None or clip.owner_id != owner_id:
            log.info("nothing to do for this upload (%s)", claim.value)
            return None
        return clip

    def _prepare(
        self, clip: Clip, upload: UploadedObject
    ) -> tuple[ProcessedClip | None, Rejection | None]:
        rejection = judge_size(upload.size, self._limits)
        if rejection is not None:
            return None, rejection
        with tempfile.TemporaryDirectory(prefix="sotto-clip-") as folder:
            source, target = Path(folder) / "raw", Path(folder) / "clip.ogg"
            size = self._files.download(clip.key, source, self._limits.max_bytes)
            rejection = judge_size(size, self._limits)
            if rejection is not None:
                return None, rejection
            encoded = encode_clip(self._ffmpeg, source, target, self._limits)
            if isinstance(encoded, Rejection):
                return None, encoded
            key = processed_key(clip.clip_id)
            self._files.put_processed(key, target)
        return ProcessedClip(key, encoded.duration_ms, encoded.waveform), None

    def _finish(
        self, clip: Clip, processed: ProcessedClip | None, rejection: Rejection | None
    ) -> None:
        reason = None if rejection is None else rejection.value
        finished, waiting = self._clips.finish(clip, processed, reason)
        if processed is not None:
            log.info(
                "clip ready: %d ms, %d message(s) waiting", processed.duration_ms, len(waiting)
            )
            self._chat.release(finished, waiting)
        else:
            log.info("clip rejected: %s, %d message(s) withdrawn", reason, len(waiting))
            self._chat.withdraw(finished, waiting)
