"""Notifications' domain values: frozen, plain, no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from chat.model import NoticeKind


class Platform(StrEnum):
    """A device's push service, as the app names it; ``sns_name`` is SNS's name for it."""

    IOS = "ios"
    IOS_SANDBOX = "ios_sandbox"  # development builds: APNs' sandbox environment
    ANDROID = "android"

    @property
    def sns_name(self) -> str:
        return {"ios": "APNS", "ios_sandbox": "APNS_SANDBOX", "android": "GCM"}[self.value]


@dataclass(frozen=True)
class Device:
    """One app installation of one user, and the SNS platform endpoint that reaches it."""

    user_id: str
    device_id: str
    platform: Platform
    token: str  # never logged
    app_version: str
    endpoint_arn: str
    registered_at: datetime


@dataclass(frozen=True)
class Pause:
    """A mute or do-not-disturb: until a moment, or for ever (``until`` None)."""

    until: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True)
class Preferences:
    muted: Mapping[str, Pause] = field(default_factory=dict)  # conversation id -> pause
    do_not_disturb: Pause | None = None


@dataclass(frozen=True)
class Recipient:
    """What a push to one user depends on, read in one query: devices and preferences."""

    user_id: str
    devices: tuple[Device, ...]
    preferences: Preferences
    welcome_pending: bool = False


@dataclass(frozen=True)
class WaitingMessage:
    """A message an offline member has not heard, waiting for its push."""

    seq: int
    sender_id: str
    duration_ms: int


@dataclass(frozen=True)
class MessageJob:
    """Fan-out's hand-off: these members missed this message live."""

    conversation_id: str
    message: WaitingMessage
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class FlushJob:
    """Time to push what waited for one user in one conversation."""

    user_id: str
    conversation_id: str


@dataclass(frozen=True)
class NoticeJob:
    """Users who missed a notice (their verification's outcome): push it at once."""

    kind: NoticeKind
    detail: str
    user_ids: tuple[str, ...]


PushJob = MessageJob | FlushJob | NoticeJob


def job_to_json(job: PushJob) -> str:
    data: dict[str, Any]
    if isinstance(job, MessageJob):
        data = {
            "kind": "message",
            "conversationId": job.conversation_id,
            "seq": job.message.seq,
            "senderId": job.message.sender_id,
            "durationMs": job.message.duration_ms,
            "userIds": list(job.user_ids),
        }
    elif isinstance(job, NoticeJob):
        data = {
            "kind": "notice",
            "notice": job.kind,
            "detail": job.detail,
            "userIds": list(job.user_ids),
        }
    else:
        data = {"kind": "flush", "userId": job.user_id, "conversationId": job.conversation_id}
    return json.dumps(data, separators=(",", ":"))


def job_from_json(raw: str) -> PushJob:
    """Raises ValueError, KeyError or TypeError on a body that is not a job."""
    data: dict[str, Any] = json.loads(raw)
    if data["kind"] == "flush":
        return FlushJob(str(data["userId"]), str(data["conversationId"]))
    if data["kind"] == "message":
        message = WaitingMessage(int(data["seq"]), str(data["senderId"]), int(data["durationMs"]))
        users = tuple(str(u) for u in data["userIds"])
        return MessageJob(str(data["conversationId"]), message, users)
    if data["kind"] == "notice":
        users = tuple(str(u) for u in data["userIds"])
        return NoticeJob(NoticeKind(data["notice"]), str(data["detail"]), users)
    raise ValueError(f"unknown push job kind {data['kind']!r}")


def endpoint_in_event(message: str) -> str | None:
    """The endpoint an SNS application event is about (``EndpointArn`` in its JSON message)."""
    try:
        data = json.loads(message)
    except ValueError:
        return None
    arn = data.get("EndpointArn") if isinstance(data, dict) else None
    return arn if isinstance(arn, str) and arn else None


class PushKind(StrEnum):
    MESSAGE = "message"
    WELCOME = "welcome"
    VERIFICATION = "verification"


@dataclass(frozen=True)
class Push:
    """What one user's devices are told: the text, the badge, and what to open."""

    kind: PushKind
    title: str
    body: str
    badge: int
    conversation_id: str | None = None
    seq: int | None = None  # the newest message the push is about: sync up to here
    count: int = 1
