"""Receipts, indicators, presence, the abuse limits, blocks and reports, through their handlers
on moto and fakeredis."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from chat import handlers
from chat.model import FanoutEnvelope
from chat.safety_store import ReportStore
from common.clients import Clients
from common.events import Caller
from connections import handlers as connection_handlers
from connections.deps import ConnectionsDeps
from tests.functional.chatting import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    call,
    create_group,
    ready_clip,
    send,
    with_users,
)
from tests.functional.conftest import OperationLog
from tests.functional.helpers import RecordingChatDeps, action, connecting, disconnecting


@pytest.fixture
def deps(aws: Clients) -> RecordingChatDeps:
    return with_users(aws)


def last_told(deps: RecordingChatDeps) -> tuple[dict[str, Any], FanoutEnvelope]:
    envelope, _ = deps.direct[-1]
    return json.loads(envelope.payload), envelope


class RecordingDelivery:
    def __init__(self) -> None:
        self.targets: list[str] = []

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        self.targets.extend(connection_ids)
        return set()


def reached(deps: RecordingChatDeps, envelope: FanoutEnvelope) -> list[str]:
    delivery = RecordingDelivery()
    asyncio.run(deps.fanout(delivery).fan_out(envelope))
    return sorted(delivery.targets)


def connect(aws: Clients, *callers: Caller, settings: Any = None) -> ConnectionsDeps:
    clients = Clients(settings or aws.settings, redis_client=aws.redis)
    connections = ConnectionsDeps(clients, clock=with_users(aws).manual_clock)
    for caller in callers:
        response = connection_handlers.connect(
            connecting(caller, f"{caller.username}-phone"), deps=connections
        )
        assert response["statusCode"] == 200, response
    return connections


def test_receipts_are_stored_told_to_the_sender_and_shown_to_the_sender_only(
    deps: RecordingChatDeps,
) -> None:
    group = create_group(deps, ALICE, BOB, CAROL)
    clip = ready_clip(deps, ALICE)
    for i in range(3):
        send(deps, ALICE, clip, f"m{i}", conversationId=group)
    body = {"action": "receipt", "conversationId": group, "kind": "delivered", "seqs": [1, 2, 9]}
    answer = call(handlers.receipt, BOB, body, deps)
    assert answer["seqs"] == [1, 2]  # no message 9
    event, envelope = last_told(deps)
    assert envelope.user_ids == (ALICE.user_id,)
    assert (event["type"], event["kind"], event["seqs"], event["userId"]) == (
        "receipt",
        "delivered",
        [1, 2],
        BOB.user_id,
    )
    call(handlers.receipt, CAROL, {**body, "kind": "listened", "seqs": [2]}, deps)
    own = call(handlers.receipt, ALICE, {**body, "seqs": [1]}, deps)
    assert own["seqs"] == []  # your own message takes no receipt

    sync = {"action": "sync", "conversationId": group, "afterSeq": 0}
    mine = call(handlers.sync, ALICE, sync, deps)["messages"]
    assert mine[1]["receipts"] == {
        "delivered": sorted([BOB.user_id, CAROL.user_id]),
        "listened": [CAROL.user_id],
    }
    assert "receipts" not in call(handlers.sync, BOB, sync, deps)["messages"][1]
    assert call(handlers.receipt, DAVE, body, deps)["code"] == "forbidden"
    assert call(handlers.receipt, BOB, {**body, "kind": "seen"}, deps)["code"] == "bad_request"


class LoggedClients(Clients):
    """Clients whose DynamoDB calls are recorded."""

    log: OperationLog | None = None

    @property
    def dynamodb(self) -> Any:
        if self.log is None:
            self.log = OperationLog(super().dynamodb)
        return self.log


def test_indicators_live_in_redis_with_a_ttl_and_never_touch_dynamodb(aws: Clients) -> None:
    clients = LoggedClients(aws.settings, redis_client=aws.redis)
    deps = with_users(clients)
    group = create_group(deps, ALICE, BOB)
    assert clients.log is not None
    clients.log.calls.clear()
    body = {"action": "typing", "conversationId": group}
    response = handlers.typing(action(BOB, "bob-phone", body), deps=deps)
    assert response == {"statusCode": 200}  # no answer on success
    event, envelope = last_told(deps)
    assert event == {
        "type": "indicator",
        "conversationId": group,
        "userId": BOB.user_id,
        "kind": "typing",
        "active": True,
        "expiresIn": aws.settings.indicator_ttl_seconds,
    }
    assert envelope.sender_id == BOB.user_id and envelope.sender_connection_id == "bob-phone"
    key = f"{aws.settings.redis_namespace}:indicator:{group}:typing:{BOB.user_id}"
    assert 0 < aws.redis.ttl(key) <= aws.settings.indicator_ttl_seconds
    presence = call(handlers.presence, ALICE, {"action": "presence", "conversationId": group}, deps)
    assert presence["users"][0]["typing"] is True and presence["users"][0]["recording"] is False
    handlers.typing(action(BOB, "bob-phone", {**body, "active": False}), deps=deps)
    assert aws.redis.exists(key) == 0
    writes = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
    assert not writes & set(clients.log.calls), clients.log.calls
    assert call(handlers.recording, DAVE, body, deps)["code"] == "forbidden"


def test_presence_shows_who_is_online_and_when_the_others_were_last_seen(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    group = create_group(deps, ALICE, BOB, CAROL)
    connections = connect(aws, BOB, CAROL)
    connection_handlers.disconnect(disconnecting(CAROL, "carol-phone"), deps=connections)
    answer = call(handlers.presence, ALICE, {"action": "presence", "conversationId": group}, deps)
    by_user = {u["userId"]: u for u in answer["users"]}
    assert by_user[BOB.user_id]["online"] is True and by_user[BOB.user_id]["lastSeen"] is None
    assert by_user[CAROL.user_id]["online"] is False
    assert by_user[CAROL.user_id]["lastSeen"] == "2026-11-21T12:00:00.000Z"
    assert ALICE.user_id not in by_user
    assert (
        call(handlers.presence, DAVE, {"action": "presence", "conversationId": group}, deps)["code"]
        == "forbidden"
    )


def test_coming_online_and_going_offline_is_announced_to_contacts(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    create_group(deps, ALICE, BOB)
    channel = aws.redis.pubsub(ignore_subscribe_messages=True)
    channel.subscribe(f"{aws.settings.redis_namespace}:fanout")
    channel.get_message(timeout=0.5)  # the subscription confirmation
    connections = connect(aws, BOB)
    connect_again = connection_handlers.connect(connecting(BOB, "bob-laptop"), deps=connections)
    assert connect_again["statusCode"] == 200  # a second device: no new announcement
    connection_handlers.disconnect(disconnecting(BOB, "bob-laptop"), deps=connections)
    connection_handlers.disconnect(disconnecting(BOB, "bob-phone"), deps=connections)
    announced = []
    while (message := channel.get_message(timeout=0.5)) is not None:
        announced.append(FanoutEnvelope.from_json(message["data"]))
    assert [json.loads(e.payload)["users"][0]["online"] for e in announced] == [True, False]
    assert all(e.contacts_of == BOB.user_id for e in announced)
    delivery_targets = reached(deps, announced[0])
    assert delivery_targets == []  # alice has no live connection in this test
    assert deps.fanout(RecordingDelivery())._contacts(BOB.user_id) == [ALICE.user_id]


def test_the_send_rate_limit_refuses_with_retry_after_and_forgives_retries(
    aws: Clients,
) -> None:
    limited = dataclasses.replace(aws.settings, send_rate_limit=3, send_rate_window_seconds=60)
    deps = with_users(Clients(limited, redis_client=aws.redis))
    clip = ready_clip(deps, ALICE)
    acks = [send(deps, ALICE, clip, f"m{i}", to=BOB.user_id) for i in range(3)]
    assert [a["seq"] for a in acks] == [1, 2, 3]
    refused = send(deps, ALICE, clip, "m3", to=BOB.user_id)
    assert refused["code"] == "rate_limited" and 1 <= refused["retryAfter"] <= 120
    assert send(deps, ALICE, clip, "m0", to=BOB.user_id) == acks[0]  # a retry is not a new send
    assert send(deps, BOB, ready_clip(deps, BOB), "b0", to=ALICE.user_id)["type"] == "ack"
    deps.manual_clock.advance(refused["retryAfter"])
    assert send(deps, ALICE, clip, "m3", to=BOB.user_id)["seq"] == 5


def test_the_connection_cap_and_the_origin_allowlist_refuse_at_connect(aws: Clients) -> None:
    strict = dataclasses.replace(
        aws.settings, max_connections_per_user=2, allowed_origins="https://app.sotto.chat"
    )
    connections = connect(aws, settings=strict)
    for device in ("phone", "laptop"):
        response = connection_handlers.connect(connecting(ALICE, device), deps=connections)
        assert response["statusCode"] == 200
    third = connection_handlers.connect(connecting(ALICE, "tablet"), deps=connections)
    assert third["statusCode"] == 429
    assert json.loads(third["body"])["code"] == "too_many_connections"

    def from_origin(origin: str) -> int:
        event = connecting(BOB, f"bob-{origin}")
        event["headers"] = {"origin": origin}
        return int(connection_handlers.connect(event, deps=connections)["statusCode"])

    assert from_origin("https://evil.example") == 403
    assert from_origin("https://app.sotto.chat") == 200


def test_a_block_stops_direct_messages_and_group_deliveries_and_hides_in_sync(
    deps: RecordingChatDeps,
) -> None:
    group = create_group(deps, ALICE, BOB, CAROL)
    alice_clip = ready_clip(deps, ALICE)
    direct = send(deps, ALICE, alice_clip, "hi", to=CAROL.user_id)["conversationId"]
    blocked = call(handlers.block, CAROL, {"action": "block", "userId": ALICE.user_id}, deps)
    assert blocked == {"type": "blocked", "userId": ALICE.user_id}
    assert send(deps, ALICE, alice_clip, "dm2", to=CAROL.user_id)["code"] == "forbidden"
    assert send(deps, ALICE, alice_clip, "dm3", conversationId=direct)["code"] == "forbidden"

    connect(deps.clients, ALICE, BOB, CAROL)
    ack = send(deps, ALICE, alice_clip, "g1", conversationId=group)
    _, envelope = last_told(deps)
    assert reached(deps, envelope) == ["bob-phone"]  # not carol, and not alice's own phone
    sync = {"action": "sync", "conversationId": group, "afterSeq": 0}
    [hidden] = call(handlers.sync, CAROL, sync, deps)["messages"]
    assert hidden["seq"] == ack["seq"] and hidden["hidden"] is True and hidden["clip"] is None
    assert call(handlers.sync, BOB, sync, deps)["messages"][0]["clip"] is not None

    call(handlers.unblock, CAROL, {"action": "unblock", "userId": ALICE.user_id}, deps)
    assert send(deps, ALICE, alice_clip, "dm4", to=CAROL.user_id)["type"] == "ack"
    assert (
        call(handlers.block, CAROL, {"action": "block", "userId": CAROL.user_id}, deps)["code"]
        == "bad_request"
    )


def test_a_report_is_stored_once_for_the_moderators(deps: RecordingChatDeps, aws: Clients) -> None:
    group = create_group(deps, ALICE, BOB)
    send(deps, ALICE, ready_clip(deps, ALICE), "rude", conversationId=group)
    body = {"action": "report", "conversationId": group, "seq": 1, "reason": "abuse"}
    first = call(handlers.report, BOB, body, deps)
    assert first["type"] == "reported"
    assert call(handlers.report, BOB, body, deps)["reportId"] == first["reportId"]
    [stored] = ReportStore(aws.dynamodb, aws.settings.reports_table).open_reports()
    assert stored["reporterId"]["S"] == BOB.user_id and stored["senderId"]["S"] == ALICE.user_id
    assert stored["reason"]["S"] == "abuse" and stored["status"]["S"] == "open"
    assert call(handlers.report, ALICE, body, deps)["code"] == "bad_request"  # your own
    assert call(handlers.report, DAVE, body, deps)["code"] == "forbidden"
    assert call(handlers.report, BOB, {**body, "seq": 7}, deps)["code"] == "not_found"


def test_fanout_needs_no_redis_for_members(deps: RecordingChatDeps, aws: Clients) -> None:
    """With Redis down the member list comes from DynamoDB: fan-out still reaches everyone."""
    group = create_group(deps, ALICE, BOB)
    connect(aws, BOB)
    dead = with_users(Clients(aws.settings, redis_client=redis.Redis(port=1)))
    envelope = FanoutEnvelope(group, "alice-phone", "{}")
    assert reached(dead, envelope) == ["bob-phone"]
