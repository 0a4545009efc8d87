"""Snapshots of the live state, taken on a schedule: who is online and on which node, how
many conversations were active lately, how deep the work queues are, and how far the
analytics export itself lags. Each measurement is one ``live_snapshot`` row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import redis

from analytics.changes import new_event
from analytics.live_log import LiveEventLog
from analytics.model import AnalyticsEvent
from analytics.pseudonym import Pseudonyms
from common.logs import get_logger
from connections.store import PresenceStore, PresenceUnavailable

log = get_logger("analytics.snapshot")

ACTIVE_WINDOWS: Mapping[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
}

# name -> (waiting, in flight, delayed): what SQS reports of a queue
QueueDepths = Callable[[], Mapping[str, tuple[int, int, int]]]


class LiveSnapshot:
    def __init__(
        self,
        *,
        presence: PresenceStore,
        log_: LiveEventLog,
        queue_depths: QueueDepths,
        pseudonyms: Pseudonyms,
    ) -> None:
        self._presence = presence
        self._log = log_
        self._queue_depths = queue_depths
        self._pseudonyms = pseudonyms

    def take(self, at: datetime) -> list[AnalyticsEvent]:
        """Every measurement that can be made now; a part whose source is down is left out."""
        rows: list[tuple[str, str, float]] = []
        rows += self._presence_rows(at)
        rows += self._activity_rows(at)
        rows += self._queue_rows()
        return [self._row(at, metric, dimension, value) for metric, dimension, value in rows]

    def _presence_rows(self, at: datetime) -> list[tuple[str, str, float]]:
        try:
            census = self._presence.census(at)
        except PresenceUnavailable as error:
            log.warning("no presence in this snapshot: %s", error)
            return []
        rows = [
            ("online_users", "all", float(census.online_users)),
            ("open_connections", "all", float(census.connections)),
        ]
        rows += [("connections", node, float(n)) for node, n in sorted(census.by_node.items())]
        return rows

    def _activity_rows(self, at: datetime) -> list[tuple[str, str, float]]:
        try:
            rows = [
                ("active_conversations", window, float(self._log.active_since(at - length)))
                for window, length in ACTIVE_WINDOWS.items()
            ]
            rows.append(("analytics_backlog", "events", float(self._log.backlog())))
        except redis.RedisError as error:
            log.warning("no activity in this snapshot: %s", error)
            return []
        return rows

    def _queue_rows(self) -> Sequence[tuple[str, str, float]]:
        rows = []
        for queue, (waiting, in_flight, delayed) in sorted(self._queue_depths().items()):
            rows += [
                ("queue_depth", queue, float(waiting)),
                ("queue_in_flight", queue, float(in_flight)),
                ("queue_delayed", queue, float(delayed)),
            ]
        return rows

    def _row(self, at: datetime, metric: str, dimension: str, value: float) -> AnalyticsEvent:
        key = (at.isoformat(), metric, dimension)
        return new_event(
            "live_snapshot",
            self._pseudonyms,
            at,
            key,
            metric=metric,
            dimension=dimension,
            value=value,
        )
