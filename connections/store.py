"""The only module of this package that talks to DynamoDB and Redis."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import redis
from botocore.exceptions import ClientError

from common.clock import epoch_seconds, iso_utc, parse_iso_utc
from connections.model import Census, Connection

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

BY_USER_INDEX = "byUser"


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

    def delete_gone(self, connection_ids: Iterable[str], connected_before: datetime) -> list[str]:
        """Delete the records of connections that answered Gone, but not of those that
        connected after ``connected_before``: a connection whose ``$connect`` is still running
        answers Gone too, and must keep its record. Returns the ids deleted."""
        deleted = []
        for connection_id in dict.fromkeys(connection_ids):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"connectionId": {"S": connection_id}},
                    ConditionExpression="connectedAt < :cutoff",
                    ExpressionAttributeValues={":cutoff": {"S": iso_utc(connected_before)}},
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue
            deleted.append(connection_id)
        return deleted

    def all_live(self, now: datetime) -> Iterable[Connection]:
        """Every unexpired connection: a paginated scan, only to rebuild the Redis index."""
        for page in self._client.get_paginator("scan").paginate(TableName=self._table):
            for item in page.get("Items", []):
                connection = _from_item(item)
                if connection.is_live(now):
                    yield connection

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
        **({"node": {"S": connection.node}} if connection.node else {}),
    }


def _from_item(item: dict[str, AttributeValueTypeDef]) -> Connection:
    return Connection(
        connection_id=item["connectionId"]["S"],
        user_id=item["userId"]["S"],
        connected_at=parse_iso_utc(item["connectedAt"]["S"]),
        expires_at=int(item["expiresAt"]["N"]),
        node=item.get("node", {}).get("S", ""),
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

    def online(
        self, user_id: str, connection_id: str, ttl_seconds: int, node: str = "", until: int = 0
    ) -> bool:
        """Record the connection (on ``node``, the endpoint holding it, until epoch second
        ``until``, when known); True when it is the user's only one (they just came online)."""
        key = self._key(user_id)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, connection_id)
                # Relative, so Redis's own clock decides; the newest connection lives longest.
                pipe.expire(key, ttl_seconds)
                pipe.scard(key)
                if node:
                    pipe.zadd(self._node_key(node), {connection_id: until})
                added, _, count, *_ = pipe.execute()
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return bool(added) and int(count) == 1

    def offline(self, user_id: str, connection_id: str, now: datetime, node: str = "") -> bool:
        """Forget the connection; True when it was the user's last (they just went offline),
        in which case ``now`` becomes their last-seen time."""
        key = self._key(user_id)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.srem(key, connection_id)
                pipe.scard(key)
                if node:
                    pipe.zrem(self._node_key(node), connection_id)
                removed, count, *_ = pipe.execute()
            if removed and int(count) == 0:
                self._client.set(self._seen_key(user_id), iso_utc(now), ex=self.LAST_SEEN_SECONDS)
                return True
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return False

    def census(self, now: datetime) -> Census:
        """How many are online now, and on which nodes (for the analytics snapshots). Walks
        the keys with SCAN, so it never blocks Redis; meant for a few runs an hour."""
        try:
            by_node: dict[str, int] = {}
            for raw in self._client.scan_iter(match=self._node_key("*"), count=500):
                key = _text(raw)
                self._client.zremrangebyscore(key, "-inf", epoch_seconds(now))
                by_node[key.removeprefix(self._node_key(""))] = int(self._client.zcard(key))
            users = connections = 0
            for raw in self._client.scan_iter(match=self._key("*"), count=500):
                users += 1
                connections += int(self._client.scard(_text(raw)))
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return Census(online_users=users, connections=connections, by_node=by_node)

    def connection_ids(self, user_id: str) -> set[str]:
        try:
            members = self._client.smembers(self._key(user_id))
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return {_text(m) for m in members}

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
            status[user_id] = (bool(online), parse_iso_utc(_text(seen)) if seen else None)
        return status

    def connections_of(self, user_ids: Sequence[str]) -> dict[str, set[str]] | None:
        """Each user's connection ids, or None when the sets are not known to be complete
        (Redis lost them, or they were never built): then ask DynamoDB."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.exists(self._complete_key)
                for user_id in user_ids:
                    pipe.smembers(self._key(user_id))
                complete, *members = pipe.execute()
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        if not complete:
            return None
        return {user: {_text(m) for m in ids} for user, ids in zip(user_ids, members, strict=True)}

    def forget(self, gone: Mapping[str, str]) -> None:
        """Drop connections (id -> user) that answered Gone."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for connection_id, user_id in gone.items():
                    pipe.srem(self._key(user_id), connection_id)
                pipe.execute()
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error

    def rebuild(self, connections: Iterable[Connection], ttl_seconds: int) -> bool:
        """Refill the sets from the registry (after Redis lost them) and mark them complete.
        False when another process is already at it."""
        try:
            if not self._client.set(self._rebuilding_key, "1", nx=True, ex=60):
                return False
            with self._client.pipeline(transaction=False) as pipe:
                for connection in connections:
                    pipe.sadd(self._key(connection.user_id), connection.connection_id)
                    pipe.expire(self._key(connection.user_id), ttl_seconds)
                pipe.set(self._complete_key, "1")
                pipe.delete(self._rebuilding_key)
                pipe.execute()
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error
        return True

    def distrust(self) -> None:
        """Redis may have lost entries (it was away): rebuild before the sets are used again."""
        try:
            self._client.delete(self._complete_key)
        except redis.RedisError as error:
            raise PresenceUnavailable(str(error)) from error

    @property
    def _complete_key(self) -> str:
        return f"{self._namespace}:presence-complete"

    @property
    def _rebuilding_key(self) -> str:
        return f"{self._namespace}:presence-rebuilding"

    def _key(self, user_id: str) -> str:
        return f"{self._namespace}:presence:{user_id}"

    def _node_key(self, node: str) -> str:
        return f"{self._namespace}:node:{node}"

    def _seen_key(self, user_id: str) -> str:
        return f"{self._namespace}:lastseen:{user_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
