"""Probe parsing, verdicts and waveforms, on real ffmpeg output and generated PCM."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from chat.audio import (
    AudioStream,
    ClipLimits,
    Rejection,
    judge_decoded,
    judge_probe,
    judge_size,
    parse_probe,
    pcm_duration_ms,
    waveform,
)
from chat.logic import clip_id_from_key, processed_key
from common.s3 import UploadedObject, uploads_in

PROBES = Path(__file__).parents[1] / "fixtures" / "probe"
LIMITS = ClipLimits(max_bytes=1000, max_duration_ms=300_000)


def probe(name: str) -> str:
    return (PROBES / f"{name}.txt").read_text()


@pytest.mark.parametrize(
    ("fixture", "container", "codec", "rate", "channels", "duration"),
    [
        ("tone-ogg", "ogg", "opus", 48000, 2, 5010),
        ("tone-m4a", "mov,mp4,m4a,3gp,3g2,mj2", "aac", 44100, 2, 5000),
        ("tone-mp3", "mp3", "mp3", 44100, 2, 5000),
        ("tone-wav", "wav", "pcm_s16le", 44100, 2, 5000),
        ("tone-webm", "matroska,webm", "opus", 48000, 2, 5010),
        ("hour-ogg", "ogg", "opus", 48000, 1, 3_600_010),
    ],
)
def test_audio_files_are_described(
    fixture: str, container: str, codec: str, rate: int, channels: int, duration: int
) -> None:
    found = parse_probe(probe(fixture))
    assert (found.container, found.duration_ms, found.error) == (container, duration, None)
    assert found.audio == (AudioStream(0, codec, rate, channels),)
    assert found.other_streams == 0


def test_a_video_has_its_audio_found_and_the_rest_counted() -> None:
    found = parse_probe(probe("video-mp4"))
    assert [s.codec for s in found.audio] == ["aac"]
    assert found.other_streams == 1
    assert judge_probe(found, LIMITS) is None


@pytest.mark.parametrize(
    ("fixture", "error"),
    [
        ("random-bin", "Invalid data found when processing input"),
        ("empty-ogg", "End of file"),
        ("oggnoise-ogg", "End of file"),
        ("truncated-m4a", "Invalid data found when processing input"),
    ],
)
def test_what_ffmpeg_cannot_open_is_not_audio(fixture: str, error: str) -> None:
    found = parse_probe(probe(fixture))
    assert (found.container, found.error) == (None, error)
    assert judge_probe(found, LIMITS) is Rejection.NOT_AUDIO


def test_an_hour_is_too_long_from_the_header_alone() -> None:
    assert judge_probe(parse_probe(probe("hour-ogg")), LIMITS) is Rejection.TOO_LONG


def test_media_without_audio_has_no_audio_stream() -> None:
    image = (
        "Input #0, png_pipe, from 'raw':\n"
        "  Duration: N/A, bitrate: N/A\n"
        "  Stream #0:0: Video: png, rgb24(pc, gbr/unknown/unknown), 16x16, 25 fps\n"
    )
    found = parse_probe(image)
    assert found.duration_ms is None and found.other_streams == 1
    assert judge_probe(found, LIMITS) is Rejection.NO_AUDIO_STREAM


def test_text_inside_metadata_cannot_pose_as_a_stream_or_a_duration() -> None:
    crafted = (
        "Input #0, ogg, from 'raw':\n"
        "  Duration: 00:00:02.00, start: 0.000000, bitrate: 47 kb/s\n"
        "  Stream #0:0: Audio: opus, 48000 Hz, mono, fltp\n"
        "    Metadata:\n"
        "      comment         : innocent\n"
        "                      :   Duration: 00:00:01.00\n"
        "                      :   Stream #0:1: Audio: pcm_s16le, 8000 Hz, mono\n"
    )
    found = parse_probe(crafted)
    assert found.duration_ms == 2000
    assert len(found.audio) == 1


def test_nothing_recognisable_is_an_error_too() -> None:
    assert parse_probe("").error is not None
    assert judge_probe(parse_probe(""), LIMITS) is Rejection.NOT_AUDIO


def test_size_is_judged_before_anything_is_downloaded() -> None:
    assert judge_size(0, LIMITS) is Rejection.EMPTY
    assert judge_size(1001, LIMITS) is Rejection.TOO_LARGE
    assert judge_size(1000, LIMITS) is None


def sine_pcm(seconds: float, rate: int = 8000, amplitude: float = 0.5) -> bytes:
    frames = int(seconds * rate)
    return b"".join(
        struct.pack("<h", int(32767 * amplitude * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(frames)
    )


def test_decoded_audio_is_judged_by_its_length() -> None:
    assert judge_decoded(b"", LIMITS) is Rejection.EMPTY
    assert judge_decoded(sine_pcm(0.5), LIMITS) is None
    short = ClipLimits(max_bytes=1000, max_duration_ms=1000)
    assert judge_decoded(sine_pcm(1.5), short) is Rejection.TOO_LONG


def test_duration_comes_from_the_samples() -> None:
    assert pcm_duration_ms(sine_pcm(2.5), 8000) == 2500
    assert pcm_duration_ms(b"\0\0" * 8, 8000) == 1


def test_a_waveform_has_its_peaks_scaled_to_the_loudest() -> None:
    quiet_then_loud = sine_pcm(1, amplitude=0.1) + sine_pcm(1, amplitude=0.8)
    peaks = waveform(quiet_then_loud, 8000, 64)
    assert len(peaks) == 64
    assert max(peaks) == 255 and all(0 <= p <= 255 for p in peaks)
    assert max(peaks[:30]) < 50 < min(peaks[34:])  # the quiet half draws low, the loud half high


def test_silence_and_tiny_clips_still_give_a_full_waveform() -> None:
    assert waveform(b"\0\0" * 8000, 8000, 64) == (0,) * 64
    assert waveform(b"", 8000, 64) == (0,) * 64
    assert len(waveform(sine_pcm(0.002), 8000, 64)) == 64  # fewer samples than peaks


def test_only_raw_upload_keys_name_a_clip() -> None:
    assert clip_id_from_key("clips/raw/u-1/c_abc") == ("u-1", "c_abc")
    for key in (
        "clips/processed/c_abc.ogg",
        "clips/raw/u-1",
        "clips/raw//c_abc",
        "other/u/c",
        "clips/raw/u/c/x",
    ):
        assert clip_id_from_key(key) is None
    assert processed_key("c_abc") == "clips/processed/c_abc.ogg"


def test_s3_notifications_name_their_objects_with_decoded_keys() -> None:
    body = json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Post",
                    "s3": {
                        "bucket": {"name": "b"},
                        "object": {"key": "clips%2Fraw%2Fu1%2Fc_1+x", "size": 5, "eTag": "e1"},
                    },
                },
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectRemoved:Delete",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": "clips/raw/u1/c_2"}},
                },
            ]
        }
    )
    assert uploads_in(body) == [UploadedObject("b", "clips/raw/u1/c_1 x", 5, "e1")]
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}
    assert uploads_in(json.dumps(test_event)) == []
