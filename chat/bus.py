"""Redis pub/sub: the send handler publishes, the fan-out subscriber task consumes.

Pub/sub is at-most-once; durability comes from DynamoDB and ``sync``. When a publish reaches
no subscriber (or Redis is down) the sender's handler fans out directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis

from chat.model import FanoutEnvelope
from common.logs import get_logger

log = get_logger("bus")


def fanout_channel(namespace: str) -> str:
    return f"{namespace}:fanout"


class PublishFailed(Exception):
    """Redis could not take the message; the caller falls back to direct fan-out."""


class FanoutPublisher:
    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel

    def publish(self, envelope: FanoutEnvelope) -> int:
        """How many subscribers received the envelope."""
        try:
            return int(self._client.publish(self._channel, envelope.to_json()))
        except redis.RedisError as error:
            raise PublishFailed(str(error)) from error


Handle = Callable[[FanoutEnvelope], Awaitable[object]]


class OrderedPerKey:
    """Runs handlers concurrently across keys and strictly in arrival order within a key,
    with at most ``limit`` envelopes in flight."""

    def __init__(self, handle: Handle, limit: int = 256) -> None:
        self._handle = handle
        self._slots = asyncio.Semaphore(limit)
        self._tails: dict[str, asyncio.Task[None]] = {}

    async def submit(self, key: str, envelope: FanoutEnvelope) -> None:
        await self._slots.acquire()
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run_after(previous, envelope))
        self._tails[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    async def _run_after(
        self, previous: asyncio.Task[None] | None, envelope: FanoutEnvelope
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self._handle(envelope)
        except Exception:
            log.exception("fan-out of a message in %s failed", envelope.conversation_id)

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        self._slots.release()
        if self._tails.get(key) is task:
            del self._tails[key]

    def cancel(self) -> None:
        for task in self._tails.values():
            task.cancel()


class FanoutSubscriber:
    """A long-running task: subscribe, poll with a timeout, resubscribe after Redis errors,
    stop cleanly when cancelled. ``after_outage`` runs once it is subscribed again after losing
    Redis (what Redis held may be gone)."""

    POLL_SECONDS = 1.0

    def __init__(
        self,
        connect: Callable[[], aioredis.Redis],
        channel: str,
        handle: Handle,
        *,
        retry_seconds: float = 0.2,
        max_retry_seconds: float = 5.0,
        after_outage: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._connect = connect
        self._after_outage = after_outage
        self._lost_redis = False
        self._channel = channel
        self._dispatch = OrderedPerKey(handle)
        self._retry_seconds = retry_seconds
        self._max_retry_seconds = max_retry_seconds
        self._subscribed = asyncio.Event()

    async def wait_subscribed(self) -> None:
        await self._subscribed.wait()

    async def run(self) -> None:
        delay = self._retry_seconds
        try:
            while True:
                try:
                    await self._consume()
                except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
                    if self._subscribed.is_set():
                        delay = self._retry_seconds  # it was healthy: back off afresh
                    self._subscribed.clear()
                    self._lost_redis = True
                    log.warning(
                        "fan-out subscriber lost Redis (%s); retrying in %.1fs", error, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_retry_seconds)
        finally:
            self._dispatch.cancel()

    async def _consume(self) -> None:
        client = self._connect()
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(self._channel)
                if self._lost_redis and self._after_outage is not None:
                    await self._after_outage()
                self._lost_redis = False
                self._subscribed.set()
                log.debug("fan-out subscriber listening on %s", self._channel)
                while True:
                    message = await pubsub.get_message(timeout=self.POLL_SECONDS)
                    if message is not None and message.get("type") == "message":
                        await self._accept(message["data"])
        finally:
            await client.aclose()

    async def _accept(self, raw: bytes | str) -> None:
        try:
            envelope = FanoutEnvelope.from_json(raw)
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("ignored a malformed fan-out envelope")
            return
        await self._dispatch.submit(envelope.conversation_id, envelope)
