"""Member lists for fan-out, cached in Redis; DynamoDB stays the truth.

The cache is keyed by the conversation's ``membersVersion``, which every membership change
bumps in the same transaction as the change. A reader asks DynamoDB for the version (one small
consistent read) and Redis for that version's list, so a list cached by a reader that raced a
change can never be served for the new version. A change also deletes the old version's entry.
Redis being down only costs the full member query.
"""

from __future__ import annotations

import json

import redis

from chat.conversation_store import ConversationStore
from common.logs import get_logger

log = get_logger("members")


class MemberCache:
    def __init__(self, client: redis.Redis, namespace: str, ttl_seconds: int) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl = ttl_seconds

    def get(self, conversation_id: str, version: int) -> list[str] | None:
        try:
            raw = self._client.get(self._key(conversation_id, version))
        except redis.RedisError as error:
            log.warning("member cache unavailable: %s", error)
            return None
        if raw is None:
            return None
        members: list[str] = json.loads(raw)
        return members

    def put(self, conversation_id: str, version: int, members: list[str]) -> None:
        try:
            self._client.set(self._key(conversation_id, version), json.dumps(members), ex=self._ttl)
        except redis.RedisError as error:
            log.warning("member cache unavailable: %s", error)

    def forget(self, conversation_id: str, version: int) -> None:
        try:
            self._client.delete(self._key(conversation_id, version))
        except redis.RedisError as error:
            log.warning("member cache unavailable: %s", error)

    def _key(self, conversation_id: str, version: int) -> str:
        return f"{self._namespace}:members:{conversation_id}:{version}"


class MemberLookup:
    """Who is in a conversation now: the cache when it has this version, else DynamoDB."""

    def __init__(self, conversations: ConversationStore, cache: MemberCache) -> None:
        self._conversations = conversations
        self._cache = cache

    def member_ids(self, conversation_id: str) -> list[str]:
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            return []
        version = conversation.members_version
        cached = self._cache.get(conversation_id, version)
        if cached is not None:
            return cached
        members = self._conversations.member_ids(conversation_id)
        self._cache.put(conversation_id, version, members)
        return members

    def changed(self, conversation_id: str, old_version: int) -> None:
        self._cache.forget(conversation_id, old_version)
