"""Lambda entry points of the connections package. Thin: parse, call the service, reply."""

from __future__ import annotations

from typing import Any

from common.errors import BadRequest, UnknownAction
from common.events import (
    CONTEXT_USER_ID,
    CONTEXT_USERNAME,
    AuthorizerRequest,
    WebSocketEvent,
    allow_policy,
)
from common.handler import Answer, Body, action, authorizer, lifecycle
from connections.deps import ConnectionsDeps, load
from connections.logic import token_from_query


@authorizer(load)
def authorize(request: AuthorizerRequest, deps: ConnectionsDeps) -> dict[str, Any]:
    caller = deps.verifier.verify(token_from_query(request.query))
    context = {CONTEXT_USER_ID: caller.user_id, CONTEXT_USERNAME: caller.username}
    return allow_policy(caller.user_id, request.method_arn, context)


@lifecycle(load)
def connect(event: WebSocketEvent, deps: ConnectionsDeps) -> None:
    deps.connections.open(event.connection_id, event.require_caller(), event.header("Origin"))


@lifecycle(load)
def disconnect(event: WebSocketEvent, deps: ConnectionsDeps) -> None:
    deps.connections.close(event.connection_id)


@action(load)
def ping(event: WebSocketEvent, body: Body, deps: ConnectionsDeps) -> Answer:
    """A data-frame keep-alive: API Gateway's idle timer is reset by messages, not by pings."""
    return {"type": "pong"}


@action(load)
def default(event: WebSocketEvent, body: Body, deps: ConnectionsDeps) -> Answer:
    """``$default``: API Gateway routes here whatever matched no action route."""
    name = body.get("action")
    if not isinstance(name, str) or not name:
        raise BadRequest("Every request needs an action.", field="action")
    raise UnknownAction(f"There is no action named {name[:64]!r}.")
