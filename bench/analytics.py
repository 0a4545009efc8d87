"""Analytics: what recording live deliveries costs the fan-out, and what exporting a stream
batch costs beside writing the same rows as bare Parquet, in one run.

Both sides run against moto in this process (``mock_aws``) and fakeredis, so absolute times
measure moto and Python; the ratios are the point.

- **record**: one message fanned out to a 100-member group, everyone connected, the delivery
  itself a no-op. The baseline fan-out records nothing; Sotto's appends a ``message_delivered``
  per member reached to the Redis log (one pipelined round trip).
- **export**: a stream batch of 1,000 new messages. The baseline writes 1,000 ready-made rows
  of the same columns as one zstd Parquet object; Sotto's side is ``export_changes``: reading
  the records, pseudonymising every id, building the events and writing the file. Also the
  bytes per event, beside the same events as JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pyarrow as pa
from moto import mock_aws

from analytics import handlers as analytics_handlers
from analytics.changes import Source, Sources, events_from
from analytics.deps import AnalyticsDeps
from analytics.export import parquet_bytes, to_table
from bench.push import NoSockets, Phones, a_group, timed
from chat.deps import ChatDeps
from chat.fanout import FanoutService
from chat.model import (
    FanoutEnvelope,
    MissedMessage,
)
from common.clients import Clients
from common.handler import StreamRecord
from common.settings import Settings
from local_gateway.provision import create_buckets, create_tables

ROUNDS = 15
GROUP = 100
BATCH = 1000
NOW = datetime.now(UTC)


def world() -> Clients:
    settings = Settings.from_env({"SOTTO_STAGE": "bench"})
    clients = Clients(settings, redis_client=fakeredis.FakeRedis())
    create_tables(clients)
    create_buckets(clients)
    return clients


def connected_group(chat: ChatDeps, users: Sequence[str]) -> str:
    """The push benchmark's group, with every member connected."""
    Phones(chat).online(users)
    return a_group(chat, users)


def recording(clients: Clients) -> tuple[float, float]:
    """Median seconds of one fan-out without and with the delivery record (rounds
    alternate, so both see the same machine and the same moto)."""
    chat = ChatDeps(clients)
    members = [f"u{i:03d}" for i in range(GROUP)]
    group = connected_group(chat, members)
    sent_ms = round(NOW.timestamp() * 1000)
    envelope = FanoutEnvelope(
        group, "u000-phone", "{}", sender_id="u000", missed=MissedMessage(1, 3000, sent_ms)
    )
    with_record = chat.fanout(NoSockets())
    without = FanoutService(
        conversations=chat.conversations,
        members=chat.members,
        blocks=chat.blocks,
        connections=chat.connections,
        delivery=NoSockets(),
        clock=chat.clock,
        missed=chat.push_jobs,
    )
    times: dict[str, list[float]] = {"bare": [], "sotto": []}
    for _ in range(ROUNDS):
        times["bare"].append(timed(lambda: asyncio.run(without.fan_out(envelope))))
        times["sotto"].append(timed(lambda: asyncio.run(with_record.fan_out(envelope))))
        chat.analytics_log.remove([e.entry_id for e in chat.analytics_log.oldest(GROUP * 2)])
    return statistics.median(times["bare"]), statistics.median(times["sotto"])


def message_records(table: str) -> list[StreamRecord]:
    return [
        StreamRecord(
            event_id=f"r{n}",
            event_name="INSERT",
            table=table,
            at=NOW,
            old_image={},
            new_image={
                "conversationId": f"g_{n % 50:04d}",
                "seq": n + 1,
                "messageId": f"m-{n}",
                "senderId": f"user-{n % 200:04d}",
                "clipId": f"clip-{n}",
                "clientMessageId": f"c-{n}",
                "sentAt": (NOW - timedelta(seconds=n)).isoformat(),
            },
        )
        for n in range(BATCH)
    ]


def as_lambda_event(records: Sequence[StreamRecord], arn: str) -> dict[str, Any]:
    """The records in the shape Lambda hands the exporter (strings and numbers only)."""

    def image(item: dict[str, Any]) -> dict[str, Any]:
        return {k: {"N": str(v)} if isinstance(v, int) else {"S": str(v)} for k, v in item.items()}

    return {
        "Records": [
            {
                "eventID": r.event_id,
                "eventName": r.event_name,
                "eventSource": "aws:dynamodb",
                "eventSourceARN": arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": int(r.at.timestamp()),
                    "NewImage": image(dict(r.new_image)),
                    "SequenceNumber": str(i),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            }
            for i, r in enumerate(records)
        ]
    }


def exporting(clients: Clients) -> dict[str, float]:
    deps = AnalyticsDeps(clients)
    table = clients.settings.messages_table
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/bench"
    records = message_records(table)
    event = as_lambda_event(records, arn)
    events = events_from(records, Sources({table: Source.MESSAGES}), deps.pseudonyms)
    ready: pa.Table = to_table("message_sent", events)
    bucket = clients.settings.analytics_bucket

    def bare() -> None:
        clients.s3.put_object(Bucket=bucket, Key="bench/bare.parquet", Body=parquet_bytes(ready))

    def sotto() -> None:
        analytics_handlers.export_changes(event, deps=deps)

    times: dict[str, list[float]] = {"bare": [], "sotto": []}
    for _ in range(ROUNDS):
        times["bare"].append(timed(bare))
        times["sotto"].append(timed(sotto))
    json_lines = "\n".join(json.dumps(e.to_json()) for e in events).encode()
    return {
        "bare_s": statistics.median(times["bare"]),
        "sotto_s": statistics.median(times["sotto"]),
        "parquet_bytes_per_event": len(parquet_bytes(ready)) / BATCH,
        "json_bytes_per_event": len(json_lines) / BATCH,
    }


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    print("\nAnalytics (in-process moto and fakeredis: the ratios matter, not the times)")
    with mock_aws():
        clients = world()
        bare, ours = recording(clients)
        export = exporting(clients)
    print(
        f"  fan-out, {GROUP}-member group all connected: no record {bare * 1000:.1f} ms, "
        f"recording {GROUP - 1} live deliveries {ours * 1000:.1f} ms, "
        f"ratio {ours / bare:.2f}x (median of {ROUNDS})"
    )
    bare, ours = export["bare_s"], export["sotto_s"]
    print(
        f"  a stream batch of {BATCH} messages: bare Parquet write {bare * 1000:.1f} ms, "
        f"export_changes {ours * 1000:.1f} ms, ratio {ours / bare:.2f}x; "
        f"{BATCH / ours:,.0f} events/s (median of {ROUNDS})"
    )
    parquet, lines = export["parquet_bytes_per_event"], export["json_bytes_per_event"]
    print(
        f"  size: {parquet:.1f} bytes per event in Parquet, {lines:.1f} as JSON lines "
        f"(ratio {parquet / lines:.2f}x)"
    )


if __name__ == "__main__":
    main()
