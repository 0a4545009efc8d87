"""Functional tier: handlers driven with API Gateway event shapes on moto, and Redis that is
fakeredis, or the real server when REDIS_URL is set."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis
from moto import mock_aws

from common.clients import Clients
from common.settings import Settings
from local_gateway.provision import create_buckets, create_queues, create_tables
from tests.conftest import REAL_REDIS_URL


@pytest.fixture
def fake_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def aws(aws_credentials: None, settings: Settings, fake_redis: redis.Redis) -> Iterator[Clients]:
    with mock_aws():
        clients = Clients(settings, redis_client=fake_redis)
        create_tables(clients)
        create_buckets(clients)
        create_queues(clients)
        yield clients


@pytest.fixture(params=["fakeredis", "real"])
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis URL: fakeredis over TCP, and the real server when REDIS_URL is set."""
    if request.param == "real":
        if not REAL_REDIS_URL:
            pytest.skip("REDIS_URL is not set")
        yield REAL_REDIS_URL
        return
    server = fakeredis.TcpFakeServer(("127.0.0.1", 0))
    server.daemon_threads = True
    server.block_on_close = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class OperationLog:
    """Wraps a boto3 client and records the operations called on it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute) and not name.startswith("get_paginator"):

            def recorded(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attribute(*args, **kwargs)

            return recorded
        if name == "get_paginator":

            def paginator(operation: str) -> Any:
                self.calls.append(operation)
                return attribute(operation)

            return paginator
        return attribute


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class AtomicRequests:
    """DynamoDB runs each request atomically; moto's in-process backend does not (concurrent
    transactions crash inside it). This proxy makes each call atomic, while calls from
    different threads still interleave between requests, which is the race under test."""

    _lock = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in {"get_paginator", "exceptions"}:
            return attribute

        def atomic(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return atomic
