"""Table changes -> analytics events: pure functions over DynamoDB stream records.

Only what the schema names leaves here: ids go through ``Pseudonyms`` and free text (a
moderator's reason, a username) is never read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from analytics.model import AnalyticsEvent
from analytics.pseudonym import Pseudonyms
from common.clock import parse_iso_utc
from common.handler import StreamRecord

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
OTHER = "other"


class Source(StrEnum):
    """The tables whose streams analytics reads."""

    USERS = "users"
    CONNECTIONS = "connections"
    MESSAGES = "messages"
    CLIPS = "clips"
    AUDIT = "audit"


@dataclass(frozen=True)
class Sources:
    """Which table is which (their names depend on the stage)."""

    by_table: Mapping[str, Source]

    def of(self, table: str) -> Source | None:
        return self.by_table.get(table)


def events_from(
    records: Iterable[StreamRecord], sources: Sources, pseudonyms: Pseudonyms
) -> list[AnalyticsEvent]:
    events: list[AnalyticsEvent] = []
    for record in records:
        source = sources.of(record.table)
        if source is not None:
            events.extend(_READERS[source](record, pseudonyms))
    return events


def _signed_up(record: StreamRecord, p: Pseudonyms) -> list[AnalyticsEvent]:
    if record.event_name != "INSERT":
        return []
    user_id = str(record.new_image["userId"])
    at = _time(record.new_image.get("createdAt"), record.at)
    return [new_event("user_signed_up", p, at, (user_id,), user_pid=p.user(user_id))]


def _connection(record: StreamRecord, p: Pseudonyms) -> list[AnalyticsEvent]:
    if record.event_name == "INSERT":
        item = record.new_image
        at = _time(item.get("connectedAt"), record.at)
        return [new_event("connection_opened", p, at, (item["connectionId"],), **_conn(item, p))]
    if record.event_name == "REMOVE":
        item = record.old_image
        opened = _time(item.get("connectedAt"), record.at)
        duration = max(0.0, (record.at - opened).total_seconds())
        return [
            new_event(
                "connection_closed",
                p,
                record.at,
                (item["connectionId"],),
                duration_seconds=duration,
                **_conn(item, p),
            )
        ]
    return []


def _conn(item: Mapping[str, Any], p: Pseudonyms) -> dict[str, Any]:
    return {
        "user_pid": p.user(str(item["userId"])),
        "connection_pid": p.connection(str(item["connectionId"])),
        "node": str(item.get("node") or "unknown"),
    }


def _message(record: StreamRecord, p: Pseudonyms) -> list[AnalyticsEvent]:
    item = record.new_image
    if int(item.get("seq") or 0) < 1:  # the table's seq-0 items: a conversation's head, dedup keys
        return []
    conversation_id, seq = str(item["conversationId"]), int(item["seq"])
    sent_at = _time(item.get("sentAt"), record.at)
    where = {"conversation_pid": p.conversation(conversation_id), "seq": seq}
    latency = max(0, round((record.at - sent_at).total_seconds() * 1000))
    events = []
    if record.event_name == "INSERT":
        kind = "direct" if conversation_id.startswith("d_") else "group"
        events.append(
            new_event(
                "message_sent",
                p,
                sent_at,
                (conversation_id, seq),
                conversation_kind=kind,
                sender_pid=p.user(str(item["senderId"])),
                clip_pid=p.clip(str(item["clipId"])),
                **where,
            )
        )
    for user_id in _added(record, "deliveredTo"):
        events.append(
            delivered(
                p,
                conversation_id=conversation_id,
                seq=seq,
                user_id=user_id,
                via="receipt",
                at=record.at,
                latency_ms=latency,
            )
        )
    for user_id in _added(record, "listenedBy"):
        events.append(
            new_event(
                "message_listened",
                p,
                record.at,
                (conversation_id, seq, user_id),
                listener_pid=p.user(user_id),
                latency_ms=latency,
                **where,
            )
        )
    return events


def delivered(
    p: Pseudonyms,
    *,
    conversation_id: str,
    seq: int,
    user_id: str,
    via: str,
    at: datetime,
    latency_ms: int,
) -> AnalyticsEvent:
    """A message reached ``user_id``: the fan-out saw it go out live, or a receipt came back."""
    return new_event(
        "message_delivered",
        p,
        at,
        (conversation_id, seq, user_id, via),
        conversation_pid=p.conversation(conversation_id),
        seq=seq,
        recipient_pid=p.user(user_id),
        via=via,
        latency_ms=latency_ms,
    )


def _added(record: StreamRecord, attribute: str) -> list[str]:
    before = set(record.old_image.get(attribute) or ())
    return sorted(str(u) for u in set(record.new_image.get(attribute) or ()) - before)


def _clip(record: StreamRecord, p: Pseudonyms) -> list[AnalyticsEvent]:
    item, status = record.new_image, record.new_image.get("status")
    if not item or status == record.old_image.get("status"):
        return []
    clip_id = str(item["clipId"])
    common = {"clip_pid": p.clip(clip_id), "owner_pid": p.user(str(item["ownerId"]))}
    if status == "ready":
        duration = int(item.get("durationMs") or 0)
        return [
            new_event("clip_processed", p, record.at, (clip_id,), duration_ms=duration, **common)
        ]
    if status == "rejected":
        reason = code_or_other(item.get("rejectReason"))
        return [new_event("clip_rejected", p, record.at, (clip_id,), reason=reason, **common)]
    return []


def _audit(record: StreamRecord, p: Pseudonyms) -> list[AnalyticsEvent]:
    if record.event_name != "INSERT":
        return []
    entry = record.new_image
    user_id, version = str(entry["userId"]), str(entry["sk"])
    at = _time(entry.get("at"), record.at)
    action, key, user = str(entry.get("action")), (user_id, version), p.user(user_id)
    if action == "screened":
        outcome = str(entry.get("state"))
        reason = code_or_other(entry.get("reason")) if outcome == "retry" else None
        return [
            new_event(
                "verification_screened",
                p,
                at,
                key,
                user_pid=user,
                outcome=outcome,
                retry_reason=reason,
            )
        ]
    if action in {"approved", "rejected"}:
        moderator = p.user(str(entry.get("actor")))
        return [
            new_event(
                "verification_decided",
                p,
                at,
                key,
                user_pid=user,
                moderator_pid=moderator,
                outcome=action,
            )
        ]
    if action == "appealed":
        return [new_event("verification_appealed", p, at, key, user_pid=user)]
    return []


_READERS: Mapping[Source, Callable[[StreamRecord, Pseudonyms], list[AnalyticsEvent]]] = {
    Source.USERS: _signed_up,
    Source.CONNECTIONS: _connection,
    Source.MESSAGES: _message,
    Source.CLIPS: _clip,
    Source.AUDIT: _audit,
}


def code_or_other(value: object) -> str:
    """A machine code as it is; anything that might be free text becomes ``other``."""
    return value if isinstance(value, str) and _CODE.match(value) else OTHER


def _time(value: object, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            return parse_iso_utc(value)
        except ValueError:
            return fallback
    return fallback


def new_event(
    event_type: str,
    p: Pseudonyms,
    at: datetime,
    natural_key: tuple[Any, ...],
    **columns: Any,
) -> AnalyticsEvent:
    row = {"event_id": p.event(event_type, *natural_key), "occurred_at": at, **columns}
    return AnalyticsEvent(event_type, row)
