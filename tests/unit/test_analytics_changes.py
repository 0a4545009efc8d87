"""Table changes become pseudonymous analytics events: one per thing that happened, with the
same id when the same change is seen again, and nothing that leads back to a person."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.changes import Source, Sources, code_or_other, events_from
from analytics.model import AnalyticsEvent
from analytics.pseudonym import Pseudonyms
from common.handler import StreamRecord, table_of_stream

AT = datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC)
SENT = AT - timedelta(seconds=2)
SOURCES = Sources(
    {
        "users": Source.USERS,
        "connections": Source.CONNECTIONS,
        "messages": Source.MESSAGES,
        "clips": Source.CLIPS,
        "audit": Source.AUDIT,
    }
)
P = Pseudonyms("test-key")
ALICE, BOB, CAROL = "0f7a-alice-uuid", "1b2c-bob-uuid", "2c3d-carol-uuid"
GROUP = "g_band"


def record(
    table: str,
    name: str,
    new: Mapping[str, Any] | None = None,
    old: Mapping[str, Any] | None = None,
    event_id: str = "e1",
) -> StreamRecord:
    return StreamRecord(event_id, name, table, AT, old or {}, new or {})


def events(*records: StreamRecord) -> list[AnalyticsEvent]:
    return events_from(records, SOURCES, P)


def message(**extra: Any) -> dict[str, Any]:
    return {
        "conversationId": GROUP,
        "seq": 3,
        "messageId": "m-1",
        "senderId": ALICE,
        "clipId": "clip-1",
        "clientMessageId": "c-1",
        "sentAt": SENT.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def test_a_stored_message_is_sent_once_with_pseudonymous_ids() -> None:
    [sent] = events(record("messages", "INSERT", message()))
    assert sent.event_type == "message_sent"
    assert sent.row == {
        "event_id": P.event("message_sent", GROUP, 3),
        "occurred_at": SENT,
        "conversation_pid": P.conversation(GROUP),
        "conversation_kind": "group",
        "seq": 3,
        "sender_pid": P.user(ALICE),
        "clip_pid": P.clip("clip-1"),
    }
    [again] = events(record("messages", "INSERT", message(), event_id="other-record"))
    assert again.event_id == sent.event_id  # the same message, whichever record said so


def test_the_messages_tables_bookkeeping_items_are_not_messages() -> None:
    head = {"conversationId": GROUP, "seq": 0, "lastSeq": 3}
    dedup = {"conversationId": f"dedup#{ALICE}#c-1", "seq": 0, "messageId": "m-1"}
    assert events(record("messages", "INSERT", head), record("messages", "INSERT", dedup)) == []


def test_direct_conversations_are_told_apart_from_groups() -> None:
    [sent] = events(record("messages", "INSERT", message(conversationId="d_abc")))
    assert sent.row["conversation_kind"] == "direct"


def test_new_receipts_become_deliveries_and_listens_with_their_latency() -> None:
    before = message(deliveredTo={BOB})
    after = message(deliveredTo={BOB, CAROL}, listenedBy={BOB})
    found = events(record("messages", "MODIFY", after, before))
    assert [
        (e.event_type, e.row.get("recipient_pid") or e.row.get("listener_pid")) for e in found
    ] == [
        ("message_delivered", P.user(CAROL)),
        ("message_listened", P.user(BOB)),
    ]
    assert {e.row["latency_ms"] for e in found} == {2000}
    assert found[0].row["via"] == "receipt"
    assert found[0].occurred_at == AT


def test_a_modify_that_adds_no_receipt_is_no_event() -> None:
    same = message(deliveredTo={BOB}, withdrawn=True)
    assert events(record("messages", "MODIFY", same, message(deliveredTo={BOB}))) == []


def test_connections_open_and_close_with_their_node_and_duration() -> None:
    item = {
        "connectionId": "Abc123=",
        "userId": ALICE,
        "connectedAt": (AT - timedelta(minutes=3)).isoformat(),
        "expiresAt": 1,
        "node": "ws.example.com/prod",
    }
    [opened] = events(record("connections", "INSERT", item))
    [closed] = events(record("connections", "REMOVE", old=item))
    assert (opened.event_type, closed.event_type) == ("connection_opened", "connection_closed")
    assert opened.row["connection_pid"] == closed.row["connection_pid"] == P.connection("Abc123=")
    assert opened.row["node"] == "ws.example.com/prod"
    assert closed.row["duration_seconds"] == 180.0


def test_a_clip_counts_when_it_becomes_ready_or_rejected_not_on_other_changes() -> None:
    base = {"clipId": "clip-1", "ownerId": ALICE, "status": "processing"}
    ready = {**base, "status": "ready", "durationMs": 4200}
    [processed] = events(record("clips", "MODIFY", ready, base))
    assert processed.row["duration_ms"] == 4200
    assert events(record("clips", "MODIFY", ready, ready)) == []  # e.g. a lease renewed
    rejected = {**base, "status": "rejected", "rejectReason": "too_long"}
    [refused] = events(record("clips", "MODIFY", rejected, base))
    assert (refused.event_type, refused.row["reason"]) == ("clip_rejected", "too_long")


def audit(action: str, state: str, **extra: Any) -> dict[str, Any]:
    return {
        "userId": BOB,
        "sk": "00000003",
        "at": AT.isoformat(),
        "actor": "screening",
        "action": action,
        "previous": "screening",
        "state": state,
        **extra,
    }


def test_the_audit_trail_becomes_the_verification_funnel() -> None:
    retry = events(record("audit", "INSERT", audit("screened", "retry", reason="too_dark")))
    queued = events(record("audit", "INSERT", audit("screened", "pending_review")))
    decided = events(
        record(
            "audit",
            "INSERT",
            audit("rejected", "rejected", actor="mona-uuid", reason="Looks like Bob Smith's ID"),
        )
    )
    appealed = events(record("audit", "INSERT", audit("appealed", "pending_review")))
    assert retry[0].row["outcome"] == "retry"
    assert retry[0].row["retry_reason"] == "too_dark"
    assert queued[0].row["retry_reason"] is None
    assert decided[0].event_type == "verification_decided"
    assert decided[0].row["moderator_pid"] == P.user("mona-uuid")
    assert "reason" not in decided[0].row  # a moderator's words never leave the audit table
    assert appealed[0].event_type == "verification_appealed"


def test_free_text_never_passes_as_a_code() -> None:
    assert code_or_other("too_dark") == "too_dark"
    assert code_or_other("Call me on 555-0100") == "other"
    assert code_or_other(None) == "other"


def test_a_new_profile_is_a_sign_up_and_other_tables_are_ignored() -> None:
    profile = {
        "userId": ALICE,
        "username": "alice",
        "displayName": "Alice",
        "createdAt": AT.isoformat(),
    }
    [signed_up] = events(record("users", "INSERT", profile))
    assert signed_up.row == {
        "event_id": P.event("user_signed_up", ALICE),
        "occurred_at": AT,
        "user_pid": P.user(ALICE),
    }
    assert events(record("users", "MODIFY", profile, profile)) == []
    assert events(record("devices", "INSERT", {"userId": ALICE})) == []


def test_nothing_personal_survives_in_any_event() -> None:
    personal = {ALICE, BOB, CAROL, "alice", "Alice", "Abc123=", "clip-1", GROUP, "m-1", "mona-uuid"}
    produced = events(
        record("users", "INSERT", {"userId": ALICE, "username": "alice", "displayName": "Alice"}),
        record("messages", "INSERT", message()),
        record("messages", "MODIFY", message(listenedBy={BOB}), message()),
        record("connections", "INSERT", {"connectionId": "Abc123=", "userId": ALICE}),
        record("audit", "INSERT", audit("approved", "approved", actor="mona-uuid")),
    )
    assert len(produced) == 5
    for event in produced:
        for value in event.row.values():
            assert str(value) not in personal, (event.event_type, value)


def test_pseudonyms_depend_on_the_key_and_the_kind() -> None:
    assert P.user(ALICE) == Pseudonyms("test-key").user(ALICE)
    assert P.user(ALICE) != Pseudonyms("another-key").user(ALICE)
    assert P.user("x") != P.clip("x")
    assert len(P.user(ALICE)) == 24


def test_the_stream_arn_names_the_table() -> None:
    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/sotto-prod-messages/stream/2026-12-01T00:00:00.000"
    assert table_of_stream(arn) == "sotto-prod-messages"


def test_an_event_must_carry_exactly_its_schema_columns() -> None:
    with pytest.raises(ValueError, match="user_signed_up needs columns"):
        AnalyticsEvent("user_signed_up", {"event_id": "x", "occurred_at": AT, "email": "a@b.c"})
