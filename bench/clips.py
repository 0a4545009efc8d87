"""Clip processing beside bare ffmpeg doing the same loudness + Opus job, in one run.

Sotto's side is ``encode_clip``, the processor's local work: probe (``ffmpeg -i``), verdict,
one transcode (mono, loudnorm, 48 kHz, Opus, plus 8 kHz PCM for the waveform), verdict and
waveform. The baseline is a single ffmpeg with the same filter chain and encoder settings. S3
transfers are left out of both: against moto they would measure moto.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from chat.audio import ClipLimits
from chat.ffmpeg import LOUDNESS_FILTER, OUTPUT_RATE, Ffmpeg, find_ffmpeg
from chat.pipeline import Encoded, encode_clip

ROUNDS = 5
LENGTHS = (5, 60)
LIMITS = ClipLimits(max_bytes=16 * 1024 * 1024, max_duration_ms=300_000)


def make_source(ffmpeg: str, seconds: int, target: Path) -> None:
    """A phone-like upload: AAC in MP4, stereo, 44.1 kHz, a voice-band tone with noise."""
    subprocess.run(
        [ffmpeg, "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}",
         "-f", "lavfi", "-i", f"anoisesrc=amplitude=0.05:duration={seconds}",
         "-filter_complex", "amix=inputs=2", "-ac", "2", "-ar", "44100",
         "-c:a", "aac", "-b:a", "96k", str(target)],
        check=True, timeout=120,
    )  # fmt: skip


def bare(ffmpeg: str, source: Path, target: Path) -> None:
    subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", str(source),
         "-af", f"aformat=channel_layouts=mono,{LOUDNESS_FILTER},aresample={OUTPUT_RATE}",
         "-c:a", "libopus", "-b:a", f"{LIMITS.bitrate_kbps}k", "-application", "voip",
         "-f", "ogg", "-y", str(target)],
        check=True, timeout=120,
    )  # fmt: skip


def sotto(ffmpeg: str, source: Path, target: Path) -> None:
    result = encode_clip(Ffmpeg(ffmpeg, timeout_seconds=120), source, target, LIMITS)
    if not isinstance(result, Encoded):
        raise RuntimeError(f"the benchmark clip was rejected: {result}")


def seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    ffmpeg = find_ffmpeg(None)
    print("\nClip processing (Sotto's encode_clip) beside bare ffmpeg doing the same job, same run")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        version = partial(subprocess.run, [ffmpeg, "-version"], capture_output=True, check=True)
        startup = statistics.median(seconds(version) for _ in range(ROUNDS))
        print(f"  ffmpeg start-up ({ffmpeg.rsplit('/', 1)[-1]}): {startup * 1000:.0f} ms")
        for length in LENGTHS:
            source = work / f"voice-{length}s.m4a"
            make_source(ffmpeg, length, source)
            times: dict[str, list[float]] = {"bare": [], "sotto": []}
            for _ in range(ROUNDS):  # alternate, so both see the same machine
                times["bare"].append(seconds(partial(bare, ffmpeg, source, work / "bare.ogg")))
                times["sotto"].append(seconds(partial(sotto, ffmpeg, source, work / "sotto.ogg")))
            base, ours = statistics.median(times["bare"]), statistics.median(times["sotto"])
            print(
                f"  {length:>3} s clip: bare ffmpeg {base:.3f} s, Sotto {ours:.3f} s, "
                f"ratio {ours / base:.2f}x, overhead {(ours - base) * 1000:+.0f} ms "
                f"(median of {ROUNDS})"
            )
    print(
        "  targets: ratio <= 1.5x for 60 s; overhead < 150 ms above ffmpeg's own start-up for 5 s"
    )


if __name__ == "__main__":
    main()
