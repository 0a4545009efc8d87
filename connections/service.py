"""Opening and closing connections: the registry in DynamoDB is the truth, presence is a hint."""

from __future__ import annotations

from common.clock import Clock
from common.events import Caller
from common.logs import get_logger
from connections.logic import new_connection
from connections.model import Connection
from connections.store import ConnectionStore, PresenceStore, PresenceUnavailable

log = get_logger("connections")


class ConnectionService:
    def __init__(
        self,
        store: ConnectionStore,
        presence: PresenceStore,
        clock: Clock,
        ttl_seconds: int,
    ) -> None:
        self._store = store
        self._presence = presence
        self._clock = clock
        self._ttl_seconds = ttl_seconds

    def open(self, connection_id: str, caller: Caller) -> Connection:
        connection = new_connection(connection_id, caller, self._clock.now(), self._ttl_seconds)
        self._store.put(connection)
        try:
            self._presence.online(caller.user_id, connection_id, self._ttl_seconds)
        except PresenceUnavailable as error:
            log.warning("presence not recorded: %s", error)
        log.info("user %s connected", caller.user_id)
        return connection

    def close(self, connection_id: str) -> None:
        """Forget a connection; closing one that is already gone is not an error."""
        connection = self._store.delete(connection_id)
        if connection is None:
            return
        try:
            self._presence.offline(connection.user_id, connection_id)
        except PresenceUnavailable as error:
            log.warning("presence not cleared: %s", error)
        log.info("user %s disconnected", connection.user_id)
