"""Delivery to the gateway's own sockets: the local adapter of chat's delivery port."""

from __future__ import annotations

from collections.abc import Sequence

from websockets.asyncio.server import broadcast

from local_gateway.registry import ConnectionRegistry


class GatewayDelivery:
    """Writes one frame to many sockets at once; unknown or closed connections are Gone."""

    def __init__(self, registry: ConnectionRegistry) -> None:
        self._registry = registry

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        gone: set[str] = set()
        reached = []
        for connection_id in connection_ids:
            live = self._registry.get(connection_id)
            if live is None:
                gone.add(connection_id)
            else:
                reached.append(live)
        self._registry.touch(*reached)
        broadcast([live.socket for live in reached], payload)
        return gone
