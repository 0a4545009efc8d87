"""Audio files for ``say``: their content type, and a generated tone to try things with."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

from sotto_cli.errors import CliError

BY_EXTENSION = {
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".oga": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".aac": "audio/aac",
    ".webm": "audio/webm",
    ".flac": "audio/flac",
}


def extension_for(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return next((ext for ext, known in BY_EXTENSION.items() if known == base), ".audio")


# (offset, magic bytes, type): the first match wins.
MAGIC = (
    (8, b"WAVE", "audio/wav"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"\x1a\x45\xdf\xa3", "audio/webm"),
    (4, b"ftyp", "audio/mp4"),
)


def content_type_of(path: Path, head: bytes) -> str:
    """By magic bytes first (extensions lie), then by extension."""
    for offset, magic, content_type in MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return content_type
    known = BY_EXTENSION.get(path.suffix.lower())
    if known is None:
        raise CliError("bad_request", f"Cannot tell what kind of audio {path.name} is.")
    return known


def tone_wav(seconds: float, frequency: float = 440.0, rate: int = 16000) -> bytes:
    """A mono 16-bit sine tone as WAV bytes, fading in and out so it does not click."""
    frames = int(seconds * rate)
    fade = max(1, rate // 50)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = bytearray()
        for i in range(frames):
            envelope = min(1.0, i / fade, (frames - i) / fade)
            value = int(12000 * envelope * math.sin(2 * math.pi * frequency * i / rate))
            samples += struct.pack("<h", value)
        out.writeframes(bytes(samples))
    return buffer.getvalue()
