"""The local gateway behaves like API Gateway's WebSocket API (with stand-in handlers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket as sockets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import boto3
import pytest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.management_api import CallbackRate, SignedManagementApi
from local_gateway.delivery import GatewayDelivery
from local_gateway.limits import TOO_SLOW, TRY_AGAIN_LATER, GatewayLimits
from local_gateway.server import GatewayConfig, LocalGateway
from tests.functional import stub_handlers
from tests.functional.stub_handlers import EVENTS, ROUTES

KB = 1024


@contextlib.asynccontextmanager
async def gateway(**limits: float) -> AsyncIterator[LocalGateway]:
    EVENTS.clear()
    config = GatewayConfig(
        host="127.0.0.1",
        ws_port=0,
        http_port=0,
        stage="test",
        region="us-east-1",
        limits=GatewayLimits(**limits),  # type: ignore[arg-type]
    )
    server = LocalGateway(config, ROUTES, stub_handlers.authorize)
    await server.start_http()
    await server.start_websocket()
    try:
        yield server
    finally:
        await server.stop()


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 20) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout))


async def open_as(server: LocalGateway, token: str) -> ClientConnection:
    return await connect(f"{server.ws_url}?token={token}", compression=None)


async def refusal(server: LocalGateway, query: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{server.ws_url}{query}")
    response = refused.value.response
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.body)


def routes_called() -> list[str]:
    """Route keys of the events the handlers saw; authorizer events count as "authorizer"."""
    return [
        "authorizer" if e.get("type") == "REQUEST" else e["requestContext"]["routeKey"]
        for e in EVENTS
    ]


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


def test_handshake_refusals_are_http_statuses_with_json_bodies() -> None:
    async def scenario() -> None:
        async with gateway() as server:
            assert await refusal(server, "") == (
                401,
                {"code": "unauthorized", "message": "A token query parameter is required."},
            )
            assert routes_called() == []  # a missing identity source never reaches the authorizer
            assert (await refusal(server, "?token=forged"))[0] == 401
            assert (await refusal(server, "?token=deny")) == (
                403,
                {"code": "forbidden", "message": "Forbidden"},
            )
            assert (await refusal(server, "?token=explode"))[0] == 500
            assert routes_called() == ["authorizer"] * 3  # $connect never ran for a refused token
            assert await refusal(server, "?token=full") == (
                429,
                {"code": "rate_limited", "message": "Too many connections"},
            )
            assert len(server.registry) == 0

    run(scenario)


def test_events_carry_api_gateways_shape_and_the_authorizer_context() -> None:
    async def scenario() -> None:
        async with gateway() as server:
            socket = await open_as(server, "alice")
            await socket.send(json.dumps({"action": "echo", "hello": 1}))
            assert json.loads(await socket.recv()) == {"action": "echo", "hello": 1}
            authorizer_event, connect_event, message_event = EVENTS
            assert authorizer_event["type"] == "REQUEST"
            assert authorizer_event["methodArn"].endswith("/test/$connect")
            assert authorizer_event["queryStringParameters"] == {"token": "alice"}
            connection_id = connect_event["requestContext"]["connectionId"]
            assert connect_event["requestContext"]["eventType"] == "CONNECT"
            assert connect_event["requestContext"]["authorizer"]["principalId"] == "alice"
            context = message_event["requestContext"]
            assert (context["routeKey"], context["eventType"], context["connectionId"]) == (
                "echo",
                "MESSAGE",
                connection_id,
            )
            assert context["authorizer"]["userId"] == "alice"
            assert context["stage"] == "test" and context["domainName"].startswith("127.0.0.1:")
            await socket.close()
            await until(lambda: "$disconnect" in routes_called())
            disconnect_event = EVENTS[-1]["requestContext"]
            assert disconnect_event["connectionId"] == connection_id
            assert disconnect_event["disconnectStatusCode"] == 1000

    run(scenario)


def test_unmatched_frames_go_to_default_and_failures_answer_like_api_gateway() -> None:
    async def scenario() -> None:
        async with gateway(integration_timeout_seconds=0.3) as server:
            socket = await open_as(server, "alice")
            for body in ('{"action":"dance"}', "not json", '{"action":"$connect"}'):
                await socket.send(body)
                assert json.loads(await socket.recv()) == {"type": "default"}
            await socket.send('{"action":"crash"}')
            crashed = json.loads(await socket.recv())
            assert crashed["message"] == "Internal server error" and crashed["connectionId"]
            await socket.send('{"action":"slow"}')
            assert json.loads(await socket.recv())["message"] == "Endpoint request timed out"
            await socket.send('{"action":"silent"}')
            await socket.send('{"action":"echo","n":2}')
            assert json.loads(await socket.recv()) == {
                "action": "echo",
                "n": 2,
            }  # silent sent nothing
            await socket.close()

    run(scenario)


def test_frames_over_32_kb_and_messages_over_128_kb_close_with_1009() -> None:
    async def scenario() -> None:
        async with gateway() as server:
            big_frame = await open_as(server, "alice")
            await big_frame.send(json.dumps({"action": "echo", "pad": "x" * (32 * KB)}))
            with pytest.raises(ConnectionClosed) as closed:
                await big_frame.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

            fragmented = await open_as(server, "alice")
            body = json.dumps({"action": "echo", "pad": "y" * (120 * KB)})
            await fragmented.send([body[i : i + 30 * KB] for i in range(0, len(body), 30 * KB)])
            assert json.loads(await fragmented.recv())["pad"] == "y" * (120 * KB)  # within limits
            too_long = json.dumps({"action": "echo", "pad": "z" * (128 * KB)})
            await fragmented.send(
                [too_long[i : i + 30 * KB] for i in range(0, len(too_long), 30 * KB)]
            )
            with pytest.raises(ConnectionClosed) as closed:
                await fragmented.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    run(scenario)


def test_binary_frames_close_with_1003_and_disconnect_runs() -> None:
    async def scenario() -> None:
        async with gateway() as server:
            socket = await open_as(server, "alice")
            await socket.send(b"\x00\x01")
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
            await until(lambda: "$disconnect" in routes_called())
            assert EVENTS[-1]["requestContext"]["disconnectStatusCode"] == 1003

    run(scenario)


def test_idle_connections_close_and_active_ones_stay_until_their_lifetime() -> None:
    async def scenario() -> None:
        async with gateway(idle_timeout_seconds=0.6, max_lifetime_seconds=2.0) as server:
            idle = await open_as(server, "alice")
            active = await open_as(server, "bob")
            for _ in range(10):  # 1 s of traffic every 0.1 s keeps "active" open
                await active.send('{"action":"echo"}')
                await active.recv()
                await asyncio.sleep(0.1)
            with pytest.raises(ConnectionClosed) as closed:
                await idle.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            assert active.state.name == "OPEN"
            with pytest.raises(ConnectionClosed) as ended:
                await keep_talking(active)
            assert ended.value.rcvd is not None and ended.value.rcvd.code == 1001
            assert "lifetime" in ended.value.rcvd.reason

    run(scenario)


async def keep_talking(socket: ClientConnection) -> None:
    """Send and receive every 0.1 s until the connection closes."""
    while True:
        await socket.send('{"action":"echo"}')
        await socket.recv()
        await asyncio.sleep(0.1)


def management_client(server: LocalGateway) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=server.management_endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_connections_api_posts_describes_deletes_and_answers_gone() -> None:
    async def scenario() -> None:
        async with gateway() as server:
            socket = await open_as(server, "alice")
            connection_id = EVENTS[1]["requestContext"]["connectionId"]
            api = management_client(server)
            await asyncio.to_thread(
                api.post_to_connection, ConnectionId=connection_id, Data=b'{"hi":1}'
            )
            assert json.loads(await socket.recv()) == {"hi": 1}
            described = await asyncio.to_thread(api.get_connection, ConnectionId=connection_id)
            assert described["Identity"]["SourceIp"] == "127.0.0.1"
            assert described["LastActiveAt"] >= described["ConnectedAt"]
            with pytest.raises(ClientError) as too_big:
                await asyncio.to_thread(
                    api.post_to_connection, ConnectionId=connection_id, Data=b"x" * (128 * KB + 1)
                )
            assert too_big.value.response["Error"]["Code"] == "PayloadTooLargeException"
            await asyncio.to_thread(api.delete_connection, ConnectionId=connection_id)
            with pytest.raises(ConnectionClosed):
                await socket.recv()
            for gone_id in (connection_id, "neverExisted="):
                with pytest.raises(api.exceptions.GoneException):
                    await asyncio.to_thread(api.post_to_connection, ConnectionId=gone_id, Data=b"x")

    run(scenario)


@pytest.mark.parametrize("adapter", ["management_api", "gateway_sockets"])
def test_both_delivery_adapters_deliver_and_report_the_gone(adapter: str) -> None:
    async def scenario() -> None:
        async with gateway() as server:
            alice = await open_as(server, "alice")
            bob = await open_as(server, "bob")
            ids = connection_ids()
            await bob.close()
            await until(lambda: len(server.registry) == 1)
            delivery = (
                SignedManagementApi(
                    server.management_endpoint,
                    region="us-east-1",
                    credentials=lambda: ReadOnlyCredentials("AK", "SK", None),
                    rate=CallbackRate(1000),
                )
                if adapter == "management_api"
                else GatewayDelivery(server.registry, server.writer)
            )
            gone = await delivery.deliver('{"type":"message"}', [*ids, "neverExisted="])
            if isinstance(delivery, SignedManagementApi):
                await delivery.close()
            assert gone == {ids[1], "neverExisted="}
            assert json.loads(await alice.recv()) == {"type": "message"}

    run(scenario)


def connection_ids() -> list[str]:
    """The ids of the connections that passed ``$connect``, in the order they connected."""
    return [
        e["requestContext"]["connectionId"]
        for e in EVENTS
        if e.get("type") != "REQUEST" and e["requestContext"]["eventType"] == "CONNECT"
    ]


async def stalled_client(server: LocalGateway, token: str) -> ClientConnection:
    """A client that completes the handshake and then stops reading: it never calls ``recv()``,
    its queue takes one message, and its socket a few KB. Small segments keep the server's kernel
    from buffering megabytes for it (its send buffer grows with the segment size)."""
    address = urlsplit(server.ws_url)
    raw = sockets.socket()
    raw.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4 * KB)  # before connect: the window
    raw.setsockopt(sockets.IPPROTO_TCP, sockets.TCP_MAXSEG, 536)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (address.hostname, address.port))
    return await connect(f"{server.ws_url}?token={token}", sock=raw, compression=None, max_queue=1)


class Reader:
    """Reads every frame a client receives, in a task; ``has(n)`` waits for the first n."""

    def __init__(self, client: ClientConnection) -> None:
        self.frames: list[str | bytes] = []
        self._arrived = asyncio.Condition()
        self._task = asyncio.create_task(self._read(client))

    async def _read(self, client: ClientConnection) -> None:
        async for frame in client:
            async with self._arrived:
                self.frames.append(frame)
                self._arrived.notify_all()

    async def has(self, count: int, seconds: float = 5) -> None:
        async with asyncio.timeout(seconds), self._arrived:
            await self._arrived.wait_for(lambda: len(self.frames) >= count)


def disconnect_of(connection_id: str) -> dict[str, Any]:
    """The request context of the connection's ``$disconnect`` event, or {} if none ran yet."""
    return next(
        (
            e["requestContext"]
            for e in EVENTS
            if e.get("requestContext", {}).get("eventType") == "DISCONNECT"
            and e["requestContext"]["connectionId"] == connection_id
        ),
        {},
    )


