"""What the connections package knows: live WebSocket connections and who owns them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from common.clock import epoch_seconds


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    connected_at: datetime
    expires_at: int  # epoch seconds; DynamoDB's TTL attribute, filtered on read as TTL is lazy
    node: str = ""  # the endpoint holding it: the API's domain name and stage

    def is_live(self, now: datetime) -> bool:
        return self.expires_at > epoch_seconds(now)


@dataclass(frozen=True)
class Census:
    """Who is online now, as Redis's presence records it."""

    online_users: int
    connections: int
    by_node: Mapping[str, int]  # connections per node, for those that recorded their node


@dataclass(frozen=True)
class TokenExpectations:
    """What a Cognito token must say to be accepted for this user pool and app client."""

    issuer: str
    client_id: str
    leeway_seconds: int = 0
