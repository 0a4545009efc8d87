"""The gateway's live sockets by connection id: what ``@connections`` and delivery reach."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from common.clock import Clock
from common.events import ConnectionInfo


@dataclass(eq=False)
class LiveConnection:
    info: ConnectionInfo
    socket: ServerConnection
    authorizer: dict[str, Any]
    opened_at: float  # monotonic seconds
    last_active: float  # monotonic seconds, for the idle timeout
    last_active_at: datetime  # wall clock, for @connections GET

    @property
    def is_open(self) -> bool:
        return self.socket.state is State.OPEN


class ConnectionRegistry:
    def __init__(self, clock: Clock, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._live: dict[str, LiveConnection] = {}
        self._clock = clock
        self._monotonic = monotonic

    def add(self, connection: LiveConnection) -> None:
        self._live[connection.info.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self._live.pop(connection_id, None)

    def get(self, connection_id: str) -> LiveConnection | None:
        """The connection if it is still open; a closing or closed one is as good as gone."""
        live = self._live.get(connection_id)
        return live if live is not None and live.is_open else None

    def touch(self, *connections: LiveConnection) -> None:
        """A data message went in or out: API Gateway's idle timer starts again."""
        monotonic, wall = self._monotonic(), self._clock.now()
        for connection in connections:
            connection.last_active = monotonic
            connection.last_active_at = wall

    def connection_ids(self) -> list[str]:
        return list(self._live)

    def __len__(self) -> int:
        return len(self._live)
