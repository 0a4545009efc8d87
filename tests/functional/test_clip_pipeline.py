"""The clip pipeline on moto with real ffmpeg and real audio, generated here (no blobs)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from chat import handlers
from chat.audio import ClipLimits, parse_probe
from chat.clip_store import Claim
from chat.deps import ChatDeps
from chat.ffmpeg import Ffmpeg, FfmpegTimedOut, find_ffmpeg
from chat.logic import processed_key
from chat.model import Clip, ClipStatus
from chat.pipeline import ClipProcessor
from common.clients import Clients
from common.events import Caller
from common.s3 import UploadedObject
from local_gateway.invoker import LambdaInvoker
from local_gateway.provision import create_queues
from local_gateway.queues import SqsEventSource, sqs_event
from tests.functional.chatting import sign_up
from tests.functional.helpers import NOW, RecordingChatDeps, action, frame

ALICE = Caller("u-alice", "alice")
BOB = Caller("u-bob", "bob")
FFMPEG = find_ffmpeg(os.environ.get("SOTTO_FFMPEG"))


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every kind of file the pipeline must accept or refuse, made with ffmpeg now."""
    folder = tmp_path_factory.mktemp("samples")
    path = {
        name: folder / name
        for name in (
            "tone.wav",
            "tone.mp3",
            "tone.ogg",
            "tone.m4a",
            "random.bin",
            "ogg-noise.ogg",
            "truncated.mp3",
            "empty.ogg",
            "mp4-named.ogg",
            "big-tag.ogg",
            "polyglot.ogg",
            "minute.ogg",
            "hour.ogg",
            "picture.png",
            "metadata.txt",
        )
    }
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=330:duration=2.5", "-ac", "2", str(path["tone.wav"])
    )
    ffmpeg("-i", str(path["tone.wav"]), "-c:a", "libmp3lame", "-b:a", "64k", str(path["tone.mp3"]))
    ffmpeg("-i", str(path["tone.wav"]), "-c:a", "libopus", "-b:a", "32k", str(path["tone.ogg"]))
    ffmpeg("-i", str(path["tone.wav"]), "-c:a", "aac", "-b:a", "64k", str(path["tone.m4a"]))
    path["random.bin"].write_bytes(os.urandom(20_000))
    path["ogg-noise.ogg"].write_bytes(path["tone.ogg"].read_bytes()[:200] + os.urandom(20_000))
    mp3 = path["tone.mp3"].read_bytes()
    path["truncated.mp3"].write_bytes(mp3[: len(mp3) // 2])
    path["empty.ogg"].write_bytes(b"")
    path["mp4-named.ogg"].write_bytes(path["tone.m4a"].read_bytes())
    path["metadata.txt"].write_text(";FFMETADATA1\ncomment=" + "x" * 300_000 + "\n")
    ffmpeg(
        "-i",
        str(path["tone.wav"]),
        "-i",
        str(path["metadata.txt"]),
        "-map_metadata",
        "1",
        "-c:a",
        "libopus",
        str(path["big-tag.ogg"]),
    )
    path["polyglot.ogg"].write_bytes(
        path["tone.ogg"].read_bytes() + b"PK\x03\x04" + os.urandom(30_000)
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=mono",
        "-t",
        "60",
        "-c:a",
        "libopus",
        "-b:a",
        "6k",
        str(path["minute.ogg"]),
    )
    ffmpeg("-stream_loop", "59", "-i", str(path["minute.ogg"]), "-c", "copy", str(path["hour.ogg"]))
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=16x16", "-frames:v", "1", str(path["picture.png"]))
    return path


class CountingFfmpeg(Ffmpeg):
    """The real ffmpeg, counting how often the pipeline decodes."""

    transcodes = 0

    def transcode(self, source: Path, target: Path, limits: ClipLimits) -> bytes:
        CountingFfmpeg.transcodes += 1
        return super().transcode(source, target, limits)


@dataclass
class Pipeline:
    deps: RecordingChatDeps
    processor: ClipProcessor
    clients: Clients

    def upload(
        self, sample: Path, content_type: str = "audio/ogg", caller: Caller = ALICE
    ) -> UploadedObject:
        grant = frame(
            handlers.upload(
                action(
                    caller,
                    "phone",
                    {
                        "action": "upload",
                        "contentType": content_type,
                        "size": max(sample.stat().st_size, 1),
                    },
                ),
                deps=self.deps,
            )
        )
        key = grant["fields"]["key"]
        put = self.clients.s3.put_object(
            Bucket=self.clients.settings.clips_bucket, Key=key, Body=sample.read_bytes()
        )
        return UploadedObject(
            self.clients.settings.clips_bucket, key, sample.stat().st_size, put["ETag"]
        )

    def clip(self, upload: UploadedObject) -> Clip:
        clip = self.deps.clips.get(upload.key.rsplit("/", 1)[1])
        assert clip is not None
        return clip

    def exists(self, key: str) -> bool:
        return self.deps.files.stored_size(key) is not None


@pytest.fixture
def pipeline(aws: Clients) -> Pipeline:
    deps = RecordingChatDeps(aws)
    sign_up(deps, ALICE, BOB)
    processor = ClipProcessor(
        clips=deps.clips,
        files=deps.files,
        ffmpeg=CountingFfmpeg(FFMPEG, timeout_seconds=60),
        chat=deps.chat,
        clock=deps.clock,
        limits=ClipLimits(max_bytes=aws.settings.max_clip_bytes, max_duration_ms=300_000),
        lease=timedelta(minutes=5),
    )
    deps.__dict__["processor"] = processor  # sets the cached property the SQS handler reads
    CountingFfmpeg.transcodes = 0
    return Pipeline(deps, processor, aws)


def describe(data: bytes, folder: Path) -> Any:
    path = folder / "served.ogg"
    path.write_bytes(data)
    return parse_probe(Ffmpeg(FFMPEG, 10).probe(path))


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("tone.wav", "audio/wav"),
        ("tone.mp3", "audio/mpeg"),
        ("tone.ogg", "audio/ogg"),
        ("tone.m4a", "audio/mp4"),
    ],
)
def test_audio_becomes_mono_loudness_normalised_opus_with_duration_and_waveform(
    pipeline: Pipeline, samples: dict[str, Path], tmp_path: Path, name: str, content_type: str
) -> None:
    upload = pipeline.upload(samples[name], content_type)
    pipeline.processor.process(upload)
    clip = pipeline.clip(upload)
    assert clip.status is ClipStatus.READY
    assert clip.duration_ms is not None and abs(clip.duration_ms - 2500) <= 60
    assert clip.waveform is not None and len(clip.waveform) == 64 and max(clip.waveform) == 255
    assert not pipeline.exists(upload.key)  # the raw upload is gone
    stored = pipeline.clients.s3.get_object(Bucket=upload.bucket, Key=processed_key(clip.clip_id))
    assert (stored["ContentType"], stored["CacheControl"]) == (
        "audio/ogg",
        "public, max-age=31536000, immutable",
    )
    served = describe(stored["Body"].read(), tmp_path)
    assert served.container == "ogg"
    assert [(s.codec, s.sample_rate, s.channels) for s in served.audio] == [("opus", 48000, 1)]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("random.bin", "not_audio"),
        ("ogg-noise.ogg", "not_audio"),
        ("empty.ogg", "empty"),
        ("picture.png", "no_audio_stream"),
        ("hour.ogg", "too_long"),
    ],
)
def test_what_is_not_a_usable_clip_is_rejected_with_its_reason(
    pipeline: Pipeline, samples: dict[str, Path], name: str, reason: str
) -> None:
    upload = pipeline.upload(samples[name])
    pipeline.processor.process(upload)
    clip = pipeline.clip(upload)
    assert (clip.status, clip.reject_reason) == (ClipStatus.REJECTED, reason)
    assert not pipeline.exists(upload.key)
    assert not pipeline.exists(processed_key(clip.clip_id))
    assert CountingFfmpeg.transcodes == 0  # every one of these is refused before any decoding


