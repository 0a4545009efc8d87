"""The two servers the fan-out benchmark compares, each run as its own process.

    python -m bench.servers baseline     a bare websockets server that calls broadcast()
    python -m bench.servers gateway      Sotto's local gateway with the real handlers

Both print ``ready <port>``, then obey lines on stdin: ``prepare <connections>`` (wait until
exactly that many are open and, for the gateway, resolve them from DynamoDB as the fan-out does;
prints ``prepared <resolve-ms>``), ``burst <messages>`` (fan out; prints ``sent <gone>``, the
connections reported gone summed over the messages: always 0 for the baseline) and ``quit``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from websockets.asyncio.server import ServerConnection, broadcast, serve

from chat.logic import plan_fanout
from chat.model import FanoutEnvelope
from common.clock import SystemClock
from common.runtime import process_clients
from connections.model import Connection
from connections.store import ConnectionStore
from local_gateway.delivery import GatewayDelivery
from local_gateway.limits import GatewayLimits
from local_gateway.routes import AUTHORIZER, load_function, load_routes
from local_gateway.server import GatewayConfig, LocalGateway

LIMITS = GatewayLimits()


def payload(seq: int) -> str:
    """A realistic ``message`` event (about 1.1 KB, most of it the presigned URL)."""
    return json.dumps(
        {
            "type": "message",
            "conversationId": "d_206219d986234527e3e6dbcf4eb0b1f7",
            "messageId": f"m_agrabdmym22cxgbss4bage{seq:05d}",
            "seq": seq,
            "from": "56358f5e-25a0-4e8f-a37e-52fb951219af",
            "sentAt": "2026-11-21T23:59:46.120Z",
            "clip": {
                "id": "c_agrabdmybxc4ys7l7iupwiifcq",
                "url": "https://sotto-prod-clips.s3.amazonaws.com/clips/raw/56358f5e-25a0-4e8f-a37e-"
                "52fb951219af/c_agrabdmybxc4ys7l7iupwiifcq?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-"
                "Credential=ASIAEXAMPLEEXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-"
                "Date=20261121T235946Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-"
                "Token=" + "x" * 200 + "&X-Amz-Signature=" + "a" * 64,
                "contentType": "audio/ogg",
                "durationMs": 2150,
                "waveform": list(range(0, 256, 4)),
            },
        },
        separators=(",", ":"),
    )


Step = Callable[[int], Awaitable[float]]


async def obey(prepare: Step, burst: Step) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            return
        if line[0] == "prepare":
            print(f"prepared {await prepare(int(line[1])):.3f}", flush=True)
        elif line[0] == "burst":
            print(f"sent {await burst(int(line[1])):.0f}", flush=True)


async def wait_for(count: Callable[[], int], target: int) -> None:
    while count() != target:
        await asyncio.sleep(0.01)


async def baseline() -> None:
    connections: set[ServerConnection] = set()

    async def handler(socket: ServerConnection) -> None:
        connections.add(socket)
        try:
            await socket.wait_closed()
        finally:
            connections.discard(socket)

    async def prepare(expected: int) -> float:
        await wait_for(lambda: len(connections), expected)
        return 0.0

    async def burst(messages: int) -> float:
        for seq in range(messages):
            broadcast(connections, payload(seq))
        return 0.0

    max_size = (LIMITS.max_message_bytes, LIMITS.max_frame_bytes)
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=max_size) as server:
        print(f"ready {next(iter(server.sockets)).getsockname()[1]}", flush=True)
        await obey(prepare, burst)


async def gateway() -> None:
    """The gateway as ``make dev`` runs it (real authorizer and $connect against the stack in
    AWS_ENDPOINT_URL / REDIS_URL); each burst fans out through plan_fanout and GatewayDelivery."""
    settings = process_clients().settings
    limits = replace(LIMITS, max_outbound_buffer_bytes=settings.max_outbound_buffer_bytes)
    gateway = LocalGateway(
        GatewayConfig("127.0.0.1", 0, 0, settings.stage, settings.region, limits),
        routes=load_routes(),
        authorizer=load_function(AUTHORIZER),
    )
    os.environ["SOTTO_MANAGEMENT_ENDPOINT"] = await gateway.start_http()
    await gateway.start_websocket()
    delivery = GatewayDelivery(gateway.registry, gateway.writer)
    store = ConnectionStore(process_clients().dynamodb, settings.connections_table)
    user_id = os.environ["BENCH_USER_ID"]

    live: list[Connection] = []

    async def prepare(expected: int) -> float:
        await wait_for(lambda: len(gateway.registry), expected)
        started = time.perf_counter()
        live[:] = await asyncio.to_thread(store.live_for_users, [user_id], SystemClock().now())
        return (time.perf_counter() - started) * 1000

    async def burst(messages: int) -> float:
        gone = 0
        for seq in range(messages):
            envelope = FanoutEnvelope("d_bench", "the-senders-connection", payload(seq))
            gone += len(
                await delivery.deliver(
                    envelope.payload, plan_fanout(envelope, [c.connection_id for c in live])
                )
            )
        return gone

    print(f"ready {gateway.ws_url.rsplit(':', 1)[1].split('/')[0]}", flush=True)
    try:
        await obey(prepare, burst)
    finally:
        await gateway.stop()


if __name__ == "__main__":
    asyncio.run({"baseline": baseline, "gateway": gateway}[sys.argv[1]]())
