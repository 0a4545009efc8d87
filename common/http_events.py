"""API Gateway HTTP API events (payload format 2.0, with a JWT authorizer): the typed view that
handlers read and the builder the local gateway uses, in one module so they cannot drift.
Field names follow AWS's own events (see ``tests/events/http_api_request.json``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.errors import BadRequest, Forbidden, Unauthorized
from common.events import Caller

GROUPS_CLAIM = "cognito:groups"


@dataclass(frozen=True)
class HttpRequest:
    """What the local gateway knows of one request to the HTTP API."""

    method: str
    path: str
    route_key: str  # "POST /selfie", "GET /moderation/cases/{userId}"
    api_id: str
    domain_name: str
    source_ip: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)  # the verified token's
    account_id: str = "123456789012"


def http_api_event(request: HttpRequest, *, request_id: str, now: datetime) -> dict[str, Any]:
    """The event an HTTP API hands a Lambda integration (payload 2.0)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = "&".join(f"{k}={v}" for k, v in request.query.items())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": request.route_key,
        "rawPath": request.path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": request.account_id,
            "apiId": request.api_id,
            "authorizer": {"jwt": {"claims": authorizer_claims(request.claims), "scopes": None}},
            "domainName": request.domain_name,
            "domainPrefix": request.domain_name.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": request.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if request.query:
        event["queryStringParameters"] = dict(request.query)
    if request.path_parameters:
        event["pathParameters"] = dict(request.path_parameters)
    if request.body is not None:
        event["body"] = request.body
    return event


def authorizer_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as an HTTP API's JWT authorizer passes them on: every value a string, a list
    written ``[a b]``."""
    return {
        name: f"[{' '.join(map(str, value))}]" if isinstance(value, list) else str(value)
        for name, value in claims.items()
    }


@dataclass(frozen=True)
class HttpApiEvent:
    """A read-only view over an HTTP API request event."""

    raw: Mapping[str, Any]

    @property
    def route_key(self) -> str:
        return str(self.raw.get("routeKey", ""))

    @property
    def request_id(self) -> str:
        return str((self.raw.get("requestContext") or {}).get("requestId", ""))

    @property
    def claims(self) -> Mapping[str, str]:
        context: Mapping[str, Any] = self.raw.get("requestContext") or {}
        claims: Mapping[str, str] = ((context.get("authorizer") or {}).get("jwt") or {}).get(
            "claims"
        ) or {}
        return claims

    @property
    def groups(self) -> frozenset[str]:
        """The caller's Cognito groups (the authorizer writes the list as ``[a b]``)."""
        raw = self.claims.get(GROUPS_CLAIM, "")
        return frozenset(raw.strip("[]").replace(",", " ").split())

    def require_caller(self) -> Caller:
        user_id = self.claims.get("sub")
        if not user_id:
            raise Unauthorized("The request has no verified token.")
        username = self.claims.get("cognito:username") or self.claims.get("username") or ""
        return Caller(user_id, username, self.claims.get("name") or "")

    def require_group(self, group: str) -> Caller:
        caller = self.require_caller()
        if group not in self.groups:
            raise Forbidden("This is for moderators only.")
        return caller

    def path_parameter(self, name: str) -> str:
        value = (self.raw.get("pathParameters") or {}).get(name)
        if not value:
            raise BadRequest(f"The path has no {name}.", field=name)
        return str(value)

    def query(self, name: str) -> str | None:
        value = (self.raw.get("queryStringParameters") or {}).get(name)
        return None if value is None else str(value)

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object (an absent body is an empty one), or ``BadRequest``."""
        body = self.raw.get("body")
        if body in (None, ""):
            return {}
        try:
            if self.raw.get("isBase64Encoded"):
                body = base64.b64decode(body)
            parsed = json.loads(body)
        except (ValueError, binascii.Error):
            raise BadRequest("The body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise BadRequest("The body must be a JSON object.")
        return parsed


def http_response(body: Mapping[str, Any], status: int = 200) -> dict[str, Any]:
    """A Lambda proxy response for an HTTP API: JSON, never cached."""
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body, separators=(",", ":")),
    }