def test_an_hour_of_opus_is_refused_by_the_probe_in_a_blink(
    pipeline: Pipeline, samples: dict[str, Path]
) -> None:
    assert 1_000_000 < samples["hour.ogg"].stat().st_size < 1_600_000  # about 1.4 MB, as promised
    pipeline.processor.process(pipeline.upload(samples["hour.ogg"]))
    assert CountingFfmpeg.transcodes == 0


@pytest.mark.parametrize(
    ("name", "seconds"),
    [
        ("truncated.mp3", 1.25),  # what survives is decoded; the rest is simply not there
        ("mp4-named.ogg", 2.5),  # the extension (and declared type) lie; the content decides
        ("big-tag.ogg", 2.5),  # 300 KB of tag, none of it served
        ("polyglot.ogg", 2.5),  # audio with something else appended: only the audio survives
    ],
)
def test_dubious_files_are_cleaned_into_our_own_encoding(
    pipeline: Pipeline, samples: dict[str, Path], tmp_path: Path, name: str, seconds: float
) -> None:
    upload = pipeline.upload(samples[name])
    pipeline.processor.process(upload)
    clip = pipeline.clip(upload)
    assert clip.status is ClipStatus.READY
    assert clip.duration_ms is not None and abs(clip.duration_ms - seconds * 1000) <= 100
    served = pipeline.clients.s3.get_object(Bucket=upload.bucket, Key=processed_key(clip.clip_id))[
        "Body"
    ].read()
    assert len(served) < 40_000  # ~24 kbps for 2.5 s, not the 300 KB tag nor the appended bytes
    assert b"x" * 64 not in served and b"PK\x03\x04" not in served
    assert describe(served, tmp_path).audio[0].codec == "opus"


