"""Catching up loses nothing and repeats nothing: a member away while messages flow, and Redis
dying and coming back under a stream of sends. The client side is the protocol's catch-up
algorithm (``tests/e2e/catch_up.py``): live messages merged with ``sync``, deduplicated by seq."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from sotto_cli.client import SottoClient
from tests.e2e.catch_up import Sender, Timeline, assert_complete, create_group, ready_clip
from tests.e2e.clients import connect_as
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.own_redis import REDIS_SERVER, OwnRedis


@contextlib.asynccontextmanager
async def signed_in(stack: Stack, *names: str) -> AsyncIterator[list[SottoClient]]:
    clients = [await connect_as(stack, name) for name in names]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


def test_a_member_away_during_50_messages_gets_each_once_and_in_order(own_stack: Stack) -> None:
    stack = own_stack
    total, before, back_at, after = 50, 10, 40, 5  # Carol leaves after 10, is back at ~40

    async def scenario() -> None:
        async with signed_in(stack, "alice", "bob", "carol") as (alice, bob, carol):
            clip = await ready_clip(stack, alice, bob)
            group = await create_group(stack, alice, "bob", "carol")
            sender = Sender(alice, group, clip)
            bobs, carols = Timeline(group), Timeline(group, page=7)  # small pages: `more`
            bob_following = asyncio.create_task(bobs.follow(bob))

            # Carol hears the first messages live and drops off while more are in flight.
            following = asyncio.create_task(carols.follow(carol))
            sending = asyncio.create_task(sender.send(before))
            await carols.wait_for(3, seconds=20)
            await carol.close()
            await asyncio.wait_for(following, 10)
            await sending
            heard_live = carols.have
            assert 3 <= heard_live < total

            # Alice talks on without a pause; Carol reconnects while she does (fan-outs race
            # her $connect) and syncs from what she has while live messages queue up.
            sending = asyncio.create_task(sender.send(total - before - after))
            await sender.wait_acks(back_at)
            async with signed_in(stack, "carol") as (carol_again,):
                sent_before_she_was_back = len(sender.acks) + 1  # one may be in flight
                following = asyncio.create_task(carols.follow(carol_again))
                await sending
                later = await sender.send(after)  # certainly after her connection opened
                later |= {int(a["seq"]) for a in sender.acks[sent_before_she_was_back:]}
                await carols.wait_live(later, seconds=20)  # live again on the new connection
                await carols.wait_for(total, seconds=20)
            await asyncio.wait_for(following, 10)

        await asyncio.wait_for(bob_following, 10)
        assert len(sender.acks) == total
        assert_complete(carols, sender.acks, clip)
        assert carols.sync_pages >= 1 + (back_at - heard_live) // 7  # paged with `more`
        assert_complete(bobs, sender.acks, clip)

    asyncio.run(asyncio.wait_for(scenario(), 60))


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server binary")
def test_redis_stopped_mid_stream_loses_nothing(tmp_path: Path) -> None:
    namespace = f"sotto-e2e-redis-{uuid.uuid4().hex[:10]}"
    channel = f"{namespace}:fanout"

    async def scenario(own_redis: OwnRedis, stack: Stack) -> None:
        async with signed_in(stack, "alice", "bob") as (alice, bob):
            clip = await ready_clip(stack, alice, bob)
            group = await create_group(stack, alice, "bob")
            sender = Sender(alice, group, clip)
            bobs = Timeline(group)
            following = asyncio.create_task(bobs.follow(bob))
            assert own_redis.subscribers(channel) == 1

            # Redis up: live through the fan-out subscriber.
            await bobs.wait_live(await sender.send(10), seconds=20)

            # Redis dies while messages are being sent; every send is still acked.
            stream = asyncio.create_task(sender.send(20))
            await sender.wait_acks(13)
            await asyncio.to_thread(own_redis.kill)
            await stream
            # Sent with Redis down: the send handler fans out itself, so Bob hears them live.
            await bobs.wait_live(await sender.send(10), seconds=20)

            # Redis comes back on the same port while messages are being sent.
            stream = asyncio.create_task(sender.send(20))
            await sender.wait_acks(len(sender.acks) + 3)
            await asyncio.to_thread(own_redis.start)
            await bobs.wait_live(await stream, seconds=20)

            # The subscriber resubscribes (it backs off up to 5 s) while Alice keeps talking ...
            async with asyncio.timeout(20):
                while own_redis.subscribers(channel) < 1:
                    await bobs.wait_live(await sender.send(1), seconds=10)

            # ... and delivers again. With a listener of ours on the channel every publish has a
            # receiver, so the send handler never fans out itself: Bob hears these only
            # through the stack's subscriber.
            async with ChannelWatch(own_redis.url, channel) as watch:
                assert own_redis.subscribers(channel) == 2
                await bobs.wait_live(await sender.send(10), seconds=20)
                await watch.wait_published({a["messageId"] for a in sender.acks[-10:]}, 10)

            await bobs.fill(bob)  # whatever was lost as Redis died comes from sync
        await asyncio.wait_for(following, 10)
        assert len(sender.acks) >= 70
        assert_complete(bobs, sender.acks, clip)

    with (
        OwnRedis(tmp_path) as own_redis,
        running_stack(
            tmp_path,
            "e2e-redis",
            REDIS_URL=own_redis.url,
            SOTTO_REDIS_NAMESPACE=namespace,
            SOTTO_SEND_RATE_LIMIT="10000",
        ) as stack,
    ):
        asyncio.run(asyncio.wait_for(scenario(own_redis, stack), 60))


class ChannelWatch:
    """Our own subscriber on the fan-out channel, for the block: what was published there."""

    def __init__(self, url: str, channel: str) -> None:
        self._client = aioredis.from_url(url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._channel = channel
        self._seen: list[str] = []
        self._changed = asyncio.Condition()
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ChannelWatch:
        await self._pubsub.subscribe(self._channel)
        self._task = asyncio.create_task(self._listen())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._done.set()  # not cancel(): Python 3.11's wait_for may swallow a cancellation
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._client.aclose()

    async def wait_published(self, message_ids: set[str], seconds: float) -> None:
        def all_seen() -> bool:
            return all(any(m in raw for raw in self._seen) for m in message_ids)

        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(all_seen)

    async def _listen(self) -> None:
        while not self._done.is_set():
            message = await self._pubsub.get_message(timeout=0.1)
            if message is not None:
                async with self._changed:
                    self._seen.append(message["data"].decode())
                    self._changed.notify_all()
