"""End-to-end tier: the local stack as a separate process, started the way ``make dev`` starts
it, on free ports; tests talk to it over real sockets only."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = isolated_environment(os.environ, stage="e2e")
    with StackProcess(env, tmp_path_factory.mktemp("stack")) as process:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "sotto-local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sotto-local")
        settings = Settings.from_env({**env, "AWS_ENDPOINT_URL": process.info["aws_endpoint"]})
        yield Stack(process.info, process.info_file, Clients(settings))
