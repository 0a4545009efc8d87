"""Delivery through API Gateway's Management API (``@connections``), spoken directly: SigV4-
signed POSTs, many at once, over kept-alive HTTP connections.

boto3's ``post_to_connection`` is synchronous and pays its request machinery on every call;
a fan-out to a group is hundreds of small POSTs to the same host, so this adapter signs each
with botocore's own SigV4 signer and sends it on one aiohttp session whose connections stay
open between messages. A 410 means the connection is gone; throttling (429) and server
errors are retried with jittered exponential backoff; and every POST first takes a token from
``CallbackRate``, this process's share of the account's request rate, which API Gateway
counts across all of the account's APIs in the region.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
from botocore.credentials import ReadOnlyCredentials
from yarl import URL

from chat.sigv4 import Sigv4Signer, payload_hash
from common.logs import get_logger

log = get_logger("delivery")

GONE = 410
THROTTLED = 429
RETRIED = frozenset({THROTTLED, 500, 502, 503, 504})
SERVICE = "execute-api"


class CallbackRate:
    """A token bucket: at most ``per_second`` POSTs a second on average, in bursts of at most
    ``burst``. Shared by every delivery of the process."""

    def __init__(
        self,
        per_second: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("the callback rate must be positive")
        self._rate = per_second
        self._burst = burst if burst is not None else max(1.0, per_second / 10)
        self._tokens = self._burst
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()

    async def take(self) -> None:
        """Wait for this POST's turn. A token taken while none is left is owed: the caller
        waits until the bucket will have refilled it, so callers queue up in order."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens -= 1
        if self._tokens < 0:
            await self._sleep(-self._tokens / self._rate)


@dataclass(frozen=True)
class PostPolicy:
    concurrency: int = 64  # POSTs in flight per delivery
    max_attempts: int = 5  # for a throttled or failed POST, first try included
    backoff_seconds: float = 0.05  # the first retry's ceiling; doubles each time
    max_backoff_seconds: float = 2.0
    timeout_seconds: float = 10.0


Credentials = Callable[[], ReadOnlyCredentials]


@dataclass(frozen=True)
class _Body:
    """A message's bytes and their hash, computed once for all its POSTs."""

    data: bytes
    sha256: str


class SignedManagementApi:
    """The fan-out's ``DeliveryPort`` in AWS (and against the local gateway's ``@connections``,
    which accepts any signature)."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        credentials: Credentials,
        rate: CallbackRate,
        policy: PostPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._region = region
        self._credentials = credentials
        self._rate = rate
        self._policy = policy or PostPolicy()
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._signer: tuple[ReadOnlyCredentials, Sigv4Signer] | None = None

    @property
    def endpoint(self) -> str:
        return self._endpoint

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        """Post ``payload`` to each connection; the ids that answered 410 Gone."""
        data = payload.encode()
        body = _Body(data, payload_hash(data))
        session = self._open_session()
        signer = self._signer_now()
        waiting = iter(connection_ids)
        gone: set[str] = set()

        async def worker() -> None:
            """One of ``concurrency`` posters, each taking the next connection in turn."""
            for connection_id in waiting:
                if await self._post(session, signer, connection_id, body):
                    gone.add(connection_id)

        workers = min(self._policy.concurrency, len(connection_ids))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return gone

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _open_session(self) -> aiohttp.ClientSession:
        """One session per event loop: it keeps its connections open between deliveries. (A
        Lambda that runs each invocation in a new loop gets a new session each time.)"""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            timeout = aiohttp.ClientTimeout(total=self._policy.timeout_seconds)
            connector = aiohttp.TCPConnector(limit=self._policy.concurrency, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector)
            self._session_loop = loop
        return self._session

    def _signer_now(self) -> Sigv4Signer:
        """Credentials are read for each delivery: in Lambda and ECS they rotate."""
        credentials = self._credentials()
        if self._signer is None or self._signer[0] is not credentials:
            self._signer = (credentials, Sigv4Signer(credentials, self._region, SERVICE))
        return self._signer[1]

    async def _post(
        self, session: aiohttp.ClientSession, signer: Sigv4Signer, connection_id: str, body: _Body
    ) -> bool:
        """True when the connection is gone; any other outcome is logged, never raised."""
        url = URL(f"{self._endpoint}/@connections/{quote(connection_id, safe='')}", encoded=True)
        status = 0
        for attempt in range(1, self._policy.max_attempts + 1):
            await self._rate.take()
            status = await self._send(session, signer, url, body)
            if status == GONE:
                return True
            if status not in RETRIED and status != 0:
                break
            if attempt < self._policy.max_attempts:
                await self._sleep(self._backoff(attempt))
        if not 200 <= status < 300:  # noqa: PLR2004 (any 2xx)
            log.warning("delivery to %s failed: HTTP %s", connection_id, status or "error")
        return False

    async def _send(
        self, session: aiohttp.ClientSession, signer: Sigv4Signer, url: URL, body: _Body
    ) -> int:
        """The response's status; 0 when no response came (a network error or a timeout)."""
        headers = signer.headers("POST", str(url), body.sha256, datetime.now(UTC))
        try:
            async with session.post(url, data=body.data, headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            log.info("a POST to @connections got no answer: %s", type(error).__name__)
            return 0

    def _backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to a ceiling that doubles with each attempt."""
        ceiling = min(
            self._policy.max_backoff_seconds, self._policy.backoff_seconds * 2 ** (attempt - 1)
        )
        return random.uniform(0, ceiling)  # noqa: S311 (jitter, not security)
