"""A fan-out must not forget a connection that is still connecting.

``$connect`` records the connection before the socket is open: until the handler has returned
and the handshake is done, API Gateway (and our gateway) answer 410 Gone for it. A fan-out in
that window (a message in any of the user's conversations, a contact's presence, a membership
change) gets Gone; if it forgot the connection, the socket would open and stay deaf to every
live event for its whole life. Before the fix (a grace period for young connections, in
``connections``), with the default fakeredis, one to two in five reconnects into a busy group
went deaf, and so did Bob connecting just after his contact Alice (her "online" announcement)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import redis

from connections.model import Connection
from connections.store import ConnectionStore, PresenceStore
from tests.e2e.catch_up import Sender, Timeline, create_group, ready_clip
from tests.e2e.clients import connect_as, next_event
from tests.e2e.conftest import Stack

RECONNECTS = 20


def test_a_fan_out_keeps_the_record_of_a_connection_still_connecting(own_stack: Stack) -> None:
    """The window held open: Carol's connection recorded as ``$connect`` records it (the
    table and her presence set), its socket never opened, while her group gets messages."""
    stack = own_stack
    store = ConnectionStore(stack.clients.dynamodb, stack.clients.settings.connections_table)
    carol_id = stack.user("carol")["user_id"]
    connecting = Connection(
        "carolConnecting=", carol_id, datetime.now(UTC), int(time.time()) + 7200
    )
    redis_client = redis.Redis.from_url(stack.info["redis_url"])
    presence = PresenceStore(redis_client, stack.clients.settings.redis_namespace)

    async def scenario() -> None:
        alice, bob = await connect_as(stack, "alice"), await connect_as(stack, "bob")
        try:
            clip = await ready_clip(stack, alice, bob)
            group = await create_group(stack, alice, "bob", "carol")
            sender, bobs = Sender(alice, group, clip), Timeline(group)
            following = asyncio.create_task(bobs.follow(bob))
            store.put(connecting)
            presence.online(carol_id, connecting.connection_id, 7200)
            # Fan-outs of one conversation run one after the other: once Bob has the second
            # message live, the first one's fan-out (and whatever it forgot) is over.
            second = max(await sender.send(2))
            await bobs.wait_live({second}, seconds=20)
        finally:
            for client in (alice, bob):
                await client.close()
        await asyncio.wait_for(following, 10)

    with redis_client:
        asyncio.run(asyncio.wait_for(scenario(), 60))
        assert store.get(connecting.connection_id) is not None
        assert connecting.connection_id in presence.connection_ids(carol_id)


def test_a_member_reconnecting_into_a_busy_group_hears_it_live(own_stack: Stack) -> None:
    """End to end: Alice talks without a pause; each time Carol connects, she hears the group
    live on that connection (a message may reach her only through ``sync``, never none)."""
    stack = own_stack

    async def scenario() -> None:
        alice, bob = await connect_as(stack, "alice"), await connect_as(stack, "bob")
        clip = await ready_clip(stack, alice, bob)
        sender = Sender(alice, await create_group(stack, alice, "bob", "carol"), clip)
        quiet = asyncio.Event()
        talking = asyncio.create_task(talk(sender, quiet))
        try:
            for attempt in range(RECONNECTS):
                carol = await connect_as(stack, "carol")
                try:
                    heard = await next_event(carol, seconds=5)
                except TimeoutError:
                    raise AssertionError(f"connection {attempt + 1} heard nothing") from None
                finally:
                    await carol.close()
                assert heard["conversationId"] == sender.conversation_id
        finally:
            quiet.set()  # not cancel(): Python 3.11's wait_for may swallow a cancellation
            await asyncio.gather(talking, return_exceptions=True)
            for client in (alice, bob):
                await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


async def talk(sender: Sender, quiet: asyncio.Event) -> None:
    while not quiet.is_set():
        await sender.send(1)
