"""Events no table records (live deliveries, pushes), kept in a Redis stream until the
export drains them into Parquet, and which conversations were recently active.

Best effort by design: analytics must never slow or fail a delivery or a push, so a Redis
error is logged and the events are lost. The stream is capped (``MAXLEN ~``) so that an
exporter that stops draining cannot fill Redis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from analytics.changes import delivered, new_event
from analytics.model import AnalyticsEvent
from analytics.pseudonym import Pseudonyms
from chat.model import MissedMessage
from common.logs import get_logger
from notifications.model import Device, Push, PushKind

log = get_logger("analytics.live")

ACTIVE_HORIZON = timedelta(days=1)  # how far back "recently active" is remembered


@dataclass(frozen=True)
class LoggedEvent:
    entry_id: str
    event: AnalyticsEvent


class LiveEventLog:
    def __init__(self, client: redis.Redis, namespace: str, max_events: int) -> None:
        self._client = client
        self._stream = f"{namespace}:analytics:events"
        self._active = f"{namespace}:analytics:active"
        self._max_events = max_events

    def append(
        self, events: Sequence[AnalyticsEvent], active: tuple[str, datetime] | None = None
    ) -> None:
        """Add events; ``active`` (a pseudonymous conversation id, and when) marks that
        conversation as recently active."""
        if not events and active is None:
            return
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for event in events:
                    data = json.dumps(event.to_json(), separators=(",", ":"))
                    pipe.xadd(self._stream, {"e": data}, maxlen=self._max_events, approximate=True)
                if active is not None:
                    conversation, at = active
                    pipe.zadd(self._active, {conversation: at.timestamp()})
                    pipe.zremrangebyscore(self._active, "-inf", (at - ACTIVE_HORIZON).timestamp())
                pipe.execute()
        except redis.RedisError as error:
            log.warning("%d analytics event(s) lost: %s", len(events), error)

    def oldest(self, count: int) -> list[LoggedEvent]:
        """Up to ``count`` events, oldest first (they stay until ``remove``)."""
        entries = self._client.xrange(self._stream, "-", "+", count=count) or []
        logged = []
        for entry_id, fields in entries:
            raw = (fields or {}).get(b"e") or (fields or {}).get("e") or b""
            key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            try:
                logged.append(LoggedEvent(key, AnalyticsEvent.from_json(json.loads(raw))))
            except (TypeError, ValueError, KeyError) as error:
                log.warning("dropping unreadable analytics entry %s: %s", key, error)
                self._client.xdel(self._stream, key)
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
    """The fan-out's ``DeliveryRecord``: a ``message_delivered`` (``live``) per member reached."""

    def __init__(self, log_: LiveEventLog, pseudonyms: Pseudonyms) -> None:
        self._log = log_
        self._pseudonyms = pseudonyms

    def delivered(
        self, conversation_id: str, message: MissedMessage, user_ids: Sequence[str], at: datetime
    ) -> None:
        sent_ms = message.sent_at_ms or round(at.timestamp() * 1000)
        latency = max(0, round(at.timestamp() * 1000) - sent_ms)
        p = self._pseudonyms
        events = [
            delivered(
                p,
                conversation_id=conversation_id,
                seq=message.seq,
                user_id=user,
                via="live",
                at=at,
                latency_ms=latency,
            )
            for user in user_ids
        ]
        self._log.append(events, active=(p.conversation(conversation_id), at))


class LivePushes:
    """The push worker's ``PushRecord``: a ``push_sent`` per device published to."""

    def __init__(self, log_: LiveEventLog, pseudonyms: Pseudonyms) -> None:
        self._log = log_
        self._pseudonyms = pseudonyms

    def sent(self, device: Device, push: Push, at: datetime) -> None:
        p = self._pseudonyms
        key = (device.user_id, device.device_id, push.kind.value, at.isoformat())
        event = new_event(
            "push_sent",
            p,
            at,
            key,
            user_pid=p.user(device.user_id),
            platform=device.platform.value,
            kind=push.kind.value,
            messages=push.count if push.kind is PushKind.MESSAGE else 0,
        )
        self._log.append([event])