async def read_until_closed(client: ClientConnection) -> tuple[list[str | bytes], ConnectionClosed]:
    received = []
    try:
        while True:
            received.append(await client.recv())
    except ConnectionClosed as closed:
        return received, closed


def test_a_client_that_stops_reading_is_closed_with_1013_and_the_others_get_every_frame() -> None:
    limit = 64 * KB

    async def scenario() -> None:
        async with gateway(max_outbound_buffer_bytes=limit) as server:
            healthy = Reader(await open_as(server, "alice"))
            stalled = await stalled_client(server, "bob")
            healthy_id, stalled_id = connection_ids()
            stalled_on_server = server.registry.get(stalled_id)
            assert stalled_on_server is not None
            delivery = GatewayDelivery(server.registry, server.writer)
            frames = [json.dumps({"seq": n, "pad": "x" * KB}) for n in range(1000)]
            peak, shed_at = 0, len(frames)
            for n, frame in enumerate(frames):
                gone = await delivery.deliver(frame, [healthy_id, stalled_id])
                peak = max(peak, stalled_on_server.socket.transport.get_write_buffer_size())
                shed_at = n if gone and shed_at == len(frames) else shed_at
                assert gone == ({stalled_id} if n >= shed_at else set())  # and stays gone
                await healthy.has(n + 1)  # a healthy client keeps up, and never waits
            assert healthy.frames == frames
            assert 0 < shed_at < len(frames)
            assert peak <= limit + len(frames[0]) + 64  # one frame more, with its header

            # Reading again, it finds every frame written before it fell behind, then 1013.
            received, closed = await read_until_closed(stalled)
            assert received == frames[:shed_at]
            assert closed.rcvd is not None
            assert (closed.rcvd.code, closed.rcvd.reason) == (TRY_AGAIN_LATER, TOO_SLOW)
            await until(lambda: bool(disconnect_of(stalled_id)))
            assert disconnect_of(stalled_id)["disconnectStatusCode"] == TRY_AGAIN_LATER
            assert server.registry.get(healthy_id) is not None and len(server.registry) == 1

    run(scenario)


