"""Fan-out: members and live connections from the stores, delivery through the port, the gone
forgotten; and the Redis hop, on fakeredis and on the real server when REDIS_URL is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest
import redis
import redis.asyncio as aioredis

from analytics.live_log import live_events
from analytics.pseudonym import pseudonyms_for
from chat.bus import FanoutPublisher, FanoutSubscriber
from chat.conversation_store import ConversationStore
from chat.deps import ChatDeps
from chat.logic import direct_conversation_id
from chat.model import (
    Conversation,
    ConversationKind,
    FanoutEnvelope,
    Member,
    MissedMessage,
    Role,
)
from common.clients import Clients
from common.clock import ManualClock
from common.observability import flush
from connections.index import LiveConnections
from connections.model import Connection
from connections.store import ConnectionStore, PresenceStore
from tests.conftest import REAL_REDIS_URL
from tests.functional.conftest import OperationLog
from tests.functional.helpers import NOW

AN_HOUR_AGO = NOW - timedelta(hours=1)


class RecordingDelivery:
    def __init__(self, gone: set[str]) -> None:
        self.gone = gone
        self.posts: list[tuple[str, list[str]]] = []

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        self.posts.append((payload, list(connection_ids)))
        return self.gone & set(connection_ids)


def test_a_message_reaches_every_live_member_connection_but_the_senders(aws: Clients) -> None:
    clock = ManualClock(NOW)
    conversations = ConversationStore(aws.dynamodb, aws.settings.conversations_table)
    connections = ConnectionStore(aws.dynamodb, aws.settings.connections_table)
    conversation = direct_conversation_id("alice", "bob")
    conversations.ensure_direct(conversation, ("alice", "bob"), NOW)
    live_until = int(NOW.timestamp()) + 3600
    for connection_id, user in [
        ("alice-phone", "alice"),
        ("alice-laptop", "alice"),
        ("bob-phone", "bob"),
        ("bob-tablet", "bob"),
        ("carol-phone", "carol"),
    ]:
        connections.put(Connection(connection_id, user, AN_HOUR_AGO, live_until))
    connections.put(Connection("bob-connecting", "bob", NOW, live_until))
    connections.put(Connection("bob-expired", "bob", NOW, int(NOW.timestamp()) - 1))
    delivery = RecordingDelivery(gone={"bob-tablet", "bob-connecting"})
    service = ChatDeps(aws, clock=clock).fanout(delivery)

    report = asyncio.run(service.fan_out(FanoutEnvelope(conversation, "alice-phone", '{"m":1}')))

    [(payload, targets)] = delivery.posts
    assert payload == '{"m":1}'
    assert sorted(targets) == ["alice-laptop", "bob-connecting", "bob-phone", "bob-tablet"]
    assert report.delivered == 2 and report.gone == ("bob-connecting", "bob-tablet")
    assert connections.get("bob-tablet") is None  # the gone connection is forgotten
    assert connections.get("bob-phone") is not None
    # Gone too, but only because its $connect has not returned yet: it keeps its record.
    assert connections.get("bob-connecting") is not None


def test_an_envelope_for_one_user_reaches_only_that_users_connections(aws: Clients) -> None:
    conversations = ConversationStore(aws.dynamodb, aws.settings.conversations_table)
    connections = ConnectionStore(aws.dynamodb, aws.settings.connections_table)
    conversations.ensure_direct("d_pair", ("alice", "bob"), NOW)
    live_until = int(NOW.timestamp()) + 3600
    for connection_id, user in [
        ("alice-phone", "alice"),
        ("alice-laptop", "alice"),
        ("bob-phone", "bob"),
    ]:
        connections.put(Connection(connection_id, user, NOW, live_until))
    delivery = RecordingDelivery(gone=set())
    service = ChatDeps(aws, clock=ManualClock(NOW)).fanout(delivery)
    envelope = FanoutEnvelope("d_pair", "", '{"type":"error"}', user_ids=("alice",))
    asyncio.run(service.fan_out(envelope))
    [(_, targets)] = delivery.posts
    assert sorted(targets) == ["alice-laptop", "alice-phone"]  # not bob, and no sender excluded


def test_nobody_to_deliver_to_posts_nothing(aws: Clients) -> None:
    conversations = ConversationStore(aws.dynamodb, aws.settings.conversations_table)
    conversations.ensure_direct("d_quiet", ("alice", "bob"), NOW)
    delivery = RecordingDelivery(gone=set())
    service = ChatDeps(aws, clock=ManualClock(NOW)).fanout(delivery)
    report = asyncio.run(service.fan_out(FanoutEnvelope("d_quiet", "x", "{}")))
    assert delivery.posts == [] and report.delivered == 0


async def _round_trip(
    url: str, channel: str, envelopes: list[FanoutEnvelope]
) -> list[FanoutEnvelope]:
    received: list[FanoutEnvelope] = []

    async def handle(envelope: FanoutEnvelope) -> None:
        await asyncio.sleep(0.001 * (hash(envelope.payload) % 3))
        received.append(envelope)

    subscriber = FanoutSubscriber(lambda: aioredis.from_url(url), channel, handle)
    task = asyncio.create_task(subscriber.run())
    try:
        await asyncio.wait_for(subscriber.wait_subscribed(), 5)
        publisher = FanoutPublisher(redis.Redis.from_url(url), channel)
        for envelope in envelopes:
            assert await asyncio.to_thread(publisher.publish, envelope) == 1
        async with asyncio.timeout(10):
            while len(received) < len(envelopes):
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return received


def test_published_envelopes_reach_the_subscriber_in_order_per_conversation(redis_url: str) -> None:
    channel = f"sotto-test-{uuid.uuid4().hex}:fanout"
    sent = [FanoutEnvelope(f"c{i % 2}", "s", str(i)) for i in range(40)]
    received = asyncio.run(_round_trip(redis_url, channel, sent))
    for conversation in ("c0", "c1"):
        order = [int(e.payload) for e in received if e.conversation_id == conversation]
        assert order == sorted(order) and len(order) == 20


def test_a_publish_nobody_hears_reports_zero_receivers(redis_url: str) -> None:
    publisher = FanoutPublisher(redis.Redis.from_url(redis_url), f"sotto-test-{uuid.uuid4().hex}")
    assert publisher.publish(FanoutEnvelope("c", "s", "{}")) == 0


@pytest.mark.skipif(not REAL_REDIS_URL, reason="REDIS_URL is not set")
def test_the_subscriber_resubscribes_after_redis_drops_it() -> None:
    channel = f"sotto-test-{uuid.uuid4().hex}:fanout"
    name = f"sotto-test-sub-{uuid.uuid4().hex[:8]}"
    admin = redis.Redis.from_url(REAL_REDIS_URL)
    received: list[str] = []
    outages: list[str] = []

    async def handle(envelope: FanoutEnvelope) -> None:
        received.append(envelope.payload)

    async def after_outage() -> None:
        outages.append("told")

    async def scenario() -> None:
        subscriber = FanoutSubscriber(
            lambda: aioredis.from_url(REAL_REDIS_URL, client_name=name),
            channel,
            handle,
            retry_seconds=0.05,
            after_outage=after_outage,
        )
        task = asyncio.create_task(subscriber.run())
        publisher = FanoutPublisher(admin, channel)
        try:
            await asyncio.wait_for(subscriber.wait_subscribed(), 5)
            assert outages == []  # the first subscription is no recovery
            publisher.publish(FanoutEnvelope("c", "s", "before"))
            ids = [c["id"] for c in admin.client_list() if c.get("name") == name]
            assert ids, "the subscriber's connection is named"
            for client_id in ids:
                admin.client_kill_filter(_id=client_id)
            async with asyncio.timeout(10):
                while publisher.publish(FanoutEnvelope("c", "s", "after")) == 0:
                    await asyncio.sleep(0.05)
                while "after" not in received:
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    assert received[0] == "before" and "after" in received
    assert outages == ["told"]  # once resubscribed, it says Redis may have lost what it held


def test_fanout_finds_connections_in_the_presence_index_and_rebuilds_it_when_lost(
    aws: Clients,
) -> None:
    """One Redis round trip for all members while the index is complete; the table when Redis
    lost it (then the index is rebuilt from the table) or is down."""

    log = OperationLog(aws.dynamodb)
    store = ConnectionStore(log, aws.settings.connections_table)  # type: ignore[arg-type]
    presence = PresenceStore(aws.redis, aws.settings.redis_namespace)
    index = LiveConnections(store, presence, ttl_seconds=3600)
    live_until = int(NOW.timestamp()) + 3600
    store.put(Connection("alice-phone", "alice", NOW, live_until))
    store.put(Connection("bob-phone", "bob", NOW, live_until))
    presence.online("alice", "alice-phone", 3600)  # bob connected while Redis was away

    assert index.of_users(["alice", "bob"], NOW) == {"alice-phone": "alice", "bob-phone": "bob"}
    assert "scan" in log.calls  # no complete index yet: read the table, rebuild the index
    log.calls.clear()
    assert index.of_users(["alice", "bob"], NOW) == {"alice-phone": "alice", "bob-phone": "bob"}
    assert log.calls == []  # from Redis alone
    index.forget({"bob-phone": "bob"}, NOW + timedelta(minutes=1))
    assert index.of_users(["alice", "bob"], NOW) == {"alice-phone": "alice"}

    store.put(Connection("carol-phone", "carol", NOW, live_until))  # Redis was down meanwhile
    index.distrust_index()
    assert index.of_users(["carol"], NOW) == {"carol-phone": "carol"}
    down = LiveConnections(store, PresenceStore(redis.Redis(port=1), "x"), ttl_seconds=3600)
    assert down.of_users(["alice"], NOW) == {"alice-phone": "alice"}


def test_live_deliveries_are_recorded_per_member_reached_not_the_sender_nor_the_gone(
    aws: Clients,
) -> None:
    """The fan-out tells analytics who heard a message live: Bob on his phone (his tablet was
    gone), Carol on hers; not Alice, whose laptop got her own message, and not Dave, all gone."""
    conversations = ConversationStore(aws.dynamodb, aws.settings.conversations_table)
    connections = ConnectionStore(aws.dynamodb, aws.settings.connections_table)
    group = "g_four"
    members = ("alice", "bob", "carol", "dave")
    conversations.create_group(
        Conversation(group, ConversationKind.GROUP, NOW, "Four", "alice", 1, len(members)),
        [Member(user, Role.MEMBER, NOW) for user in members],
    )
    live_until = int(NOW.timestamp()) + 3600
    for connection_id, user in [
        ("alice-phone", "alice"),
        ("alice-laptop", "alice"),
        ("bob-phone", "bob"),
        ("bob-tablet", "bob"),
        ("carol-phone", "carol"),
        ("dave-phone", "dave"),
    ]:
        connections.put(Connection(connection_id, user, AN_HOUR_AGO, live_until))
    deps = ChatDeps(aws, clock=ManualClock(NOW))
    service = deps.fanout(RecordingDelivery(gone={"bob-tablet", "dave-phone"}))
    sent_ms = round(NOW.timestamp() * 1000) - 250
    envelope = FanoutEnvelope(
        group, "alice-phone", "{}", sender_id="alice", missed=MissedMessage(7, 1000, sent_ms)
    )

    asyncio.run(service.fan_out(envelope))

    [entry] = deps.analytics_log.oldest(10)  # one entry for the message, whoever it reached
    pseudonyms = pseudonyms_for(aws.settings)
    events = live_events(entry.fact, pseudonyms)
    assert {e.row["recipient_pid"] for e in events} == {
        pseudonyms.user("bob"),
        pseudonyms.user("carol"),
    }
    assert {(e.row["seq"], e.row["via"], e.row["latency_ms"]) for e in events} == {(7, "live", 250)}
    assert deps.analytics_log.active_since(NOW - timedelta(minutes=5)) == 1


def test_a_fan_out_reports_deliveries_gone_connections_and_lag_as_metrics(
    aws: Clients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    conversations = ConversationStore(aws.dynamodb, aws.settings.conversations_table)
    connections = ConnectionStore(aws.dynamodb, aws.settings.connections_table)
    conversation = direct_conversation_id("alice", "bob")
    conversations.ensure_direct(conversation, ("alice", "bob"), NOW)
    live_until = int(NOW.timestamp()) + 3600
    for connection_id in ("bob-phone", "bob-tablet"):
        connections.put(Connection(connection_id, "bob", AN_HOUR_AGO, live_until))
    service = ChatDeps(aws, clock=ManualClock(NOW)).fanout(RecordingDelivery(gone={"bob-tablet"}))
    sent_ms = round(NOW.timestamp() * 1000) - 180
    envelope = FanoutEnvelope(
        conversation, "alice-phone", "{}", sender_id="alice", missed=MissedMessage(1, 900, sent_ms)
    )

    asyncio.run(service.fan_out(envelope))
    flush()

    [line] = [
        json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')
    ]
    assert line["Deliveries"] == [1.0]
    assert line["GoneConnections"] == [1.0]
    assert line["FanoutLag"] == [180.0]
