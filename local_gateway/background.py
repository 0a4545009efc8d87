"""The local stack as a child process, started as ``make dev`` starts it: for end-to-end tests
and benchmarks, which must talk to it over sockets only."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

STARTUP_SECONDS = 90


def isolated_environment(
    base: Mapping[str, str], stage: str, log_level: str = "INFO"
) -> dict[str, str]:
    """``base`` without AWS or Sotto settings, plus a stage and Redis namespace of its own and
    free ports, so a stack started with it cannot collide with another (``REDIS_URL`` is kept:
    the stack uses that Redis when it is set)."""
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "SOTTO_"))}
    env.update(
        {
            "SOTTO_STAGE": stage,
            "SOTTO_REDIS_NAMESPACE": f"sotto-{stage}-{uuid.uuid4().hex[:10]}",
            "SOTTO_GATEWAY_WS_PORT": "0",
            "SOTTO_GATEWAY_HTTP_PORT": "0",
            "SOTTO_GATEWAY_API_PORT": "0",
            "SOTTO_LOCAL_AWS_PORT": "0",
            "SOTTO_LOG_LEVEL": log_level,
        }
    )
    return env


class StackProcess:
    """``with StackProcess(env, folder) as stack: stack.info[...]``; stopped with SIGTERM."""

    def __init__(self, env: Mapping[str, str], folder: Path) -> None:
        self._env = dict(env)
        self.info_file = folder / "local.json"
        self.log_file = folder / "stack.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> StackProcess:
        with self.log_file.open("w") as log:
            self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", "local_gateway", "--info-file", str(self.info_file)],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.info_file.parent,
            )
        try:
            self.info = self._wait_for_info(self._process)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _wait_for_info(self, process: subprocess.Popen[bytes]) -> dict[str, Any]:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.info_file.exists():
                info: dict[str, Any] = json.loads(self.info_file.read_text())
                return info
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"the local stack did not start:\n{self.log_file.read_text()[-4000:]}")
