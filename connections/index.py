"""Where fan-out finds a user's live connections.

The connections table is the truth, but asking it once per member per message costs a query
per member. Redis's presence sets (kept by ``$connect`` and ``$disconnect``) answer for all
members in one round trip; they are used while they are known complete. If Redis lost them
(a restart without persistence), the first fan-out to notice rebuilds them from the table, and
until then, or while Redis is down, the table answers. A stale id in a set is harmless: its
delivery answers Gone and it is forgotten in both places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from common.logs import get_logger
from connections.store import ConnectionStore, PresenceStore, PresenceUnavailable

log = get_logger("connections")

# Longer than a $connect may take (API Gateway's 29 s integration timeout).
CONNECTING_GRACE = timedelta(seconds=30)


class LiveConnections:
    def __init__(self, store: ConnectionStore, presence: PresenceStore, ttl_seconds: int) -> None:
        self._store = store
        self._presence = presence
        self._ttl_seconds = ttl_seconds

    def of_users(self, user_ids: Sequence[str], now: datetime) -> dict[str, str]:
        """connection id -> user id, for every live connection of these users."""
        users = list(dict.fromkeys(user_ids))
        try:
            indexed = self._presence.connections_of(users)
            if indexed is None:
                self._rebuild(now)
        except PresenceUnavailable as error:
            log.warning("presence index unavailable (%s); reading the connections table", error)
            indexed = None
        if indexed is not None:
            return {cid: user for user, ids in indexed.items() for cid in sorted(ids)}
        return {c.connection_id: c.user_id for c in self._store.live_for_users(users, now)}

    def forget(self, gone: Mapping[str, str], now: datetime) -> None:
        """Connections (id -> user) that answered Gone: out of the table and the index, unless
        they are new enough to be still connecting (Gone until their ``$connect`` returns)."""
        deleted = self._store.delete_gone(gone, now - CONNECTING_GRACE)
        try:
            self._presence.forget({cid: gone[cid] for cid in deleted})
        except PresenceUnavailable as error:
            log.warning("gone connections stay in the presence index: %s", error)

    def distrust_index(self) -> None:
        """After a Redis outage: connections opened meanwhile are missing from the sets."""
        try:
            self._presence.distrust()
        except PresenceUnavailable as error:
            log.warning("could not mark the presence index for a rebuild: %s", error)

    def _rebuild(self, now: datetime) -> None:
        if self._presence.rebuild(self._store.all_live(now), self._ttl_seconds):
            log.info("rebuilt the presence index from the connections table")
