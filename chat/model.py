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


class Role(StrEnum):
    """Who may do what in a group: see ``chat.membership``."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class ConversationKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class ReceiptKind(StrEnum):
    DELIVERED = "delivered"
    LISTENED = "listened"


class IndicatorKind(StrEnum):
    TYPING = "typing"
    RECORDING = "recording"


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    kind: ConversationKind
    created_at: datetime
    title: str | None = None
    created_by: str | None = None
    members_version: int = 0  # bumped by every membership change; keys the member cache
    member_count: int = 0


@dataclass(frozen=True)
class Member:
    user_id: str
    role: Role
    joined_at: datetime
    last_read_seq: int = 0

    def unread(self, head: Head | None) -> int:
        """How many of the conversation's messages this member has not read."""
        return max((head.last_seq if head else 0) - self.last_read_seq, 0)


@dataclass(frozen=True)
class Head:
    """A conversation's newest seq, as its message log says."""

    conversation_id: str
    last_seq: int
    last_message_at: datetime | None


@dataclass(frozen=True)
class MembershipChange:
    """What a group event says happened; ``audience`` is everyone who should hear of it."""

    conversation_id: str
    change: str  # created | added | removed | left | role | renamed
    by: str
    user_ids: tuple[str, ...]
    version: int
    audience: tuple[str, ...]
    role: Role | None = None
    title: str | None = None


@dataclass(frozen=True)
class Report:
    report_id: str
    reporter_id: str
    conversation_id: str
    seq: int
    message_id: str
    sender_id: str
    clip_id: str
    reason: str
    created_at: datetime


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
    delivered_to: frozenset[str] = frozenset()
    listened_by: frozenset[str] = frozenset()


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
    verified: bool = False  # a moderator approved the user: they may chat

    @classmethod
    def signing_up(cls, user_id: str, username: str, display_name: str = "") -> UserProfile:
        """A new user's profile: unverified, named as they signed up (see ``profile_name``)."""
        return cls(user_id, username, profile_name(display_name, username))


MAX_DISPLAY_NAME = 100


def profile_name(display_name: str, username: str) -> str:
    """What others see of a new user: the name they signed up with (spaces tidied, at most
    100 characters, no control characters), else their user name."""
    words = ("".join(c for c in word if c.isprintable()) for word in display_name.split())
    return " ".join(word for word in words if word)[:MAX_DISPLAY_NAME].strip() or username


@dataclass(frozen=True)
class Origin:
    """Where a request came from: who, on which connection, through which API."""

    caller: Caller
    connection_id: str
    api_endpoint: str  # the API's @connections endpoint, for the direct fan-out fallback


@dataclass(frozen=True)
class FanoutEnvelope:
    """What travels on Redis: one rendered event and who should get it.

    The audience is the conversation's members, or ``user_ids`` when given, or, with
    ``contacts_of``, everyone who shares a conversation with that user. The sending connection
    never gets its own event, and users who blocked ``sender_id`` get nothing.
    ``conversation_id`` is also the ordering key: one key's events are delivered in order.
    """

    conversation_id: str
    sender_connection_id: str
    payload: str
    user_ids: tuple[str, ...] = ()
    sender_id: str | None = None
    contacts_of: str | None = None
    missed: MissedMessage | None = None  # set for messages: who misses it gets a push
    notice: Notice | None = None  # another event worth a push to whoever it reaches nowhere

    def to_json(self) -> str:
        data: dict[str, Any] = {"c": self.conversation_id, "s": self.sender_connection_id}
        if self.user_ids:
            data["u"] = list(self.user_ids)
        if self.sender_id is not None:
            data["f"] = self.sender_id
        if self.contacts_of is not None:
            data["k"] = self.contacts_of
        if self.missed is not None:
            data["n"] = [self.missed.seq, self.missed.duration_ms, self.missed.sent_at_ms]
        if self.notice is not None:
            data["o"] = [self.notice.kind, self.notice.detail]
        data["p"] = self.payload
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> FanoutEnvelope:
        data: dict[str, Any] = json.loads(raw)
        missed, notice = data.get("n"), data.get("o")
        return cls(
            data["c"],
            data["s"],
            data["p"],
            user_ids=tuple(data.get("u", ())),
            sender_id=data.get("f"),
            contacts_of=data.get("k"),
            missed=MissedMessage(*(int(n) for n in missed[:3])) if missed else None,
            notice=Notice(NoticeKind(notice[0]), str(notice[1])) if notice else None,
        )


@dataclass(frozen=True)
class MissedMessage:
    """What the fan-out does not otherwise know about a message: for the push to whoever
    missed it, and for the record of its live deliveries (analytics)."""

    seq: int
    duration_ms: int
    sent_at_ms: int = 0  # epoch milliseconds; 0 when unknown


class NoticeKind(StrEnum):
    VERIFICATION = "verification"  # detail: the case's new state


@dataclass(frozen=True)
class Notice:
    """An event other than a message that a user should hear of even when not connected: its
    kind and what it says."""

    kind: NoticeKind
    detail: str
