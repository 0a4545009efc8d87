"""The chat actions' wire format: request parsing and reply frames. Pure.

Field names are the protocol's (``docs/protocol.md``); every parse error names its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat.model import (
    OPUS_CODEC,
    OPUS_CONTENT_TYPE,
    Ack,
    Clip,
    ClipStatus,
    Message,
    UploadGrant,
    UserProfile,
)
from common.clock import iso_utc
from common.errors import BadRequest

ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-:.@]{1,128}$")
CLIENT_MESSAGE_ID_PATTERN = re.compile(r"^[\x21-\x7e]{1,64}$")
USERNAME_PATTERN = re.compile(r"^[\w.@+\-]{1,128}$")
DEFAULT_SYNC_LIMIT = 50
MAX_SYNC_LIMIT = 100


@dataclass(frozen=True)
class UploadRequest:
    content_type: str
    size: int


@dataclass(frozen=True)
class SendRequest:
    client_message_id: str
    clip_id: str
    conversation_id: str | None
    to: str | None


@dataclass(frozen=True)
class SyncRequest:
    conversation_id: str
    after_seq: int
    limit: int


@dataclass(frozen=True)
class LookupUserRequest:
    username: str | None
    user_id: str | None


def parse_upload(body: Mapping[str, Any]) -> UploadRequest:
    content_type = text_field(body, "contentType", max_length=100)
    if any(ch in content_type for ch in "\r\n"):
        raise BadRequest("contentType must be a single line.", field="contentType")
    return UploadRequest(content_type=content_type, size=int_field(body, "size", minimum=1))


def parse_send(body: Mapping[str, Any]) -> SendRequest:
    conversation_id = optional_id_field(body, "conversationId")
    to = optional_id_field(body, "to")
    if (conversation_id is None) == (to is None):
        raise BadRequest("Give exactly one of conversationId or to.", field="conversationId")
    client_message_id = text_field(body, "clientMessageId", max_length=64)
    if not CLIENT_MESSAGE_ID_PATTERN.match(client_message_id):
        raise BadRequest(
            "clientMessageId must be 1-64 printable ASCII characters.", field="clientMessageId"
        )
    return SendRequest(
        client_message_id=client_message_id,
        clip_id=id_field(body, "clipId"),
        conversation_id=conversation_id,
        to=to,
    )


def parse_sync(body: Mapping[str, Any]) -> SyncRequest:
    return SyncRequest(
        conversation_id=id_field(body, "conversationId"),
        after_seq=int_field(body, "afterSeq", minimum=0),
        limit=int_field(
            body, "limit", minimum=1, maximum=MAX_SYNC_LIMIT, default=DEFAULT_SYNC_LIMIT
        ),
    )


def parse_lookup_user(body: Mapping[str, Any]) -> LookupUserRequest:
    if (body.get("username") is None) == (body.get("userId") is None):
        raise BadRequest("Give exactly one of username or userId.", field="username")
    if body.get("userId") is not None:
        return LookupUserRequest(username=None, user_id=id_field(body, "userId"))
    username = text_field(body, "username", max_length=128)
    if not USERNAME_PATTERN.match(username):
        raise BadRequest("username has characters a user name cannot have.", field="username")
    return LookupUserRequest(username=username, user_id=None)


# ---- frames ---------------------------------------------------------------------------------


def upload_frame(grant: UploadGrant) -> dict[str, Any]:
    return {
        "type": "upload",
        "clipId": grant.clip_id,
        "url": grant.url,
        "fields": dict(grant.fields),
    }


def ack_frame(ack: Ack) -> dict[str, Any]:
    return {
        "type": "ack",
        "messageId": ack.message_id,
        "conversationId": ack.conversation_id,
        "seq": ack.seq,
    }


def message_frame(
    message: Message,
    clip: Clip,
    clip_url: str | None,
    *,
    with_receipts: bool = False,
    hidden: bool = False,
) -> dict[str, Any]:
    """A message as clients see it, live or in ``sync``. A withdrawn message, and one from a
    sender the viewer blocked (``hidden``), keeps its place (and seq) but has no clip. Its
    sender sees who got it and who listened to it (``with_receipts``)."""
    frame: dict[str, Any] = {
        "type": "message",
        "conversationId": message.conversation_id,
        "messageId": message.message_id,
        "seq": message.seq,
        "from": message.sender_id,
        "sentAt": iso_utc(message.sent_at),
        "clip": None if message.withdrawn or hidden else clip_view(clip, clip_url),
    }
    if message.withdrawn:
        frame["withdrawn"] = True
    if hidden:
        frame["hidden"] = True
    if with_receipts:
        frame["receipts"] = {
            "delivered": sorted(message.delivered_to),
            "listened": sorted(message.listened_by),
        }
    return frame


def clip_view(clip: Clip, url: str | None) -> dict[str, Any]:
    if clip.status is ClipStatus.READY:
        return {
            "id": clip.clip_id,
            "url": url,
            "contentType": OPUS_CONTENT_TYPE,
            "codec": OPUS_CODEC,
            "durationMs": clip.duration_ms,
            "waveform": None if clip.waveform is None else list(clip.waveform),
            "status": "ready",
        }
    return {
        "id": clip.clip_id,
        "url": None,
        "contentType": clip.content_type,
        "codec": None,
        "durationMs": None,
        "waveform": None,
        "status": "processing",
    }


def messages_frame(
    conversation_id: str, messages: Sequence[Mapping[str, Any]], more: bool
) -> dict[str, Any]:
    return {
        "type": "messages",
        "conversationId": conversation_id,
        "messages": list(messages),
        "more": more,
    }


def user_frame(profile: UserProfile) -> dict[str, Any]:
    return {
        "type": "user",
        "userId": profile.user_id,
        "username": profile.username,
        "displayName": profile.display_name,
    }


# ---- field readers --------------------------------------------------------------------------


def text_field(body: Mapping[str, Any], name: str, *, max_length: int) -> str:
    value = body.get(name)
    if value is None:
        raise BadRequest(f"{name} is required.", field=name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} must be a non-empty string.", field=name)
    if len(value) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters.", field=name)
    return value.strip()


def id_field(body: Mapping[str, Any], name: str) -> str:
    value = text_field(body, name, max_length=128)
    if not ID_PATTERN.match(value):
        raise BadRequest(f"{name} is not a valid id.", field=name)
    return value


def optional_id_field(body: Mapping[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else id_field(body, name)


def int_field(
    body: Mapping[str, Any],
    name: str,
    *,
    minimum: int,
    maximum: int | None = None,
    default: int | None = None,
) -> int:
    value = body.get(name)
    if value is None:
        if default is None:
            raise BadRequest(f"{name} is required.", field=name)
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be a whole number.", field=name)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise BadRequest(f"{name} must be at least {minimum}{upper}.", field=name)
    return value
