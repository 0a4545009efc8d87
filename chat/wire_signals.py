"""Wire format of receipts, read markers, indicators, presence, blocks and reports. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chat.model import IndicatorKind, ReceiptKind
from chat.wire import id_field, int_field
from common.clock import iso_utc
from common.errors import BadRequest

MAX_RECEIPT_SEQS = 100
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class ReceiptRequest:
    conversation_id: str
    kind: ReceiptKind
    seqs: tuple[int, ...]


@dataclass(frozen=True)
class ReadRequest:
    conversation_id: str
    seq: int


@dataclass(frozen=True)
class IndicatorRequest:
    conversation_id: str
    kind: IndicatorKind
    active: bool


@dataclass(frozen=True)
class ReportRequest:
    conversation_id: str
    seq: int
    reason: str


def parse_receipt(body: Mapping[str, Any]) -> ReceiptRequest:
    kind = body.get("kind")
    if kind not in {k.value for k in ReceiptKind}:
        raise BadRequest("kind must be delivered or listened.", field="kind")
    seqs = body.get("seqs")
    if seqs is None and body.get("seq") is not None:
        seqs = [int_field(body, "seq", minimum=1)]
    valid = isinstance(seqs, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in seqs
    )
    if not valid or not 1 <= len(seqs) <= MAX_RECEIPT_SEQS:  # type: ignore[arg-type]
        raise BadRequest(f"seqs must be a list of 1 to {MAX_RECEIPT_SEQS} seqs.", field="seqs")
    return ReceiptRequest(
        conversation_id=id_field(body, "conversationId"),
        kind=ReceiptKind(kind),
        seqs=tuple(sorted(set(seqs))),  # type: ignore[arg-type]
    )


def parse_read(body: Mapping[str, Any]) -> ReadRequest:
    return ReadRequest(id_field(body, "conversationId"), int_field(body, "seq", minimum=0))


def parse_indicator(body: Mapping[str, Any], kind: IndicatorKind) -> IndicatorRequest:
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise BadRequest("active must be true or false.", field="active")
    return IndicatorRequest(id_field(body, "conversationId"), kind, active)


def parse_user_id(body: Mapping[str, Any]) -> str:
    return id_field(body, "userId")


def parse_report(body: Mapping[str, Any]) -> ReportRequest:
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH:
        raise BadRequest(
            f"reason is text of at most {MAX_REASON_LENGTH} characters.", field="reason"
        )
    return ReportRequest(
        conversation_id=id_field(body, "conversationId"),
        seq=int_field(body, "seq", minimum=1),
        reason=reason.strip() or "unspecified",
    )


# ---- frames ---------------------------------------------------------------------------------


def receipt_event(
    conversation_id: str, user_id: str, kind: ReceiptKind, seqs: Sequence[int], at: datetime
) -> dict[str, Any]:
    return {
        "type": "receipt",
        "conversationId": conversation_id,
        "userId": user_id,
        "kind": kind.value,
        "seqs": list(seqs),
        "at": iso_utc(at),
    }


def receipts_frame(conversation_id: str, kind: ReceiptKind, seqs: Sequence[int]) -> dict[str, Any]:
    return {
        "type": "receipts",
        "conversationId": conversation_id,
        "kind": kind.value,
        "seqs": list(seqs),
    }


def read_frame(conversation_id: str, last_read_seq: int) -> dict[str, Any]:
    return {"type": "read", "conversationId": conversation_id, "lastReadSeq": last_read_seq}


def indicator_event(request: IndicatorRequest, user_id: str, ttl_seconds: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "conversationId": request.conversation_id,
        "userId": user_id,
        "kind": request.kind.value,
        "active": request.active,
        "expiresIn": ttl_seconds if request.active else 0,
    }


def presence_frame(conversation_id: str, users: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "presence", "conversationId": conversation_id, "users": list(users)}


def block_frame(user_id: str, blocked: bool) -> dict[str, Any]:
    return {"type": "blocked" if blocked else "unblocked", "userId": user_id}


def reported_frame(report_id: str) -> dict[str, Any]:
    return {"type": "reported", "reportId": report_id}
