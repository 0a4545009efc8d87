"""The verification routes' wire format: request parsing and answers. Pure."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chat.wire import int_field, text_field
from common.clock import iso_utc, parse_iso_utc
from common.errors import BadRequest, TooLarge
from verification.model import AuditEntry, Case

# What Rekognition reads: JPEG and PNG only.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})


@dataclass(frozen=True)
class SelfieRequest:
    content_type: str
    size: int


@dataclass(frozen=True)
class SelfieGrant:
    selfie_id: str
    url: str
    fields: Mapping[str, str]


def parse_selfie_request(body: Mapping[str, Any], max_bytes: int) -> SelfieRequest:
    content_type = text_field(body, "contentType", max_length=50).lower()
    if content_type not in IMAGE_TYPES:
        raise BadRequest("A selfie is a JPEG or PNG image.", field="contentType")
    size = int_field(body, "size", minimum=1)
    if size > max_bytes:
        raise TooLarge(f"A selfie may be at most {max_bytes} bytes.", maxBytes=max_bytes)
    return SelfieRequest(content_type, size)


def selfie_grant_view(grant: SelfieGrant) -> dict[str, Any]:
    return {"selfieId": grant.selfie_id, "url": grant.url, "fields": dict(grant.fields)}


DEFAULT_QUEUE_PAGE = 20
MAX_QUEUE_PAGE = 100
MAX_MESSAGE_LENGTH = 500


@dataclass(frozen=True)
class Decision:
    version: int
    approve: bool
    reason: str | None


def parse_queue_page(
    limit: str | None, cursor: str | None
) -> tuple[int, tuple[datetime, str] | None]:
    """``?limit=&cursor=`` of the queue: a page size and where to resume."""
    size = DEFAULT_QUEUE_PAGE
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_QUEUE_PAGE:
            raise BadRequest(f"limit must be 1 to {MAX_QUEUE_PAGE}.", field="limit")
        size = int(limit)
    return size, (_cursor(cursor) if cursor else None)


def _cursor(text: str) -> tuple[datetime, str]:
    try:
        at, user_id = json.loads(base64.urlsafe_b64decode(text.encode()))
        return parse_iso_utc(str(at)), str(user_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest("cursor is not one this API gave.", field="cursor") from None


def cursor_text(after: tuple[datetime, str] | None) -> str | None:
    if after is None:
        return None
    at, user_id = after
    return base64.urlsafe_b64encode(json.dumps([iso_utc(at), user_id]).encode()).decode()


def parse_decision(body: Mapping[str, Any]) -> Decision:
    approve = body.get("approve")
    if not isinstance(approve, bool):
        raise BadRequest("approve must be true or false.", field="approve")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest("reason must be a string.", field="reason")
    return Decision(int_field(body, "version", minimum=0), approve, reason)


def parse_appeal(body: Mapping[str, Any]) -> str | None:
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise BadRequest("message must be a string.", field="message")
    return message


def status_view(case: Case) -> dict[str, Any]:
    """What a user sees of their own case."""
    return {
        "state": case.state.value,
        "reason": case.reason,
        "appealed": case.appealed,
        "updatedAt": iso_utc(case.updated_at),
    }


def verification_event(case: Case) -> dict[str, Any]:
    """Sent to the user's connections whenever their case moves on without them."""
    return {"type": "verification", **status_view(case)}


def queue_view(
    cases: Sequence[tuple[Case, str | None]], after: tuple[datetime, str] | None
) -> dict[str, Any]:
    return {"cases": [_summary(c, name) for c, name in cases], "cursor": cursor_text(after)}


def case_view(
    case: Case, name: str | None, history: Sequence[AuditEntry], selfie_url: str | None
) -> dict[str, Any]:
    """What a moderator sees of one case: never a gender, an age, a face attribute."""
    screening = case.screening
    return {
        **_summary(case, name),
        "selfieUrl": selfie_url,
        "selfieSha256": case.selfie_sha256,
        "screening": None
        if screening is None
        else {
            "state": screening.state.value,
            "reason": screening.reason.value if screening.reason else None,
            "faces": screening.faces,
            "brightness": screening.brightness,
            "sharpness": screening.sharpness,
        },
        "decidedBy": case.decided_by,
        "reason": case.reason,
        "history": [_entry(e) for e in history],
    }


def _summary(case: Case, name: str | None) -> dict[str, Any]:
    return {
        "userId": case.user_id,
        "name": name,
        "state": case.state.value,
        "version": case.version,
        "appealed": case.appealed,
        "submittedAt": iso_utc(case.submitted_at) if case.submitted_at else None,
    }


def _entry(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": iso_utc(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "previous": entry.previous.value,
        "state": entry.state.value,
        "reason": entry.reason,
    }
