"""A redis-server of a test's own, on a spare port, to stop and start again: fault tests must
never touch the shared Redis on 6379."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnRedis:
    """``with OwnRedis(folder) as server:``; ``kill()`` and ``start()`` again on the same port.
    Leaving the block stops the server by its PID."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        assert REDIS_SERVER is not None, "redis-server is not installed"
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log = folder / f"redis-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OwnRedis:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.kill()

    def start(self, seconds: float = 10) -> None:
        assert self._process is None, "already running"
        with self._log.open("a") as log:
            self._process = subprocess.Popen(
                [
                    str(REDIS_SERVER),
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--daemonize", "no"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + seconds
        while not self.answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start:\n{self._log.read_text()[-2000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        """As a crash: SIGKILL to our own PID, and wait until it is gone."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def subscribers(self, channel: str) -> int:
        with self.client() as client:
            counts = dict(client.pubsub_numsub(channel))
        return int(counts.get(channel.encode(), 0))

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
