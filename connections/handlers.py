"""Lambda entry points of the connections package. Thin: parse, call the service, reply."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from common.errors import BadRequest, UnknownAction
from common.events import (
    CONFIRM_SIGN_UP,
    CONTEXT_DISPLAY_NAME,
    CONTEXT_USER_ID,
    CONTEXT_USERNAME,
    AuthorizerRequest,
    Caller,
    CognitoTrigger,
    WebSocketEvent,
    allow_policy,
)
from common.handler import Answer, Body, action, authorizer, lifecycle
from common.logs import get_logger
from connections.deps import ConnectionsDeps, load
from connections.logic import token_from_query

log = get_logger("connections")


@authorizer(load)
def authorize(request: AuthorizerRequest, deps: ConnectionsDeps) -> dict[str, Any]:
    caller = deps.verifier.verify(token_from_query(request.query))
    context = {
        CONTEXT_USER_ID: caller.user_id,
        CONTEXT_USERNAME: caller.username,
        CONTEXT_DISPLAY_NAME: caller.display_name,
    }
    return allow_policy(caller.user_id, request.method_arn, context)


@lifecycle(load)
def connect(event: WebSocketEvent, deps: ConnectionsDeps) -> None:
    node = f"{event.domain_name}/{event.stage}"
    deps.connections.open(event.connection_id, event.require_caller(), event.header("Origin"), node)


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


def post_confirmation(
    event: dict[str, Any], context: Any = None, *, deps: ConnectionsDeps | None = None
) -> dict[str, Any]:
    """Cognito's post-confirmation trigger (in AWS): the confirmed user's profile, unverified,
    at once. moto runs no triggers, so locally (and should this one fail) the user's first
    connection or request creates it instead; Cognito gets its event back either way."""
    trigger = CognitoTrigger(event)
    if trigger.source == CONFIRM_SIGN_UP and trigger.user_id:
        try:
            (deps or load()).sign_up_user(
                Caller(trigger.user_id, trigger.username, trigger.display_name)
            )
        except (BotoCoreError, ClientError) as error:  # never block a confirmation
            log.warning("no profile at confirmation (the first connection makes it): %s", error)
    return event
