"""Only verified users chat: the check every chat action makes first.

A yes is kept in Redis for a while (a user becomes verified and stays so); a no is read from the
users table every time, so an approval takes effect on the very next request. Redis being down
costs a read, never a refusal.
"""

from __future__ import annotations

import contextlib

import redis

from chat.store import UserDirectory
from common.errors import NotVerified
from common.logs import get_logger

log = get_logger("gate")


class VerifiedGate:
    def __init__(
        self, users: UserDirectory, client: redis.Redis, namespace: str, ttl_seconds: int = 600
    ) -> None:
        self._users = users
        self._client = client
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds

    def require(self, user_id: str) -> None:
        key = f"{self._namespace}:verified:{user_id}"
        try:
            if self._client.exists(key):
                return
        except redis.RedisError as error:
            log.warning("verified cache unavailable (%s); reading the users table", error)
        profile = self._users.get(user_id)
        if profile is None or not profile.verified:
            raise NotVerified(
                "Your account is not verified yet: send a selfie, and a moderator will look at it."
            )
        with contextlib.suppress(redis.RedisError):  # the next request reads the table again
            self._client.set(key, "1", ex=self._ttl_seconds)