def test_posting_to_a_client_that_stopped_reading_never_waits_and_ends_in_410() -> None:
    """The direct fan-out posts through ``@connections``: a stalled client must not hold it."""

    async def scenario() -> None:
        async with gateway(max_outbound_buffer_bytes=16 * KB) as server:
            stalled = await stalled_client(server, "alice")
            (stalled_id,) = connection_ids()
            url = f"{server.management_endpoint}/@connections/{stalled_id}"
            statuses = []
            async with aiohttp.ClientSession() as session, asyncio.timeout(5):
                while not statuses or statuses[-1] == 200:
                    async with session.post(url, data=b"x" * KB) as response:
                        statuses.append(response.status)
            assert statuses[-1] == 410 and len(statuses) > 1
            stalled.transport.abort()

    run(scenario)


def test_a_client_that_never_reads_its_replies_is_dropped_after_the_close_timeout() -> None:
    async def scenario() -> None:
        async with gateway(max_outbound_buffer_bytes=16 * KB, close_timeout_seconds=0.5) as server:
            stalled = await stalled_client(server, "alice")
            (stalled_id,) = connection_ids()
            request = json.dumps({"action": "echo", "pad": "x" * KB})
            async with asyncio.timeout(5):  # the route replies pile up until it is shed
                while server.registry.get(stalled_id) is not None:
                    await stalled.send(request)
            # It never answers the closing handshake, so the gateway drops the TCP connection.
            await until(lambda: bool(disconnect_of(stalled_id)), seconds=3)
            assert disconnect_of(stalled_id)["disconnectStatusCode"] == 1006
            assert len(server.registry) == 0
            stalled.transport.abort()

    run(scenario)


