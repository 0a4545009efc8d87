"""The selfie screener on moto (S3, DynamoDB) with Rekognition stubbed at the client, answering
as the real API does: triage into the queue or a retry, audited; selfies nobody needs deleted;
duplicate events and crashes handled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from common.clients import Clients
from common.clock import ManualClock
from common.s3 import UploadedObject
from local_gateway.queues import sqs_event
from tests.functional.helpers import NOW
from verification import handlers
from verification.deps import VerificationDeps
from verification.model import Case, CaseState, RetryReason
from verification.policy import selfie_arrived
from verification.rekognition import ATTRIBUTES, FaceDetector
from verification.screening import SelfieScreener

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 4000 + b"\xff\xd9"
SELFIE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "rekognition" / "selfie.json").read_text()
)
GOOD = {"FaceDetails": SELFIE["FaceDetails"]}
DARK = {
    "FaceDetails": [{**SELFIE["FaceDetails"][0], "Quality": {"Brightness": 3, "Sharpness": 80}}]
}


class World:
    def __init__(self, aws: Clients) -> None:
        self.deps = VerificationDeps(aws, clock=ManualClock(NOW))
        self.rekognition = boto3.client("rekognition", region_name="us-east-1")
        self.stub = Stubber(self.rekognition)
        self.announced: list[Case] = []
        self.deps.__dict__["screener"] = self._screener()

    def _screener(self) -> SelfieScreener:
        deps = self.deps
        return SelfieScreener(
            cases=deps.cases,
            files=deps.files,
            detector=FaceDetector(self.rekognition),
            announce=self.announced.append,
            clock=deps.clock,
            max_bytes=deps.clients.settings.max_selfie_bytes,
        )

    @property
    def bucket(self) -> str:
        return self.deps.clients.settings.selfies_bucket

    def upload(self, key: str, data: bytes = JPEG) -> UploadedObject:
        put = self.deps.clients.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return UploadedObject(self.bucket, key, len(data), put["ETag"])

    def rekognition_says(self, answer: dict[str, Any], key: str) -> None:
        expected = {
            "Image": {"S3Object": {"Bucket": self.bucket, "Name": key}},
            "Attributes": ATTRIBUTES,
        }
        self.stub.add_response("detect_faces", answer, expected)

    def exists(self, key: str) -> bool:
        listed = self.deps.clients.s3.list_objects_v2(Bucket=self.bucket, Prefix=key)
        return listed.get("KeyCount", 0) > 0


@pytest.fixture
def world(aws: Clients) -> Iterator[World]:
    built = World(aws)
    with built.stub:
        yield built
        built.stub.assert_no_pending_responses()


def test_a_clear_selfie_goes_to_the_queue_hashed_and_audited(world: World) -> None:
    upload = world.upload("selfies/u-erin/s1")
    world.rekognition_says(GOOD, upload.key)
    world.deps.screener.process(upload)
    case = world.deps.cases.get("u-erin")
    assert case is not None and case.screening is not None
    assert (case.state, case.selfie_key, case.submitted_at) == (
        CaseState.PENDING_REVIEW,
        upload.key,
        NOW,
    )
    assert case.selfie_sha256 is not None and len(case.selfie_sha256) == 64
    assert world.exists(upload.key)  # a moderator will look at it
    [entry] = world.deps.cases.history("u-erin")
    assert (entry.actor, entry.action, entry.state) == (
        "screening",
        "screened",
        CaseState.PENDING_REVIEW,
    )

    world.deps.screener.process(upload)  # S3 and SQS may deliver the event twice
    assert world.deps.cases.history("u-erin") == [entry]  # and Rekognition was asked once
    assert [c.state for c in world.announced] == [CaseState.PENDING_REVIEW]  # told once


def test_a_poor_selfie_is_deleted_and_the_user_asked_for_another(world: World) -> None:
    upload = world.upload("selfies/u-erin/s1")
    world.rekognition_says(DARK, upload.key)
    world.deps.screener.process(upload)
    case = world.deps.cases.get("u-erin")
    assert case is not None
    assert (case.state, case.reason, case.selfie_key) == (CaseState.RETRY, "too_dark", None)
    assert not world.exists(upload.key)

    second = world.upload("selfies/u-erin/s2")
    world.rekognition_says(GOOD, second.key)
    world.deps.screener.process(second)
    case = world.deps.cases.get("u-erin")
    assert case is not None and case.state is CaseState.PENDING_REVIEW
    assert [e.reason for e in world.deps.cases.history("u-erin")] == ["too_dark", None]


def test_a_file_rekognition_cannot_read_and_a_file_too_large_ask_for_another(world: World) -> None:
    upload = world.upload("selfies/u-erin/s1", b"GIF89a not a jpeg")
    world.stub.add_client_error("detect_faces", "InvalidImageFormatException", http_status_code=400)
    world.deps.screener.process(upload)
    case = world.deps.cases.get("u-erin")
    assert case is not None and case.screening is not None
    assert case.screening.reason is RetryReason.UNREADABLE_IMAGE

    big = world.upload("selfies/u-erin/s2", b"\xff\xd8" + b"\x00" * (6 * 1024 * 1024))
    world.deps.screener.process(big)  # no Rekognition call: the stub has none queued
    case = world.deps.cases.get("u-erin")
    assert case is not None and case.screening is not None
    assert case.screening.reason is RetryReason.TOO_LARGE
    assert not world.exists(big.key)


def test_a_selfie_nobody_expects_is_deleted_and_changes_nothing(world: World) -> None:
    upload = world.upload("selfies/u-erin/s1")
    world.rekognition_says(GOOD, upload.key)
    world.deps.screener.process(upload)
    waiting = world.deps.cases.get("u-erin")
    late = world.upload("selfies/u-erin/s2")
    world.deps.screener.process(late)
    assert world.deps.cases.get("u-erin") == waiting
    assert not world.exists(late.key) and world.exists(upload.key)


def test_a_newer_selfie_supersedes_one_whose_screening_crashed(world: World) -> None:
    first = world.upload("selfies/u-erin/s1")
    case = world.deps.cases.case_of("u-erin", NOW)
    crashed = selfie_arrived(case, first.key, "ab" * 32, NOW)
    world.deps.cases.change(crashed, case.version)  # and then the processor died

    second = world.upload("selfies/u-erin/s2")
    world.rekognition_says(GOOD, second.key)
    world.deps.screener.process(second)
    case = world.deps.cases.get("u-erin")
    assert case is not None and (case.state, case.selfie_key) == (
        CaseState.PENDING_REVIEW,
        second.key,
    )
    assert not world.exists(first.key)


def test_the_queue_handler_reads_s3_notifications(world: World) -> None:
    upload = world.upload("selfies/u-erin/s%201")  # keys arrive URL-encoded
    notification = {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-01T12:00:00.000Z",
                "eventName": "ObjectCreated:Post",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": world.bucket, "arn": f"arn:aws:s3:::{world.bucket}"},
                    "object": {"key": "selfies/u-erin/s%25201", "size": upload.size, "eTag": "e"},
                },
            }
        ]
    }
    world.rekognition_says(GOOD, upload.key)
    message = {"MessageId": "m1", "ReceiptHandle": "r", "Body": json.dumps(notification)}
    event = sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:selfie-uploads", "us-east-1")  # type: ignore[list-item]
    assert handlers.screen_selfies(event, deps=world.deps) == {"batchItemFailures": []}
    case = world.deps.cases.get("u-erin")
    assert case is not None and case.state is CaseState.PENDING_REVIEW
