"""The fan-out service as ECS runs it: subscribed on Redis (fakeredis over TCP, and the real
server when REDIS_URL is set), it delivers a published message to the members' connections
through a real ``@connections`` endpoint (the local gateway's), not to the sender's own
connection, and stops cleanly when told to."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import redis
from websockets.asyncio.client import connect

from chat.bus import fanout_channel
from chat.conversation_store import ConversationStore
from chat.deps import ChatDeps
from chat.fanout_service import serve
from chat.model import FanoutEnvelope, MissedMessage
from common.clients import Clients
from common.clock import ManualClock
from connections.model import Connection
from connections.store import ConnectionStore
from local_gateway.limits import GatewayLimits
from local_gateway.server import GatewayConfig, LocalGateway
from tests.functional import stub_handlers
from tests.functional.helpers import NOW


async def _subscribers(client: redis.Redis, channel: str) -> int:
    [(_, count)] = await asyncio.to_thread(client.pubsub_numsub, channel)
    return int(count)


def test_the_service_delivers_what_is_published_through_the_management_api(
    aws: Clients, redis_url: str
) -> None:
    async def scenario() -> None:
        config = GatewayConfig("127.0.0.1", 0, 0, "test", "us-east-1", GatewayLimits())
        gateway = LocalGateway(config, stub_handlers.ROUTES, stub_handlers.authorize)
        endpoint = await gateway.start_http()
        await gateway.start_websocket()
        alice = await connect(f"{gateway.ws_url}?token=alice", compression=None)
        bob = await connect(f"{gateway.ws_url}?token=bob", compression=None)
        alice_id, bob_id = gateway.registry.connection_ids()
        settings = dataclasses.replace(
            aws.settings, redis_url=redis_url, management_endpoint=endpoint
        )
        clients = Clients(settings, redis_client=redis.Redis.from_url(redis_url))
        deps = ChatDeps(clients, clock=ManualClock(NOW))
        until = int(NOW.timestamp()) + 3600
        connections = ConnectionStore(clients.dynamodb, settings.connections_table)
        connections.put(Connection(alice_id, "alice", NOW, until))
        connections.put(Connection(bob_id, "bob", NOW, until))
        conversations = ConversationStore(clients.dynamodb, settings.conversations_table)
        conversations.ensure_direct("d_pair", ("alice", "bob"), NOW)

        stop = asyncio.Event()
        service = asyncio.create_task(serve(deps, stop))
        channel = fanout_channel(settings.redis_namespace)
        while await _subscribers(clients.redis, channel) < 1:
            await asyncio.sleep(0.02)
        envelope = FanoutEnvelope(
            "d_pair",
            alice_id,
            json.dumps({"type": "message", "seq": 1}),
            sender_id="alice",
            missed=MissedMessage(1, 1000, round(NOW.timestamp() * 1000)),
        )
        await asyncio.to_thread(clients.redis.publish, channel, envelope.to_json())

        assert json.loads(await asyncio.wait_for(bob.recv(), 10)) == {"type": "message", "seq": 1}
        stop.set()
        await asyncio.wait_for(service, 10)
        assert await _subscribers(clients.redis, channel) == 0
        try:
            await asyncio.wait_for(alice.recv(), 0.3)
            raise AssertionError("the sender's own connection got its message back")
        except TimeoutError:
            pass
        await alice.close()
        await bob.close()
        await gateway.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
