"""Analytics exports on moto: the tables' real stream records, handed to the exporter in the
event shape Lambda uses, become partitioned Parquet that DuckDB reads; a batch delivered
again changes nothing; compaction folds a day into one file; live deliveries and pushes
drain from Redis; snapshots measure the live state."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analytics import handlers as analytics_handlers
from analytics.deps import AnalyticsDeps
from analytics.layout import parse_key
from analytics.live_log import LiveDeliveries, LiveEventLog, LivePushes
from analytics.local import LocalWarehouse, sync_exports
from analytics.schema import schema_of
from chat import handlers
from chat.model import MissedMessage
from common.clients import Clients
from connections.store import PresenceStore
from local_gateway.schedules import scheduled_event
from local_gateway.streams import stream_event
from notifications.model import Device, Platform, Push, PushKind
from tests.functional.chatting import (
    ALICE,
    BOB,
    CAROL,
    call,
    create_group,
    ready_clip,
    send,
    with_users,
)
from tests.functional.helpers import NOW

STREAM_TABLES = ("users_table", "messages_table", "clips_table")


@pytest.fixture
def streams_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's in-process DynamoDB Streams needs this with boto3 1.44 (see TOOLCHAIN.md)."""
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")


def stream_records(aws: Clients, setting: str) -> tuple[list[Any], str]:
    """Every record on a table's stream so far, and the stream's ARN."""
    table = getattr(aws.settings, setting)
    arn = aws.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = aws.dynamodb_streams
    records: list[Any] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records, arn


def lambda_events(aws: Clients) -> list[dict[str, Any]]:
    """One Lambda stream event per table, as the event source mapping hands them over."""
    events = []
    for setting in STREAM_TABLES:
        records, arn = stream_records(aws, setting)
        if records:
            events.append(stream_event(records, arn, aws.settings.region))
    return events


def export_files(aws: Clients) -> dict[str, str]:
    """Export key -> ETag."""
    listed = aws.s3.list_objects_v2(Bucket=aws.settings.analytics_bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listed if parse_key(o["Key"]) is not None}


def warehouse(aws: Clients, folder: Path) -> LocalWarehouse:
    sync_exports(aws.s3, aws.settings.analytics_bucket, folder)
    return LocalWarehouse(folder)


def count(aws: Clients, folder: Path, table: str) -> int:
    with warehouse(aws, folder) as answers:
        return int(answers.query(f"SELECT COUNT(*) AS n FROM {table}").rows[0][0])


@pytest.fixture
def chatted(aws: Clients, streams_enabled: None) -> AnalyticsDeps:
    """Alice, Bob and Carol: a group with three messages, Bob's receipts for two of them."""
    deps = with_users(aws)
    group = create_group(deps, ALICE, BOB, CAROL)
    for n in range(3):
        send(deps, ALICE, ready_clip(deps, ALICE), message_id=f"m-{n}", conversationId=group)
    for kind, seqs in (("delivered", [1, 2]), ("listened", [1])):
        body = {"action": "receipt", "conversationId": group, "kind": kind, "seqs": seqs}
        call(handlers.receipt, BOB, body, deps)
    return AnalyticsDeps(aws)


def test_stream_batches_become_partitioned_parquet_that_duckdb_answers(
    aws: Clients, chatted: AnalyticsDeps, tmp_path: Path
) -> None:
    for event in lambda_events(aws):
        assert analytics_handlers.export_changes(event, deps=chatted) == {}
    files = [parse_key(key) for key in export_files(aws)]
    assert {(f.event_type, f.day.isoformat()) for f in files if f} >= {
        ("message_sent", NOW.date().isoformat()),
        ("user_signed_up", NOW.date().isoformat()),
    }
    assert {f.event_type for f in files if f} >= {
        "message_delivered",
        "message_listened",
        "clip_processed",
    }
    assert count(aws, tmp_path, "message_sent") == 3
    assert count(aws, tmp_path, "user_signed_up") == 4
    assert count(aws, tmp_path, "clip_processed") == 3
    with warehouse(aws, tmp_path) as answers:
        receipts = answers.query("SELECT via, seq FROM message_delivered ORDER BY seq").rows
        assert receipts == [("receipt", 1), ("receipt", 2)]
    # Compressed, and written with the type's own schema.
    some = next(iter(export_files(aws)))
    data = aws.s3.get_object(Bucket=aws.settings.analytics_bucket, Key=some)["Body"].read()
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    found = parse_key(some)
    assert found is not None
    assert parquet.schema_arrow == schema_of(found.event_type).arrow_schema()


def test_a_batch_delivered_again_changes_nothing(
    aws: Clients, chatted: AnalyticsDeps, tmp_path: Path
) -> None:
    events = lambda_events(aws)
    for event in events:
        analytics_handlers.export_changes(event, deps=chatted)
    first = export_files(aws)
    for event in events:  # Lambda retries a batch whose invocation failed after writing
        analytics_handlers.export_changes(event, deps=chatted)
    assert export_files(aws) == first
    assert count(aws, tmp_path, "message_sent") == 3