@pytest.mark.parametrize("closed_by", ["idle_timeout", "stop"])
def test_closing_a_client_that_stopped_reading_takes_at_most_the_close_timeout(
    closed_by: str,
) -> None:
    async def scenario() -> None:
        idle_timeout = 0.3 if closed_by == "idle_timeout" else 600
        async with (
            asyncio.timeout(3),  # without the close timeout: until a keepalive ping, or never
            gateway(close_timeout_seconds=0.5, idle_timeout_seconds=idle_timeout) as server,
        ):
            stalled = await stalled_client(server, "alice")
            (stalled_id,) = connection_ids()
            stalled_on_server = server.registry.get(stalled_id)
            assert stalled_on_server is not None
            delivery = GatewayDelivery(server.registry, server.writer)
            frame = json.dumps({"pad": "x" * KB})
            # Within the 1 MiB bound, and more than the kernels take in for it.
            while stalled_on_server.socket.transport.get_write_buffer_size() < 512 * KB:
                assert await delivery.deliver(frame, [stalled_id]) == set()
                await asyncio.sleep(0)
            if closed_by == "idle_timeout":
                await until(lambda: bool(disconnect_of(stalled_id)))
        assert disconnect_of(stalled_id)["disconnectStatusCode"] == 1006
        stalled.transport.abort()

    run(scenario)
