"""API Gateway WebSocket events: typed views that handlers read, builders the local gateway uses.

Both sides use this one module, so the shapes a handler sees locally cannot drift from the shapes
it is tested with. Field names follow API Gateway's own events (see ``tests/events/``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.errors import BadRequest, Unauthorized

# Keys of the authorizer context that every route of a connection receives.
CONTEXT_USER_ID = "userId"
CONTEXT_USERNAME = "username"
CONTEXT_DISPLAY_NAME = "displayName"

CONNECT_ROUTE = "$connect"
DISCONNECT_ROUTE = "$disconnect"
DEFAULT_ROUTE = "$default"


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as the authorizer established at ``$connect``."""

    user_id: str
    username: str
    display_name: str = ""  # the ID token's ``name``: what the user called themselves at sign-up


@dataclass(frozen=True)
class WebSocketEvent:
    """A read-only view over a ``$connect``, ``$disconnect`` or message event."""

    raw: Mapping[str, Any]

    @property
    def _context(self) -> Mapping[str, Any]:
        context: Mapping[str, Any] = self.raw.get("requestContext") or {}
        return context

    @property
    def connection_id(self) -> str:
        return str(self._context["connectionId"])

    @property
    def route_key(self) -> str:
        return str(self._context.get("routeKey", ""))

    @property
    def event_type(self) -> str:
        return str(self._context.get("eventType", ""))

    @property
    def request_id(self) -> str:
        return str(self._context.get("requestId", ""))

    @property
    def domain_name(self) -> str:
        return str(self._context.get("domainName", ""))

    @property
    def stage(self) -> str:
        return str(self._context.get("stage", ""))

    @property
    def body(self) -> str | None:
        body = self.raw.get("body")
        return None if body is None else str(body)

    @property
    def authorizer(self) -> Mapping[str, Any]:
        authorizer: Mapping[str, Any] = self._context.get("authorizer") or {}
        return authorizer

    def header(self, name: str) -> str | None:
        """A request header of ``$connect``, whatever its case (API Gateway keeps the client's)."""
        headers: Mapping[str, str] = self.raw.get("headers") or {}
        wanted = name.lower()
        return next((v for k, v in headers.items() if k.lower() == wanted), None)

    @property
    def caller(self) -> Caller | None:
        user_id = self.authorizer.get(CONTEXT_USER_ID)
        if not user_id:
            return None
        return Caller(
            str(user_id),
            str(self.authorizer.get(CONTEXT_USERNAME, "")),
            str(self.authorizer.get(CONTEXT_DISPLAY_NAME, "")),
        )

    def require_caller(self) -> Caller:
        """The caller; every route after an authorized ``$connect`` has one."""
        caller = self.caller
        if caller is None:
            raise Unauthorized("The connection has no authorizer context.")
        return caller

    @property
    def management_endpoint(self) -> str:
        """Where API Gateway's ``@connections`` API for this connection lives."""
        return f"https://{self.domain_name}/{self.stage}"

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object, or ``BadRequest``."""
        try:
            parsed = json.loads(self.body or "")
        except ValueError:
            raise BadRequest("The frame is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise BadRequest("The frame must be a JSON object.")
        return parsed


@dataclass(frozen=True)
class AuthorizerRequest:
    """A view over a WebSocket ``REQUEST`` authorizer event."""

    raw: Mapping[str, Any]

    @property
    def method_arn(self) -> str:
        return str(self.raw.get("methodArn", ""))

    @property
    def query(self) -> Mapping[str, str]:
        query: Mapping[str, str] = self.raw.get("queryStringParameters") or {}
        return query

    @property
    def headers(self) -> Mapping[str, str]:
        headers: Mapping[str, str] = self.raw.get("headers") or {}
        return headers


# ---- builders, used by the local gateway -------------------------------------------------


@dataclass(frozen=True)
class ConnectionInfo:
    """What API Gateway knows about a connection and repeats in each of its events."""

    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    connected_at: datetime
    region: str = "us-east-1"
    account_id: str = "123456789012"
    user_agent: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


def authorizer_request_event(
    conn: ConnectionInfo, *, request_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": (
            f"arn:aws:execute-api:{conn.region}:{conn.account_id}:{conn.api_id}/"
            f"{conn.stage}/{CONNECT_ROUTE}"
        ),
        **_headers_and_query(conn),
        "stageVariables": {},
        "requestContext": _request_context(
            conn, route_key=CONNECT_ROUTE, event_type="CONNECT", request_id=request_id, now=now
        ),
    }


def connect_event(
    conn: ConnectionInfo, *, request_id: str, now: datetime, authorizer: Mapping[str, Any]
) -> dict[str, Any]:
    context = _request_context(
        conn, route_key=CONNECT_ROUTE, event_type="CONNECT", request_id=request_id, now=now
    )
    context["authorizer"] = dict(authorizer)
    return {**_headers_and_query(conn), "requestContext": context, "isBase64Encoded": False}


def message_event(
    conn: ConnectionInfo,
    *,
    route_key: str,
    body: str,
    request_id: str,
    message_id: str,
    now: datetime,
    authorizer: Mapping[str, Any],
) -> dict[str, Any]:
    context = _request_context(
        conn, route_key=route_key, event_type="MESSAGE", request_id=request_id, now=now
    )
    context["messageId"] = message_id
    context["authorizer"] = dict(authorizer)
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    conn: ConnectionInfo,
    *,
    request_id: str,
    now: datetime,
    status_code: int,
    reason: str,
    authorizer: Mapping[str, Any],
) -> dict[str, Any]:
    context = _request_context(
        conn, route_key=DISCONNECT_ROUTE, event_type="DISCONNECT", request_id=request_id, now=now
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    context["authorizer"] = dict(authorizer)
    host = {"Host": conn.domain_name}
    return {
        "headers": host,
        "multiValueHeaders": {k: [v] for k, v in host.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def authorizer_context(principal_id: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """What ``requestContext.authorizer`` holds on every later event of an allowed connection."""
    return {"principalId": principal_id, "integrationLatency": 0, **context}


def _request_context(
    conn: ConnectionInfo, *, route_key: str, event_type: str, request_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "messageDirection": "IN",
        "stage": conn.stage,
        "connectedAt": int(conn.connected_at.timestamp() * 1000),
        "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        "requestId": request_id,
        "domainName": conn.domain_name,
        "connectionId": conn.connection_id,
        "apiId": conn.api_id,
    }


def _headers_and_query(conn: ConnectionInfo) -> dict[str, Any]:
    query = dict(conn.query)
    return {
        "headers": dict(conn.headers),
        "multiValueHeaders": {k: [v] for k, v in conn.headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
    }


# ---- Cognito triggers ----------------------------------------------------------------------

CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"


@dataclass(frozen=True)
class CognitoTrigger:
    """A Cognito user pool trigger's event (the function must return it)."""

    raw: Mapping[str, Any]

    @property
    def source(self) -> str:
        return str(self.raw.get("triggerSource", ""))

    @property
    def username(self) -> str:
        return str(self.raw.get("userName", ""))

    @property
    def user_id(self) -> str:
        return str(self._attributes.get("sub", ""))

    @property
    def display_name(self) -> str:
        return str(self._attributes.get("name", ""))

    @property
    def _attributes(self) -> Mapping[str, Any]:
        attributes: Mapping[str, Any] = (self.raw.get("request") or {}).get("userAttributes") or {}
        return attributes


# ---- what handlers return ----------------------------------------------------------------


def reply(body: Mapping[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    """A Lambda proxy response; API Gateway sends ``body`` to the caller as a route response."""
    response: dict[str, Any] = {"statusCode": status}
    if body is not None:
        response["body"] = json.dumps(body, separators=(",", ":"))
    return response


def allow_policy(principal_id: str, method_arn: str, context: Mapping[str, str]) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}
            ],
        },
        "context": dict(context),
    }
