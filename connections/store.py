"""The only module of this package that talks to DynamoDB and Redis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import redis

from common.clock import epoch_seconds, iso_utc, parse_iso_utc
from connections.model import Connection

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

BY_USER_INDEX = "byUser"
_BATCH_WRITE_LIMIT = 25


class ConnectionStore:
    """Connection records: by connection id, and by user through the ``byUser`` index."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, connection: Connection) -> None:
        self._client.put_item(TableName=self._table, Item=_to_item(connection))

    def get(self, connection_id: str) -> Connection | None:
        item = self._client.get_item(
            TableName=self._table, Key={"connectionId": {"S": connection_id}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def delete(self, connection_id: str) -> Connection | None:
        """Remove a record; returns what was stored, if anything (deleting twice is fine)."""
        old = self._client.delete_item(
            TableName=self._table,
            Key={"connectionId": {"S": connection_id}},
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        return _from_item(old) if old else None

    def delete_many(self, connection_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(connection_ids))
        for start in range(0, len(ids), _BATCH_WRITE_LIMIT):
            requests = [
                {"DeleteRequest": {"Key": {"connectionId": {"S": cid}}}}
                for cid in ids[start : start + _BATCH_WRITE_LIMIT]
            ]
            pending = {self._table: requests}
            while pending:
                result = self._client.batch_write_item(RequestItems=pending)  # type: ignore[arg-type]
                pending = result.get("UnprocessedItems") or {}  # type: ignore[assignment]

    def live_for_users(self, user_ids: Iterable[str], now: datetime) -> list[Connection]:
        """Every unexpired connection of these users, one index query per user, never a scan."""
        found: list[Connection] = []
        for user_id in dict.fromkeys(user_ids):
            found.extend(c for c in self._for_user(user_id) if c.is_live(now))
        return found

    def count_live(self, user_id: str, now: datetime, at_most: int) -> int:
        """How many unexpired connections the user has, counting no further than ``at_most``:
        the index is read for counts only, page by page, and reading stops at the bound."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=BY_USER_INDEX,
            KeyConditionExpression="userId = :u",
            FilterExpression="expiresAt > :now",
            ExpressionAttributeValues={
                ":u": {"S": user_id},
                ":now": {"N": str(epoch_seconds(now))},
            },
            Select="COUNT",
        )
        counted = 0
        for page in pages:
            counted += page.get("Count", 0)
            if counted >= at_most:
                break
        return min(counted, at_most)

    def _for_user(self, user_id: str) -> Iterable[Connection]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=BY_USER_INDEX,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
        )
        for page in pages:
            for item in page.get("Items", []):
                yield _from_item(item)


def _to_item(connection: Connection) -> dict[str, AttributeValueTypeDef]:
    return {
        "connectionId": {"S": connection.connection_id},
        "userId": {"S": connection.user_id},
        "connectedAt": {"S": iso_utc(connection.connected_at)},
        "expiresAt": {"N": str(connection.expires_at)},
    }


def _from_item(item: dict[str, AttributeValueTypeDef]) -> Connection:
    return Connection(
        connection_id=item["connectionId"]["S"],
        user_id=item["userId"]["S"],
        connected_at=parse_iso_utc(item["connectedAt"]["S"]),
        expires_at=int(item["expiresAt"]["N"]),
    )


class PresenceUnavailable(Exception):
    """Redis did not answer; presence is a hint, so callers carry on without it."""


class PresenceStore:
    """Who is online, as Redis sets of connection ids per user, and when each user was last
    seen. Ephemeral: it may be lost, and every entry expires."""

    LAST_SEEN_SECONDS = 90 * 24 * 3600

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    def online(self, user_id: str, connection_id: str, ttl_seconds: int) -> bool:
        """Record the connection; True when it is the user's only one (they just came online)."""
        key = self._key(user_id)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, connection_id)
                # Relative, so Redis's own clock decides; the newest connection lives longest.
                pipe.expire(key, ttl_seconds)
                pipe.scard(key)
                added, _, count = pipe.execute()
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return bool(added) and int(count) == 1

    def offline(self, user_id: str, connection_id: str, now: datetime) -> bool:
        """Forget the connection; True when it was the user's last (they just went offline),
        in which case ``now`` becomes their last-seen time."""
        key = self._key(user_id)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.srem(key, connection_id)
                pipe.scard(key)
                removed, count = pipe.execute()
            if removed and int(count) == 0:
                self._client.set(self._seen_key(user_id), iso_utc(now), ex=self.LAST_SEEN_SECONDS)
                return True
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return False

    def connection_ids(self, user_id: str) -> set[str]:
        try:
            members = self._client.smembers(self._key(user_id))
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}

    def status(self, user_ids: Sequence[str]) -> dict[str, tuple[bool, datetime | None]]:
        """For each user: (online now, last seen)."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    pipe.exists(self._key(user_id))
                    pipe.get(self._seen_key(user_id))
                replies = pipe.execute()
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        status: dict[str, tuple[bool, datetime | None]] = {}
        for position, user_id in enumerate(user_ids):
            online, seen = replies[2 * position], replies[2 * position + 1]
            text = seen.decode() if isinstance(seen, bytes) else seen
            status[user_id] = (bool(online), parse_iso_utc(text) if text else None)
        return status

    def _key(self, user_id: str) -> str:
        return f"{self._namespace}:presence:{user_id}"

    def _seen_key(self, user_id: str) -> str:
        return f"{self._namespace}:lastseen:{user_id}"
