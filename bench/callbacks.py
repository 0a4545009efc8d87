"""The AWS-mode fan-out's delivery: one message to 200 connections through the local
gateway's ``@connections`` endpoint (the Management API as API Gateway serves it), posted by
``SignedManagementApi`` (signed, concurrent, kept-alive) beside boto3's ``post_to_connection``
called once per connection in turn, in the same run.

The receiving side runs in a process of its own: the local gateway (its real ``@connections``
app, socket writer and registry; stand-in handlers, since only delivery is measured) and 200
WebSocket clients reading what arrives. Each side is timed until every POST is answered (the
gateway answers once it has written the frame to the socket), and after each round every
client must have both messages. Target (issue 8): at least 5x the sequential baseline.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import ReadOnlyCredentials
from websockets.asyncio.client import ClientConnection, connect

from chat.management_api import CallbackRate, SignedManagementApi
from common.events import CONNECT_ROUTE, DEFAULT_ROUTE, DISCONNECT_ROUTE, allow_policy
from local_gateway.limits import GatewayLimits
from local_gateway.server import GatewayConfig, LocalGateway

CONNECTIONS = 200
ROUNDS = 7
TARGET = 5.0
CREDENTIALS = ReadOnlyCredentials("sotto-local", "sotto-local", None)


def _allow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return allow_policy("bench", event["methodArn"], {"userId": "bench", "username": "bench"})


def _ok(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


async def receive(count: int) -> None:
    """The receiving side: a gateway and ``count`` clients. Prints ``ready <endpoint>`` and
    the connection ids, then answers ``count`` on stdin with the messages received in all."""
    routes = {CONNECT_ROUTE: _ok, DISCONNECT_ROUTE: _ok, DEFAULT_ROUTE: _ok}
    config = GatewayConfig("127.0.0.1", 0, 0, "bench", "us-east-1", GatewayLimits())
    gateway = LocalGateway(config, routes, _allow)
    endpoint = await gateway.start_http()
    await gateway.start_websocket()
    received = 0

    async def read(socket: ClientConnection) -> None:
        nonlocal received
        async for _ in socket:
            received += 1

    sockets = [await connect(f"{gateway.ws_url}?token=x", compression=None) for _ in range(count)]
    readers = [asyncio.create_task(read(socket)) for socket in sockets]
    while len(gateway.registry) < count:
        await asyncio.sleep(0.01)
    print(f"ready {endpoint}", flush=True)
    print(" ".join(gateway.registry.connection_ids()), flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() != "quit":
        print(received, flush=True)
    for reader in readers:
        reader.cancel()
    await gateway.stop()


class Listeners:
    """The receiving process, from the benchmark's side."""

    def __init__(self, count: int) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.callbacks", "receive", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        ready, self.endpoint = self._process.stdout.readline().split()
        assert ready == "ready"
        self.connection_ids = self._process.stdout.readline().split()

    def received(self) -> int:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write("count\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    def all_got(self, expected: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while (got := self.received()) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{got} of {expected} messages arrived")
            time.sleep(0.01)

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write("quit\n")
        self._process.stdin.flush()
        self._process.wait(timeout=30)


def sequential(endpoint: str, region: str) -> Callable[[str, Sequence[str]], None]:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        config=Config(retries={"mode": "standard"}),
    )

    def post_all(payload: str, ids: Sequence[str]) -> None:
        for connection_id in ids:
            client.post_to_connection(ConnectionId=connection_id, Data=payload.encode())

    return post_all


async def measure(listeners: Listeners) -> dict[str, float]:
    """Median seconds for all POSTs of one message to be answered (the gateway answers once
    it has written to the socket), each side in turn; then every socket must have it."""
    endpoint, region, ids = listeners.endpoint, "us-east-1", listeners.connection_ids
    bare = sequential(endpoint, region)
    signed = SignedManagementApi(
        endpoint, region=region, credentials=lambda: CREDENTIALS, rate=CallbackRate(10_000)
    )
    times: dict[str, list[float]] = {"bare": [], "sotto": []}
    expected = 0
    for round_ in range(ROUNDS + 1):  # the first round of each warms up and is not counted
        payload = f'{{"type":"bench","round":{round_}}}'
        started = time.perf_counter()
        await asyncio.to_thread(bare, payload, ids)
        bare_seconds = time.perf_counter() - started
        started = time.perf_counter()
        gone = await signed.deliver(payload, ids)
        sotto_seconds = time.perf_counter() - started
        assert not gone, gone
        expected += 2 * len(ids)
        await asyncio.to_thread(listeners.all_got, expected)
        if round_:
            times["bare"].append(bare_seconds)
            times["sotto"].append(sotto_seconds)
    await signed.close()
    return {side: statistics.median(values) for side, values in times.items()}


def main() -> None:
    print(f"\nThe Management API: one message to {CONNECTIONS} connections through the local")
    print("gateway's @connections, sequential boto3 beside SignedManagementApi")
    listeners = Listeners(CONNECTIONS)
    try:
        assert len(listeners.connection_ids) == CONNECTIONS
        figures = asyncio.run(measure(listeners))
    finally:
        listeners.close()
    bare, ours = figures["bare"], figures["sotto"]
    verdict = "meets" if bare / ours >= TARGET else "misses"
    print(
        f"  sequential post_to_connection {bare * 1000:.0f} ms, SignedManagementApi "
        f"{ours * 1000:.0f} ms: {bare / ours:.1f}x faster ({verdict} the {TARGET:.0f}x target; "
        f"median of {ROUNDS})"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["receive"]:
        asyncio.run(receive(int(sys.argv[2])))
    else:
        main()