def test_a_duplicate_event_gives_one_result(pipeline: Pipeline, samples: dict[str, Path]) -> None:
    upload = pipeline.upload(samples["tone.ogg"])
    sent = frame(
        handlers.send(
            action(
                ALICE,
                "phone",
                {
                    "action": "send",
                    "clientMessageId": "d1",
                    "clipId": pipeline.clip(upload).clip_id,
                    "to": BOB.user_id,
                },
            ),
            deps=pipeline.deps,
        )
    )
    assert sent["type"] == "ack"
    pipeline.processor.process(upload)
    pipeline.processor.process(upload)  # S3 and SQS may both deliver twice
    assert CountingFfmpeg.transcodes == 1
    assert len(pipeline.deps.direct) == 1  # the waiting message is delivered once
    event = json.loads(pipeline.deps.direct[0][0].payload)
    assert event["clip"]["durationMs"] == pipeline.clip(upload).duration_ms


def test_a_clip_being_processed_elsewhere_is_retried_and_an_expired_lease_taken_over(
    pipeline: Pipeline, samples: dict[str, Path]
) -> None:
    upload = pipeline.upload(samples["tone.ogg"])
    clip_id = pipeline.clip(upload).clip_id
    pipeline.deps.clips.note_upload(clip_id, upload.etag, upload.size, NOW)
    assert pipeline.deps.clips.claim(clip_id, NOW, NOW + timedelta(minutes=5))[0] is Claim.CLAIMED
    assert pipeline.deps.clips.claim(clip_id, NOW, NOW + timedelta(minutes=5))[0] is Claim.BUSY
    later = NOW + timedelta(minutes=6)  # the first processor died: its lease ran out
    assert (
        pipeline.deps.clips.claim(clip_id, later, later + timedelta(minutes=5))[0] is Claim.CLAIMED
    )


def test_the_queue_handler_reports_only_the_records_that_failed(
    pipeline: Pipeline, samples: dict[str, Path]
) -> None:
    good, busy = pipeline.upload(samples["tone.ogg"]), pipeline.upload(samples["tone.mp3"])
    busy_id = pipeline.clip(busy).clip_id
    pipeline.deps.clips.note_upload(busy_id, busy.etag, busy.size, NOW)
    pipeline.deps.clips.claim(
        busy_id, pipeline.deps.clock.now(), pipeline.deps.clock.now() + timedelta(hours=1)
    )
    messages = [
        {
            "MessageId": f"m{i}",
            "ReceiptHandle": f"r{i}",
            "Body": json.dumps(
                {
                    "Records": [
                        {
                            "eventSource": "aws:s3",
                            "eventName": "ObjectCreated:Post",
                            "s3": {
                                "bucket": {"name": u.bucket},
                                "object": {"key": u.key, "size": u.size, "eTag": u.etag},
                            },
                        }
                    ]
                }
            ),
        }
        for i, u in enumerate((good, busy))
    ]
    response = handlers.process_uploads(
        sqs_event(messages, "arn:aws:sqs:us-east-1:1:q", "us-east-1"), deps=pipeline.deps
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert pipeline.clip(good).status is ClipStatus.READY
    assert pipeline.exists(busy.key)  # kept for the retry


def test_uploads_reach_the_processor_through_s3_notifications_and_the_queue(
    pipeline: Pipeline, samples: dict[str, Path]
) -> None:
    create_queues(pipeline.clients)
    sqs = pipeline.clients.sqs
    queue = sqs.get_queue_url(QueueName=pipeline.clients.settings.uploads_queue)["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue)  # S3's s3:TestEvent
    upload = pipeline.upload(samples["tone.wav"], "audio/wav")  # S3 notifies the queue

    async def drain() -> int:
        invoker = LambdaInvoker(60)
        source = SqsEventSource(sqs, queue, _with(pipeline.deps), invoker, region="us-east-1")
        try:
            return await source.poll_once()
        finally:
            invoker.close()

    assert asyncio.run(drain()) == 1
    assert pipeline.clip(upload).status is ClipStatus.READY
    left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"  # deleted once handled


def _with(deps: ChatDeps) -> Any:
    def function(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handlers.process_uploads(event, context, deps=deps)

    return function


def test_an_ffmpeg_that_runs_too_long_is_killed_and_leaves_nothing_behind(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    impatient = Ffmpeg(FFMPEG, timeout_seconds=0.05)
    with pytest.raises(FfmpegTimedOut):
        impatient.transcode(
            samples["minute.ogg"],
            tmp_path / "out.ogg",
            ClipLimits(max_bytes=10**7, max_duration_ms=300_000),
        )
    assert [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()] == []
