"""Chat's ephemeral state in Redis, with TTLs, never in DynamoDB: send-rate counters and
``typing``/``recording`` indicators. Losing it is harmless, so Redis errors degrade: the
rate limit lets the send through, an indicator is simply not shown."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from chat.logic import rate_decision
from chat.model import IndicatorKind
from common.clock import Clock, epoch_seconds
from common.errors import RateLimited
from common.logs import get_logger

log = get_logger("ephemeral")


class SendRateLimiter:
    """At most ``limit`` sends per user in any ``window_seconds`` (a sliding window)."""

    def __init__(
        self, client: redis.Redis, namespace: str, limit: int, window_seconds: int, clock: Clock
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._limit = limit
        self._window = window_seconds
        self._clock = clock

    def check(self, user_id: str) -> None:
        """Count one send, or raise ``RateLimited`` (a refused send is not counted)."""
        now = epoch_seconds(self._clock.now())
        index, elapsed = divmod(now, self._window)
        current_key = f"{self._namespace}:rate:send:{user_id}:{index}"
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(current_key)
                pipe.expire(current_key, 2 * self._window)
                pipe.get(f"{self._namespace}:rate:send:{user_id}:{index - 1}")
                current, _, previous = pipe.execute()
            wait = rate_decision(
                int(previous or 0), int(current), elapsed, self._limit, self._window
            )
            if wait is not None:
                self._client.decr(current_key)
        except redis.RedisError as error:
            log.warning("send rate limit not applied, Redis unavailable: %s", error)
            return
        if wait is not None:
            raise RateLimited(
                f"You may send {self._limit} messages per {self._window} s.", retry_after=wait
            )


class IndicatorStore:
    """Who is typing or recording where: one key per (conversation, kind, user), expiring."""

    def __init__(self, client: redis.Redis, namespace: str, ttl_seconds: int) -> None:
        self._client = client
        self._namespace = namespace
        self.ttl_seconds = ttl_seconds

    def mark(self, conversation_id: str, kind: IndicatorKind, user_id: str, active: bool) -> None:
        key = self._key(conversation_id, kind, user_id)
        try:
            if active:
                self._client.set(key, "1", ex=self.ttl_seconds)
            else:
                self._client.delete(key)
        except redis.RedisError as error:
            log.warning("indicator not recorded: %s", error)

    def active(
        self, conversation_id: str, user_ids: Sequence[str]
    ) -> dict[str, set[IndicatorKind]]:
        """For each of ``user_ids``, the indicators they have on in this conversation now."""
        keys = [(u, k) for u in user_ids for k in IndicatorKind]
        if not keys:
            return {}
        try:
            values = self._client.mget([self._key(conversation_id, k, u) for u, k in keys])
        except redis.RedisError as error:
            log.warning("indicators unavailable: %s", error)
            return {}
        found: dict[str, set[IndicatorKind]] = {}
        for (user_id, kind), value in zip(keys, values, strict=True):
            if value is not None:
                found.setdefault(user_id, set()).add(kind)
        return found

    def _key(self, conversation_id: str, kind: IndicatorKind, user_id: str) -> str:
        return f"{self._namespace}:indicator:{conversation_id}:{kind.value}:{user_id}"
