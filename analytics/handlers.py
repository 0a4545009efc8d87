"""Lambda entry points of analytics: the tables' streams and the live log exported to
Parquet, live snapshots, and the daily compaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from analytics.changes import events_from
from analytics.deps import AnalyticsDeps, load
from analytics.live_log import events_of
from analytics.schema import names
from common.handler import StreamRecord, scheduled, stream_whole_batch
from common.logs import get_logger

log = get_logger("analytics")

DRAIN_BATCH = 5000
DRAIN_ROUNDS = 20  # at most this many batches a run: the next run takes the rest


@stream_whole_batch(load)
def export_changes(records: Sequence[StreamRecord], deps: AnalyticsDeps) -> None:
    """The users, connections, messages, clips and audit tables' streams: a batch's events
    become one file per event type and day. A failure fails the batch: Lambda retries it,
    and the same batch writes the same files."""
    events = events_from(records, deps.sources, deps.pseudonyms)
    if events:
        deps.exporter.write(events)


@scheduled(load)
def export_live_events(at: datetime, deps: AnalyticsDeps) -> None:
    """Live deliveries and pushes, from the Redis log into Parquet; an entry leaves the log
    only once its events' file is written (the same entries again write the same file)."""
    for _ in range(DRAIN_ROUNDS):
        logged = deps.live_log.oldest(DRAIN_BATCH)
        if not logged:
            return
        deps.exporter.write(events_of(logged, deps.pseudonyms))
        deps.live_log.remove([entry.entry_id for entry in logged])
        if len(logged) < DRAIN_BATCH:
            return


@scheduled(load)
def snapshot(at: datetime, deps: AnalyticsDeps) -> None:
    deps.exporter.write(deps.snapshot.take(at))


@scheduled(load)
def compact(at: datetime, deps: AnalyticsDeps) -> None:
    """After midnight UTC: compact the day that just ended, and the day before it for any
    late events (a stream can run hours behind after an outage)."""
    for days_back in (1, 2):
        deps.exporter.compact((at - timedelta(days=days_back)).date(), names())
