"""What no table records (live deliveries, pushes), kept in a Redis stream until the exporter
drains it into Parquet, and which conversations were recently active.

The hot path stays small: the fan-out appends one compact entry per message it delivered (who
was reached, when), whatever the number of members, in one pipelined round trip with the
activity mark; ids are pseudonymised and events built only by the drainer (``live_events``).
The raw ids never leave Redis, which holds them anyway (presence, caches).

Best effort by design: analytics must never slow or fail a delivery or a push, so a Redis
error is logged and the entry is lost. The stream is capped (``MAXLEN ~``, in entries) so that
an exporter that stops draining cannot fill Redis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from analytics.changes import delivered, new_event
from analytics.model import AnalyticsEvent
from analytics.pseudonym import Pseudonyms
from chat.model import MissedMessage
from common.logs import get_logger
from notifications.model import Device, Push, PushKind

log = get_logger("analytics.live")

ACTIVE_HORIZON = timedelta(days=1)  # how far back "recently active" is remembered
DELIVERED, PUSHED = "delivered", "pushed"  # the kinds of entry


@dataclass(frozen=True)
class LoggedEntry:
    entry_id: str
    fact: Mapping[str, Any]


class LiveEventLog:
    def __init__(self, client: redis.Redis, namespace: str, max_entries: int) -> None:
        self._client = client
        self._stream = f"{namespace}:analytics:events"
        self._active = f"{namespace}:analytics:active"
        self._max_entries = max_entries

    def append(self, fact: Mapping[str, Any], active: tuple[str, datetime] | None = None) -> None:
        """Add one entry; ``active`` (a conversation id, and when) marks that conversation as
        recently active."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                data = json.dumps(fact, separators=(",", ":"))
                pipe.xadd(self._stream, {"f": data}, maxlen=self._max_entries, approximate=True)
                if active is not None:
                    conversation, at = active
                    pipe.zadd(self._active, {conversation: at.timestamp()})
                    pipe.zremrangebyscore(self._active, "-inf", (at - ACTIVE_HORIZON).timestamp())
                pipe.execute()
        except redis.RedisError as error:
            log.warning("an analytics entry (%s) was lost: %s", fact.get("k"), error)

    def oldest(self, count: int) -> list[LoggedEntry]:
        """Up to ``count`` entries, oldest first (they stay until ``remove``); an entry that
        cannot be read is dropped with a warning rather than blocking the ones after it."""
        entries = self._client.xrange(self._stream, "-", "+", count=count) or []
        logged = []
        for entry_id, fields in entries:
            raw = (fields or {}).get(b"f") or (fields or {}).get("f") or b""
            key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            try:
                fact = json.loads(raw)
                if not isinstance(fact, dict):
                    raise TypeError("not an object")
            except (TypeError, ValueError) as error:
                log.warning("dropping unreadable analytics entry %s: %s", key, error)
                self._client.xdel(self._stream, key)
                continue
            logged.append(LoggedEntry(key, fact))
        return logged

    def remove(self, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            self._client.xdel(self._stream, *entry_ids)

    def backlog(self) -> int:
        return int(self._client.xlen(self._stream))

    def active_since(self, since: datetime) -> int:
        """Conversations with a message delivered at or after ``since``."""
        return int(self._client.zcount(self._active, since.timestamp(), "+inf"))


class LiveDeliveries:
    """The fan-out's ``DeliveryRecord``: who got a message live, as one entry."""

    def __init__(self, log_: LiveEventLog) -> None:
        self._log = log_

    def delivered(
        self, conversation_id: str, message: MissedMessage, user_ids: Sequence[str], at: datetime
    ) -> None:
        at_ms = _ms(at)
        sent_ms = message.sent_at_ms or at_ms
        fact = {
            "k": DELIVERED,
            "c": conversation_id,
            "s": message.seq,
            "t": at_ms,
            "l": max(0, at_ms - sent_ms),
            "u": list(user_ids),
        }
        self._log.append(fact, active=(conversation_id, at))


class LivePushes:
    """The push worker's ``PushRecord``: one entry per device published to."""

    def __init__(self, log_: LiveEventLog) -> None:
        self._log = log_

    def sent(self, device: Device, push: Push, at: datetime) -> None:
        fact = {
            "k": PUSHED,
            "u": device.user_id,
            "d": device.device_id,
            "p": device.platform.value,
            "n": push.kind.value,
            "m": push.count if push.kind is PushKind.MESSAGE else 0,
            "t": _ms(at),
        }
        self._log.append(fact)


def live_events(fact: Mapping[str, Any], p: Pseudonyms) -> list[AnalyticsEvent]:
    """An entry of the log as the analytics events it stands for (none if unknown)."""
    at = datetime.fromtimestamp(int(fact["t"]) / 1000, UTC)
    if fact.get("k") == DELIVERED:
        return [
            delivered(
                p,
                conversation_id=str(fact["c"]),
                seq=int(fact["s"]),
                user_id=str(user),
                via="live",
                at=at,
                latency_ms=int(fact["l"]),
            )
            for user in fact["u"]
        ]
    if fact.get("k") == PUSHED:
        user = str(fact["u"])
        key = (user, str(fact["d"]), str(fact["n"]), int(fact["t"]))
        return [
            new_event(
                "push_sent",
                p,
                at,
                key,
                user_pid=p.user(user),
                platform=str(fact["p"]),
                kind=str(fact["n"]),
                messages=int(fact["m"]),
            )
        ]
    log.warning("skipping an analytics entry of unknown kind %r", fact.get("k"))
    return []


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def events_of(entries: Sequence[LoggedEntry], p: Pseudonyms) -> list[AnalyticsEvent]:
    """Every entry's events; a malformed entry is skipped with a warning, never retried."""
    events: list[AnalyticsEvent] = []
    for entry in entries:
        try:
            events.extend(live_events(entry.fact, p))
        except (KeyError, TypeError, ValueError) as error:
            log.warning("skipping malformed analytics entry %s: %r", entry.entry_id, error)
    return events
