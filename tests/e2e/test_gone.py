"""A connection whose $disconnect never ran (API Gateway's is best-effort) answers 410 Gone, and
delivering to it removes its record."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from common.clients import redis_client
from connections.model import Connection
from connections.store import ConnectionStore, PresenceStore
from tests.e2e.clients import connect_as, next_event, say
from tests.e2e.conftest import Stack


def test_a_dead_connection_gets_410_and_its_record_goes(stack: Stack) -> None:
    settings = stack.clients.settings
    store = ConnectionStore(stack.clients.dynamodb, settings.connections_table)
    bob_id = stack.user("bob")["user_id"]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    stale = Connection("staleBobPhone=", bob_id, an_hour_ago, int(time.time()) + 3600)
    store.put(stale)  # as its $connect left it...
    presence = PresenceStore(redis_client(stack.info["redis_url"]), settings.redis_namespace)
    presence.online(bob_id, stale.connection_id, 3600)  # ...and its $disconnect never ran

    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.info["management_endpoint"],
        region_name=stack.info["region"],
    )
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=stale.connection_id, Data=b"{}")

    async def scenario() -> None:
        alice, bob = await connect_as(stack, "alice"), await connect_as(stack, "bob")
        ack = await say(alice, to=bob_id)
        assert (await next_event(bob))["messageId"] == ack[
            "messageId"
        ]  # the live one still gets it
        async with asyncio.timeout(10):
            while store.get(stale.connection_id) is not None:
                await asyncio.sleep(0.05)
        await alice.close()
        await bob.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert store.get(stale.connection_id) is None
