"""Chat's domain values: frozen, plain, no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from common.events import Caller

OPUS_CONTENT_TYPE = "audio/ogg"  # every ready clip: our encoder's Opus in an Ogg container
OPUS_CODEC = "opus"


class ClipStatus(StrEnum):
    """awaiting_upload -> uploaded -> processing -> ready | rejected."""

    AWAITING_UPLOAD = "awaiting_upload"
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Clip:
    clip_id: str
    owner_id: str
    content_type: str  # as declared at upload; a ready clip is always Opus in Ogg
    declared_size: int
    status: ClipStatus
    created_at: datetime
    key: str  # the raw upload's key
    duration_ms: int | None = None
    waveform: tuple[int, ...] | None = None
    processed_key: str | None = None
    reject_reason: str | None = None


@dataclass(frozen=True)
class ProcessedClip:
    key: str
    duration_ms: int
    waveform: tuple[int, ...]


@dataclass(frozen=True)
class PendingDelivery:
    """A message stored before its clip was ready, to deliver (or withdraw) when it is."""

    conversation_id: str
    seq: int
    sender_connection_id: str
    api_endpoint: str


@dataclass(frozen=True)
class UploadGrant:
    clip_id: str
    url: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Message:
    conversation_id: str
    seq: int
    message_id: str
    sender_id: str
    clip_id: str
    client_message_id: str
    sent_at: datetime
    withdrawn: bool = False  # its clip was rejected after the send was acked


@dataclass(frozen=True)
class Ack:
    message_id: str
    conversation_id: str
    seq: int


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    username: str
    display_name: str


@dataclass(frozen=True)
class Origin:
    """Where a request came from: who, on which connection, through which API."""

    caller: Caller
    connection_id: str
    api_endpoint: str  # the API's @connections endpoint, for the direct fan-out fallback


@dataclass(frozen=True)
class FanoutEnvelope:
    """What travels on Redis: a rendered event for every member of a conversation but the
    sending connection, or, when ``user_id`` is set, for that one user's connections."""

    conversation_id: str
    sender_connection_id: str
    payload: str
    user_id: str | None = None

    def to_json(self) -> str:
        data = {"c": self.conversation_id, "s": self.sender_connection_id, "p": self.payload}
        if self.user_id is not None:
            data["u"] = self.user_id
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> FanoutEnvelope:
        data: dict[str, Any] = json.loads(raw)
        return cls(data["c"], data["s"], data["p"], data.get("u"))
