"""The Management API adapter against a stand-in ``@connections`` server on loopback: requests
are SigV4-signed for execute-api, 410 means gone, throttling and server errors are retried
with backoff, other refusals are not, connections are kept alive between messages, and the
callback rate holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from botocore.credentials import ReadOnlyCredentials

from chat.management_api import CallbackRate, PostPolicy, SignedManagementApi

CREDENTIALS = ReadOnlyCredentials("AKIDEXAMPLE", "secret", None)
Answer = Callable[[str, int], int]  # (connection id, attempt) -> status


class StandIn:
    """Answers each POST as ``answer`` says, and remembers what came."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.attempts: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        self.authorizations: list[str] = []
        self.peers: set[tuple[str, int]] = set()

    async def post(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        self.attempts[connection_id] += 1
        self.bodies.append(await request.read())
        self.authorizations.append(request.headers.get("Authorization", ""))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.peers.add(tuple(peer[:2]))
        status = self.answer(connection_id, self.attempts[connection_id])
        return web.Response(status=status, text="{}")


@contextlib.asynccontextmanager
async def stand_in(answer: Answer) -> AsyncIterator[tuple[StandIn, str]]:
    server = StandIn(answer)
    app = web.Application()
    app.router.add_post("/prod/@connections/{connection_id}", server.post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://127.0.0.1:{port}/prod"
    finally:
        await runner.cleanup()


async def no_wait(_: float) -> None:
    await asyncio.sleep(0)


def adapter(endpoint: str, **policy: Any) -> SignedManagementApi:
    return SignedManagementApi(
        endpoint,
        region="eu-west-1",
        credentials=lambda: CREDENTIALS,
        rate=CallbackRate(100_000),
        policy=PostPolicy(**policy),
        sleep=no_wait,
    )


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_posts_are_signed_and_410_means_gone() -> None:
    async def scenario() -> None:
        async with stand_in(lambda cid, _: 410 if cid.startswith("gone") else 200) as (server, url):
            api = adapter(url)
            gone = await api.deliver('{"type":"message"}', ["a=", "gone-1", "b/c", "gone-2"])
            await api.close()
        assert gone == {"gone-1", "gone-2"}
        assert set(server.attempts) == {"a=", "gone-1", "b/c", "gone-2"}  # ids are URL-quoted
        assert set(server.bodies) == {b'{"type":"message"}'}
        for authorization in server.authorizations:
            assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            assert "/eu-west-1/execute-api/aws4_request" in authorization

    run(scenario)


def test_throttling_and_server_errors_are_retried_other_refusals_are_not() -> None:
    def answer(connection_id: str, attempt: int) -> int:
        if connection_id == "throttled":
            return 429 if attempt <= 2 else 200
        if connection_id == "flaky":
            return 503 if attempt == 1 else 200
        if connection_id == "forbidden":
            return 403
        return 429  # always throttled

    async def scenario() -> None:
        async with stand_in(answer) as (server, url):
            api = adapter(url, max_attempts=4)
            gone = await api.deliver("{}", ["throttled", "flaky", "forbidden", "hopeless"])
            await api.close()
        assert gone == set()
        assert server.attempts == {"throttled": 3, "flaky": 2, "forbidden": 1, "hopeless": 4}

    run(scenario)


def test_connections_are_kept_alive_between_messages() -> None:
    async def scenario() -> None:
        async with stand_in(lambda *_: 200) as (server, url):
            api = adapter(url, concurrency=4)
            for _ in range(5):
                await api.deliver("{}", [f"c{i}" for i in range(20)])
            await api.close()
        assert sum(server.attempts.values()) == 100
        assert len(server.peers) <= 4  # 100 POSTs over at most 4 connections

    run(scenario)


def test_the_callback_rate_spaces_posts_out() -> None:
    """200 per second with bursts of 10: 50 POSTs need about 0.2 s of waiting."""
    now = [0.0]
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    async def scenario() -> None:
        rate = CallbackRate(200, burst=10, clock=lambda: now[0], sleep=sleep)
        for _ in range(50):
            await rate.take()

    run(scenario)
    assert abs(sum(waited) - 0.2) < 0.01
    assert max(waited) <= 1 / 200 + 1e-9
