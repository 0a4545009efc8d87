"""End-to-end tier: the local stack as a separate process, started the way ``make dev`` starts
it, on free ports; tests talk to it over real sockets only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common.clients import Clients
from common.settings import Settings
from local_gateway.background import StackProcess, isolated_environment
from sotto_cli.config import ClientConfig


@dataclass(frozen=True)
class Stack:
    info: dict[str, Any]
    info_file: Path
    clients: Clients  # boto3 against the stack's moto endpoint, to look inside

    @property
    def config(self) -> ClientConfig:
        return ClientConfig(
            ws_url=self.info["ws_url"],
            client_id=self.info["client_id"],
            region=self.info["region"],
            cognito_endpoint=self.info["aws_endpoint"],
        )

    def user(self, name: str) -> dict[str, str]:
        return next(u for u in self.info["demo_users"] if u["username"] == name)


@contextmanager
def running_stack(folder: Path, stage: str, **settings: str) -> Iterator[Stack]:
    """A stack of its own (stage, Redis namespace, ports), with ``settings`` (environment
    variables such as ``REDIS_URL`` or ``SOTTO_SEND_RATE_LIMIT``) on top."""
    env = {**isolated_environment(os.environ, stage=stage), **settings}
    with StackProcess(env, folder) as process:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "sotto-local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sotto-local")
        read = Settings.from_env({**env, "AWS_ENDPOINT_URL": process.info["aws_endpoint"]})
        yield Stack(process.info, process.info_file, Clients(read))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack"), "e2e") as started:
        yield started


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack of the test's own (it starts in about 1.5 s): no conversations, contacts or
    connections left by other tests, and a send rate limit that allows bursts from one user
    (the ``stack`` fixture keeps the default, and many tests send as alice there)."""
    with running_stack(tmp_path, "e2e-own", SOTTO_SEND_RATE_LIMIT="10000") as started:
        yield started
