"""The ffmpeg adapter: every run is a child process with a timeout, killed when it expires.

One binary serves both steps: ``ffmpeg -i`` to probe (imageio-ffmpeg ships no ffprobe), then
one transcode that writes the Opus clip and, on standard output, low-rate PCM for the waveform.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from chat.audio import ClipLimits

LOUDNESS_FILTER = "loudnorm=I=-16:TP=-1.5:LRA=11"  # EBU R128, as podcast and voice apps use
OUTPUT_RATE = 48000
PROBE_TIMEOUT_SECONDS = 10


class FfmpegMissing(RuntimeError):
    """No ffmpeg binary: set SOTTO_FFMPEG, install the local extra, or add the Lambda layer."""


class TranscodeFailed(Exception):
    """ffmpeg could not decode or encode the file (its last words are the message)."""


class FfmpegTimedOut(Exception):
    """ffmpeg ran past its timeout and was killed."""


def find_ffmpeg(configured: str | None) -> str:
    """SOTTO_FFMPEG if set, else the binary in the imageio-ffmpeg wheel, else ffmpeg on PATH
    (where a Lambda layer puts it)."""
    if configured:
        return configured
    try:
        import imageio_ffmpeg  # noqa: PLC0415 (optional: not installed in Lambda)

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffmpeg")
    if found is None:
        raise FfmpegMissing("no ffmpeg found: set SOTTO_FFMPEG to its path")
    return found


class Ffmpeg:
    def __init__(self, executable: str, timeout_seconds: float) -> None:
        self._executable = executable
        self._timeout = timeout_seconds

    def probe(self, source: Path) -> str:
        """What ffmpeg says about the file's container and streams, without decoding it."""
        completed = self._run(
            ["-hide_banner", "-nostdin", "-i", str(source)],
            min(self._timeout, PROBE_TIMEOUT_SECONDS),
        )
        return completed.stderr.decode(errors="replace")

    def transcode(self, source: Path, target: Path, limits: ClipLimits) -> bytes:
        """Mono, loudness-normalised Opus in Ogg at ``target``; returns mono 16-bit PCM at the
        waveform rate. Reading stops a second past the longest allowed clip, whatever the
        header claims."""
        cap_seconds = limits.max_duration_ms / 1000 + 1
        graph = (
            f"[0:a:0]aformat=channel_layouts=mono,{LOUDNESS_FILTER},aresample={OUTPUT_RATE},"
            f"asplit=2[clip][peaks];[peaks]aresample={limits.waveform_rate}[wave]"
        )
        completed = self._run(
            [
                "-hide_banner", "-nostdin", "-v", "error",
                "-t", f"{cap_seconds:.3f}", "-i", str(source),
                "-filter_complex", graph,
                "-map", "[clip]", "-c:a", "libopus", "-b:a", f"{limits.bitrate_kbps}k",
                "-application", "voip", "-map_metadata", "-1", "-f", "ogg", "-y", str(target),
                "-map", "[wave]", "-f", "s16le", "-ac", "1", "pipe:1",
            ],
            self._timeout,
        )  # fmt: skip
        if completed.returncode != 0:
            last_words = completed.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise TranscodeFailed(last_words[0] if last_words else f"exit {completed.returncode}")
        return completed.stdout

    def _run(self, arguments: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(  # noqa: S603 (our binary, our arguments, no shell)
                [self._executable, *arguments], capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise FfmpegTimedOut(f"ffmpeg ran longer than {timeout:.0f}s") from None
