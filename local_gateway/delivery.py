"""Delivery to the gateway's own sockets: the local adapter of chat's delivery port.

Every frame the gateway writes goes through ``SocketWriter``, which bounds what a connection may
leave unsent: a client that stops reading is closed with 1013 instead of growing the server's
memory, and the others never wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection, broadcast

from common.logs import get_logger
from local_gateway.limits import TOO_SLOW, TRY_AGAIN_LATER, GatewayLimits, keeps_up
from local_gateway.registry import ConnectionRegistry, LiveConnection

log = get_logger("gateway")


class SocketWriter:
    """Writes frames without waiting for any peer; sheds the connections that fall behind."""

    def __init__(self, limits: GatewayLimits) -> None:
        self._limits = limits
        self._closing: dict[ServerConnection, asyncio.Task[None]] = {}

    def write(
        self, connections: Sequence[LiveConnection], frame: str | bytes
    ) -> list[LiveConnection]:
        """Write ``frame`` to each connection that keeps up and return those; the others get
        nothing more and are closed with 1013 (their ``$disconnect`` runs once they are closed)."""
        keeping_up = [live for live in connections if self._keeps_up(live)]
        broadcast([live.socket for live in keeping_up], frame)
        return keeping_up

    async def wait_closed(self) -> None:
        """Wait for the connections being shed (each within the close timeout)."""
        if self._closing:
            await asyncio.wait(list(self._closing.values()))

    def _keeps_up(self, live: LiveConnection) -> bool:
        socket = live.socket
        if socket in self._closing:
            return False
        if keeps_up(self._limits, socket.transport.get_write_buffer_size()):
            return True
        if live.is_open:  # else it is closing already
            self._shed(live)
        return False

    def _shed(self, live: LiveConnection) -> None:
        """Close without waiting: the closing handshake with a peer that does not read takes
        the close timeout, and the frames for everyone else must not wait for it."""
        log.warning("closing %s: too slow to read its frames", live.info.connection_id)
        socket = live.socket
        task = asyncio.create_task(
            close_within(socket, TRY_AGAIN_LATER, TOO_SLOW, self._limits.close_timeout_seconds)
        )
        self._closing[socket] = task
        task.add_done_callback(lambda _: self._closing.pop(socket, None))


async def close_within(socket: ServerConnection, code: int, reason: str, seconds: float) -> None:
    """Start the closing handshake and drop the TCP connection if it has not ended in time:
    ``close()`` alone waits without end for a peer that stopped reading."""
    try:
        async with asyncio.timeout(seconds):
            await socket.close(code, reason)
    except TimeoutError:
        socket.transport.abort()


class GatewayDelivery:
    """Writes one frame to many sockets at once; unknown, closed and shed connections are Gone."""

    def __init__(self, registry: ConnectionRegistry, writer: SocketWriter) -> None:
        self._registry = registry
        self._writer = writer

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        found = [live for cid in connection_ids if (live := self._registry.get(cid)) is not None]
        reached = self._writer.write(found, payload)
        self._registry.touch(*reached)
        if len(reached) == len(connection_ids):
            return set()
        return set(connection_ids).difference(live.info.connection_id for live in reached)
