"""Building handler events the way the local gateway builds them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chat.deps import ChatDeps
from chat.model import FanoutEnvelope
from common.clients import Clients
from common.clock import ManualClock, SequentialIds
from common.events import (
    CONTEXT_DISPLAY_NAME,
    CONTEXT_USER_ID,
    CONTEXT_USERNAME,
    Caller,
    ConnectionInfo,
    authorizer_context,
    connect_event,
    disconnect_event,
    message_event,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def info(connection_id: str) -> ConnectionInfo:
    return ConnectionInfo(
        connection_id=connection_id,
        api_id="abc123",
        stage="test",
        domain_name="abc123.execute-api.us-east-1.amazonaws.com",
        source_ip="203.0.113.9",
        connected_at=NOW,
    )


def context_of(caller: Caller) -> dict[str, Any]:
    return authorizer_context(
        caller.user_id,
        {
            CONTEXT_USER_ID: caller.user_id,
            CONTEXT_USERNAME: caller.username,
            CONTEXT_DISPLAY_NAME: caller.display_name,
        },
    )


def action(caller: Caller, connection_id: str, body: dict[str, Any] | str) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    route = body.get("action", "$default") if isinstance(body, dict) else "$default"
    return message_event(
        info(connection_id),
        route_key=str(route),
        body=text,
        request_id="req",
        message_id="msg",
        now=NOW,
        authorizer=context_of(caller),
    )


def connecting(caller: Caller, connection_id: str) -> dict[str, Any]:
    return connect_event(
        info(connection_id), request_id="req", now=NOW, authorizer=context_of(caller)
    )


def disconnecting(caller: Caller, connection_id: str) -> dict[str, Any]:
    return disconnect_event(
        info(connection_id),
        request_id="req",
        now=NOW,
        status_code=1000,
        reason="",
        authorizer=context_of(caller),
    )


def frame(response: dict[str, Any]) -> dict[str, Any]:
    """The route response a handler returned, as the client would read it."""
    assert response["statusCode"] == 200, response
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


class RecordingChatDeps(ChatDeps):
    """The real composition, with the direct fan-out fallback recorded instead of posted."""

    def __init__(self, clients: Clients) -> None:
        self.manual_clock = ManualClock(NOW)
        super().__init__(clients, clock=self.manual_clock, ids=SequentialIds())
        self.direct: list[tuple[FanoutEnvelope, str]] = []

    def direct_fanout(self, envelope: FanoutEnvelope, api_endpoint: str) -> None:
        self.direct.append((envelope, api_endpoint))
