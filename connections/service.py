"""Opening and closing connections: the registry in DynamoDB is the truth, presence is a hint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from common.clock import Clock
from common.events import Caller
from common.logs import get_logger
from connections.logic import check_connection_cap, check_origin, new_connection
from connections.model import Connection
from connections.store import ConnectionStore, PresenceStore, PresenceUnavailable

log = get_logger("connections")

# Tells the user's contacts they came online (last seen None) or went offline (last seen now).
Announce = Callable[[str, bool, datetime | None], None]
# Gives a signed-in user who has no profile yet an unverified one (their first connection).
SignUp = Callable[[Caller, datetime], None]


@dataclass(frozen=True)
class ConnectionPolicy:
    ttl_seconds: int
    max_per_user: int
    allowed_origins: frozenset[str]


class ConnectionService:
    def __init__(
        self,
        *,
        store: ConnectionStore,
        presence: PresenceStore,
        clock: Clock,
        policy: ConnectionPolicy,
        announce: Announce,
        sign_up: SignUp,
    ) -> None:
        self._store = store
        self._presence = presence
        self._clock = clock
        self._policy = policy
        self._announce = announce
        self._sign_up = sign_up

    def open(
        self, connection_id: str, caller: Caller, origin: str | None, node: str = ""
    ) -> Connection:
        check_origin(origin, self._policy.allowed_origins)
        now = self._clock.now()
        cap = self._policy.max_per_user
        check_connection_cap(self._store.count_live(caller.user_id, now, at_most=cap), cap)
        self._sign_up(caller, now)
        connection = new_connection(connection_id, caller, now, self._policy.ttl_seconds, node)
        self._store.put(connection)
        try:
            came_online = self._presence.online(
                caller.user_id,
                connection_id,
                self._policy.ttl_seconds,
                node=node,
                until=connection.expires_at,
            )
        except PresenceUnavailable as error:
            log.warning("presence not recorded: %s", error)
            came_online = False
        if came_online:
            self._announce(caller.user_id, True, None)
        log.info("user %s connected", caller.user_id)
        return connection

    def close(self, connection_id: str) -> None:
        """Forget a connection; closing one that is already gone is not an error."""
        connection = self._store.delete(connection_id)
        if connection is None:
            return
        now = self._clock.now()
        try:
            went_offline = self._presence.offline(
                connection.user_id, connection_id, now, connection.node
            )
        except PresenceUnavailable as error:
            log.warning("presence not cleared: %s", error)
            went_offline = False
        if went_offline:
            self._announce(connection.user_id, False, now)
        log.info("user %s disconnected", connection.user_id)