def test_other_batch_boundaries_are_deduplicated_and_compaction_folds_the_day(
    aws: Clients, chatted: AnalyticsDeps, tmp_path: Path
) -> None:
    events = lambda_events(aws)
    for event in events:
        analytics_handlers.export_changes(event, deps=chatted)
        records = event["Records"]
        for half in (records[: len(records) // 2], records[len(records) // 2 :]):
            analytics_handlers.export_changes({"Records": half}, deps=chatted)
    messages_files = [k for k in export_files(aws) if "event=message_sent/" in k]
    assert len(messages_files) > 1  # the same messages in differently cut files
    assert count(aws, tmp_path, "message_sent") == 3  # the views keep one row per event

    analytics_handlers.compact(scheduled_event("compact", _next_day(), "us-east-1"), deps=chatted)
    compacted = export_files(aws)
    by_partition: dict[tuple[str, str], list[str]] = {}
    for key in compacted:
        found = parse_key(key)
        assert found is not None
        if found.day == NOW.date():  # the day the run compacted (clips are stamped today)
            assert found.compacted, key
            by_partition.setdefault((found.event_type, found.day.isoformat()), []).append(key)
    assert all(len(keys) == 1 for keys in by_partition.values())
    [sent_file] = by_partition[("message_sent", NOW.date().isoformat())]
    data = aws.s3.get_object(Bucket=aws.settings.analytics_bucket, Key=sent_file)["Body"].read()
    assert pq.read_table(io.BytesIO(data)).num_rows == 3  # duplicates gone from the file too

    analytics_handlers.compact(scheduled_event("compact", _next_day(), "us-east-1"), deps=chatted)
    assert export_files(aws) == compacted  # compacting again changes nothing
    assert count(aws, tmp_path, "message_sent") == 3


def _next_day() -> datetime:
    """Half past midnight after NOW's day, when the daily compaction runs."""
    return datetime.combine(NOW.date() + timedelta(days=1), time(0, 30), UTC)


def test_live_deliveries_and_pushes_drain_from_redis_into_the_exports(
    aws: Clients, tmp_path: Path
) -> None:
    deps = AnalyticsDeps(aws)
    live = LiveDeliveries(deps.live_log)
    sent = round(NOW.timestamp() * 1000)
    live.delivered("g_band", MissedMessage(4, 2500, sent - 120), ["u-bob", "u-carol"], NOW)
    phone = Device("u-dave", "phone", Platform.ANDROID, "token-x", "1.0", "arn:endpoint", NOW)
    push = Push(PushKind.MESSAGE, "Alice", "3 voice messages", 3, "g_band", 4, count=3)
    LivePushes(deps.live_log).sent(phone, push, NOW)
    assert deps.live_log.backlog() == 2  # one entry per message fanned out, one per push

    analytics_handlers.export_live_events(scheduled_event("drain", NOW, "us-east-1"), deps=deps)

    assert deps.live_log.backlog() == 0
    with warehouse(aws, tmp_path) as answers:
        delivered = answers.query("SELECT via, seq, latency_ms FROM message_delivered").rows
        pushes = answers.query("SELECT platform, kind, messages FROM push_sent").rows
    assert delivered == [("live", 4, 120), ("live", 4, 120)]
    assert pushes == [("android", "message", 3)]


def test_analytics_never_fails_a_delivery_when_redis_is_away() -> None:
    broken = LiveEventLog(_unreachable_redis(), "ns", 100)
    live = LiveDeliveries(broken)
    live.delivered("g_band", MissedMessage(1, 1000, 0), ["u-bob"], NOW)  # logged, not raised


def test_a_malformed_entry_is_skipped_and_leaves_the_log(aws: Clients, tmp_path: Path) -> None:
    deps = AnalyticsDeps(aws)
    deps.live_log.append({"k": "delivered", "c": "g_band"})  # no seq, no time, no users
    LiveDeliveries(deps.live_log).delivered("g_band", MissedMessage(2, 900, 0), ["u-bob"], NOW)
    aws.redis.xadd(f"{aws.settings.redis_namespace}:analytics:events", {"f": "not json"})

    analytics_handlers.export_live_events(scheduled_event("drain", NOW, "us-east-1"), deps=deps)

    assert deps.live_log.backlog() == 0
    assert count(aws, tmp_path, "message_delivered") == 1


def _unreachable_redis() -> Any:
    import redis  # noqa: PLC0415

    return redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)


def test_a_snapshot_measures_nodes_presence_activity_and_queues(
    aws: Clients, tmp_path: Path
) -> None:
    deps = AnalyticsDeps(aws)
    presence = PresenceStore(aws.redis, aws.settings.redis_namespace)
    until = int(NOW.timestamp()) + 3600
    presence.online("u-alice", "c1", 3600, node="ws.example/prod", until=until)
    presence.online("u-alice", "c2", 3600, node="ws.example/prod", until=until)
    presence.online("u-bob", "c3", 3600, node="ws.other/prod", until=until)
    presence.offline("u-bob", "c3", NOW, node="ws.other/prod")
    LiveDeliveries(deps.live_log).delivered("g_band", MissedMessage(1, 1000, 0), [], NOW)
    queue = aws.sqs.get_queue_url(QueueName=aws.settings.push_queue)["QueueUrl"]
    aws.sqs.send_message(QueueUrl=queue, MessageBody="{}")

    analytics_handlers.snapshot(scheduled_event("snapshot", NOW, "us-east-1"), deps=deps)

    with warehouse(aws, tmp_path) as answers:
        rows = answers.query("SELECT metric, dimension, value FROM live_snapshot").rows
    measured = {(metric, dimension): value for metric, dimension, value in rows}
    assert measured[("online_users", "all")] == 1
    assert measured[("open_connections", "all")] == 2
    assert measured[("connections", "ws.example/prod")] == 2
    assert ("connections", "ws.other/prod") not in measured  # its last connection closed
    assert measured[("active_conversations", "5m")] == 1
    assert measured[("queue_depth", aws.settings.push_queue)] == 1
    assert measured[("queue_depth", aws.settings.push_queue + "-dlq")] == 0
