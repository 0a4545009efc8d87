"""Chat's domain values: frozen, plain, no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from common.events import Caller


class ClipStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"


@dataclass(frozen=True)
class Clip:
    clip_id: str
    owner_id: str
    content_type: str
    declared_size: int
    status: ClipStatus
    created_at: datetime
    key: str
    duration_ms: int | None = None
    waveform: tuple[int, ...] | None = None


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
    """What travels on Redis: a rendered event for every member of a conversation but one."""

    conversation_id: str
    sender_connection_id: str
    payload: str

    def to_json(self) -> str:
        return json.dumps(
            {"c": self.conversation_id, "s": self.sender_connection_id, "p": self.payload},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> FanoutEnvelope:
        data: dict[str, Any] = json.loads(raw)
        return cls(conversation_id=data["c"], sender_connection_id=data["s"], payload=data["p"])
