"""Pure rules of connecting: token claims, connection records. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from common.clock import epoch_seconds, iso_utc
from common.errors import Forbidden, TooManyConnections, Unauthorized
from common.events import Caller
from connections.model import Connection, TokenExpectations

TOKEN_QUERY_PARAMETER = "token"  # noqa: S105 (a parameter name, not a secret)
MAX_TOKEN_LENGTH = 8192

# Cognito puts the app client id in ``aud`` for ID tokens and in ``client_id`` for access tokens,
# and the user name in a differently named claim for each.
_CLIENT_CLAIM = {"id": "aud", "access": "client_id"}
_USERNAME_CLAIM = {"id": "cognito:username", "access": "username"}


def token_from_query(query: Mapping[str, str]) -> str:
    token = (query.get(TOKEN_QUERY_PARAMETER) or "").strip()
    if not token:
        raise Unauthorized("A token query parameter is required.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("The token is too long.")
    return token


def check_claims(claims: Mapping[str, Any], expected: TokenExpectations, now: datetime) -> Caller:
    """Accept a signature-verified Cognito token's claims, or raise ``Unauthorized``."""
    token_use = claims.get("token_use")
    if token_use not in _CLIENT_CLAIM:
        raise Unauthorized("The token is neither a Cognito ID token nor an access token.")
    if claims.get("iss") != expected.issuer:
        raise Unauthorized("The token was issued by another user pool.")
    if claims.get(_CLIENT_CLAIM[token_use]) != expected.client_id:
        raise Unauthorized("The token was issued to another app client.")
    _check_lifetime(claims, expected.leeway_seconds, now)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("The token has no subject.")
    username, name = claims.get(_USERNAME_CLAIM[token_use]), claims.get("name")
    return Caller(
        user_id=subject,
        username=username if isinstance(username, str) else "",
        display_name=name if isinstance(name, str) else "",  # ID tokens only
    )


def _check_lifetime(claims: Mapping[str, Any], leeway: int, now: datetime) -> None:
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise Unauthorized("The token has no expiry.")
    current = epoch_seconds(now)
    if expires + leeway <= current:
        raise Unauthorized("The token has expired.")
    not_before = claims.get("nbf", claims.get("iat"))
    if isinstance(not_before, int | float) and not_before - leeway > current:
        raise Unauthorized("The token is not valid yet.")


def new_connection(
    connection_id: str, caller: Caller, now: datetime, ttl_seconds: int, node: str = ""
) -> Connection:
    return Connection(
        connection_id=connection_id,
        user_id=caller.user_id,
        connected_at=now,
        expires_at=epoch_seconds(now + timedelta(seconds=ttl_seconds)),
        node=node,
    )


def allowed_origins(raw: str | None) -> frozenset[str]:
    """``SOTTO_ALLOWED_ORIGINS``: comma-separated origins, ``*`` for any."""
    return frozenset(o.strip().rstrip("/").lower() for o in (raw or "").split(",") if o.strip())


def check_origin(origin: str | None, allowed: frozenset[str]) -> None:
    """Browsers send ``Origin`` and must come from an allowed page; native clients send none
    and are judged by their token alone."""
    if origin is None or "*" in allowed:
        return
    if origin.strip().rstrip("/").lower() not in allowed:
        raise Forbidden("Connections from this origin are not allowed.")


def check_connection_cap(live_connections: int, cap: int) -> None:
    if live_connections >= cap:
        raise TooManyConnections(
            f"You already have {live_connections} open connections; close one first.",
            maxConnections=cap,
        )


def presence_entry(user_id: str, online: bool, last_seen: datetime | None) -> dict[str, Any]:
    return {
        "userId": user_id,
        "online": online,
        "lastSeen": None if last_seen is None else iso_utc(last_seen),
    }
