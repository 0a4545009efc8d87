"""Pure audio rules: what ``ffmpeg -i`` says about a file, what we accept, and the waveform.

ffmpeg prints what it found on standard error; ``parse_probe`` reads only the lines of the first
input's header dump, anchored at their indentation, so text inside metadata tags cannot pose as
a stream or a duration.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from enum import StrEnum

with warnings.catch_warnings():
    # pydub (0.25.1, its last release) imports audioop, deprecated since 3.11, and looks for an
    # ffmpeg binary on PATH; it only ever gets decoded PCM here, so neither matters.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)
    from pydub import AudioSegment

PCM_SAMPLE_WIDTH = 2  # signed 16-bit little-endian, mono

_INPUT = re.compile(r"^Input #0, (?P<format>.+?), from '")
_DURATION = re.compile(r"^  Duration: (?:(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)|N/A)")
_STREAM = re.compile(
    r"^  Stream #0:(?P<index>\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: "
    r"(?P<kind>Audio|Video|Subtitle|Data|Attachment): (?P<details>.*)$"
)
_RATE = re.compile(r"(\d+) Hz")
_LAYOUT = re.compile(r"\d+ Hz, ([^,(]+)")
_OPEN_ERROR = re.compile(r"Error opening input(?: file [^:]*)?: (?P<reason>.+)$")
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "7.1": 8}


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    sample_rate: int | None
    channels: int | None


@dataclass(frozen=True)
class Probe:
    container: str | None
    duration_ms: int | None
    audio: tuple[AudioStream, ...]
    other_streams: int
    error: str | None


class Rejection(StrEnum):
    """Why a clip is refused: the code the sender's error carries."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_AUDIO = "not_audio"
    NO_AUDIO_STREAM = "no_audio_stream"
    TOO_LONG = "too_long"
    UNDECODABLE = "undecodable"


@dataclass(frozen=True)
class ClipLimits:
    max_bytes: int
    max_duration_ms: int
    bitrate_kbps: int = 24
    waveform_peaks: int = 64
    waveform_rate: int = 8000  # samples per second of the PCM the waveform is drawn from


def parse_probe(stderr: str) -> Probe:
    container: str | None = None
    duration: int | None = None
    audio: list[AudioStream] = []
    others = 0
    error: str | None = None
    for line in stderr.splitlines():
        if (found := _INPUT.match(line)) is not None:
            container = found["format"]
        elif container is not None and (found := _DURATION.match(line)) is not None:
            duration = _milliseconds(found)
        elif container is not None and (found := _STREAM.match(line)) is not None:
            if found["kind"] == "Audio":
                audio.append(_audio_stream(int(found["index"]), found["details"]))
            else:
                others += 1
        elif error is None and (found := _OPEN_ERROR.search(line)) is not None:
            error = found["reason"].strip()
    if container is None and error is None:
        error = "ffmpeg did not recognise the file"
    return Probe(container, duration, tuple(audio), others, error)


def _milliseconds(found: re.Match[str]) -> int | None:
    if found["h"] is None:
        return None
    seconds = int(found["h"]) * 3600 + int(found["m"]) * 60 + float(found["s"])
    return round(seconds * 1000)


def _audio_stream(index: int, details: str) -> AudioStream:
    codec = details.split(" ", 1)[0].rstrip(",")
    rate = _RATE.search(details)
    layout = _LAYOUT.search(details)
    channels = None
    if layout is not None:
        name = layout[1].strip()
        channels = _CHANNELS.get(name)
        if channels is None and name.endswith(" channels") and name.split()[0].isdigit():
            channels = int(name.split()[0])
    return AudioStream(index, codec, int(rate[1]) if rate else None, channels)


def judge_size(size: int, limits: ClipLimits) -> Rejection | None:
    """Before downloading: nothing, or more than an upload may be."""
    if size <= 0:
        return Rejection.EMPTY
    if size > limits.max_bytes:
        return Rejection.TOO_LARGE
    return None


def judge_probe(probe: Probe, limits: ClipLimits) -> Rejection | None:
    """Before decoding: not media, no audio, or longer than allowed (when the header says so;
    the decode is capped too, for headers that lie or say nothing)."""
    if probe.error is not None or probe.container is None:
        return Rejection.NOT_AUDIO
    if not probe.audio:
        return Rejection.NO_AUDIO_STREAM
    if probe.duration_ms is not None and probe.duration_ms > limits.max_duration_ms:
        return Rejection.TOO_LONG
    return None


def judge_decoded(pcm: bytes, limits: ClipLimits) -> Rejection | None:
    """After decoding: no sound at all, or the capped decode ran to the limit."""
    duration = pcm_duration_ms(pcm, limits.waveform_rate)
    if duration == 0:
        return Rejection.EMPTY
    if duration > limits.max_duration_ms:
        return Rejection.TOO_LONG
    return None


def pcm_duration_ms(pcm: bytes, rate: int) -> int:
    return round(len(pcm) // PCM_SAMPLE_WIDTH * 1000 / rate)


def waveform(pcm: bytes, rate: int, peaks: int) -> tuple[int, ...]:
    """``peaks`` values 0-255: the loudest sample of each equal slice, relative to the loudest
    slice, so quiet and loud clips both draw a readable shape."""
    segment = AudioSegment(data=pcm, sample_width=PCM_SAMPLE_WIDTH, frame_rate=rate, channels=1)
    frames = int(segment.frame_count())
    if frames == 0:
        return (0,) * peaks
    loudest = []
    for i in range(peaks):
        start = min(i * frames // peaks, frames - 1)
        end = max(start + 1, (i + 1) * frames // peaks)
        loudest.append(int(segment.get_sample_slice(start, end).max))
    top = max(loudest) or 1
    return tuple(min(255, round(255 * value / top)) for value in loudest)
