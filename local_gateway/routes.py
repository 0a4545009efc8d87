"""The WebSocket API's routes: which handler serves which route key, and route selection.

The table names handlers by module path, as ``serverless.yml`` does, so the gateway runs
exactly the functions AWS runs.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from common.events import CONNECT_ROUTE, DEFAULT_ROUTE, DISCONNECT_ROUTE

AUTHORIZER = "connections.handlers.authorize"

WEBSOCKET_ROUTES: Mapping[str, str] = {
    CONNECT_ROUTE: "connections.handlers.connect",
    DISCONNECT_ROUTE: "connections.handlers.disconnect",
    DEFAULT_ROUTE: "connections.handlers.default",
    "ping": "connections.handlers.ping",
    "upload": "chat.handlers.upload",
    "send": "chat.handlers.send",
    "sync": "chat.handlers.sync",
    "lookupUser": "chat.handlers.lookup_user",
    "createGroup": "chat.handlers.create_group",
    "addMembers": "chat.handlers.add_members",
    "removeMember": "chat.handlers.remove_member",
    "leaveGroup": "chat.handlers.leave_group",
    "setRole": "chat.handlers.set_role",
    "renameGroup": "chat.handlers.rename_group",
    "members": "chat.handlers.members",
    "conversations": "chat.handlers.conversations",
    "receipt": "chat.handlers.receipt",
    "markRead": "chat.handlers.mark_read",
    "typing": "chat.handlers.typing",
    "recording": "chat.handlers.recording",
    "presence": "chat.handlers.presence",
    "block": "chat.handlers.block",
    "unblock": "chat.handlers.unblock",
    "report": "chat.handlers.report",
    "registerDevice": "notifications.handlers.register_device",
    "unregisterDevice": "notifications.handlers.unregister_device",
    "mute": "notifications.handlers.mute",
    "unmute": "notifications.handlers.unmute",
    "doNotDisturb": "notifications.handlers.do_not_disturb",
    "notificationSettings": "notifications.handlers.notification_settings",
}

# The HTTP API's routes (every one behind the Cognito JWT authorizer).
HTTP_ROUTES: Mapping[str, str] = {
    "POST /selfie": "verification.handlers.request_selfie",
    "GET /verification": "verification.handlers.verification_status",
    "POST /verification/appeal": "verification.handlers.appeal",
    "GET /moderation/cases": "verification.handlers.moderation_queue",
    "GET /moderation/cases/{userId}": "verification.handlers.moderation_case",
    "POST /moderation/cases/{userId}/decision": "verification.handlers.moderation_decision",
}

# Functions triggered by a queue (the setting that names the queue -> the handler).
QUEUE_FUNCTIONS: Mapping[str, str] = {
    "uploads_queue": "chat.handlers.process_uploads",
    "push_queue": "notifications.handlers.push",
    "selfie_uploads_queue": "verification.handlers.screen_selfies",
}

# Cognito user pool triggers (in AWS only: moto runs none; the first connection or request
# does the same job locally).
COGNITO_TRIGGERS: Mapping[str, str] = {
    "PostConfirmation": "connections.handlers.post_confirmation",
}

# Functions triggered by tables' streams (the handler -> the settings naming its tables).
STREAM_FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "notifications.handlers.welcome": ("users_table",),
    "analytics.handlers.export_changes": (
        "users_table",
        "connections_table",
        "messages_table",
        "clips_table",
        "audit_table",
    ),
}


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule in AWS, and how often the local stack runs it instead."""

    expression: str
    local_seconds: float


# Functions on a schedule (the handler -> when).
SCHEDULED_FUNCTIONS: Mapping[str, Schedule] = {
    "analytics.handlers.export_live_events": Schedule("rate(1 minute)", 5),
    "analytics.handlers.snapshot": Schedule("rate(5 minutes)", 60),
    "analytics.handlers.compact": Schedule("cron(30 0 * * ? *)", 3600),
}

LambdaFunction = Callable[..., dict[str, Any]]


def select_route(body: str, route_keys: Mapping[str, object]) -> str:
    """API Gateway's ``$request.body.action`` selection: an action route if the body is a JSON
    object whose ``action`` names one, else ``$default``."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return DEFAULT_ROUTE
    action = parsed.get("action") if isinstance(parsed, dict) else None
    if isinstance(action, str) and not action.startswith("$") and action in route_keys:
        return action
    return DEFAULT_ROUTE


def load_function(path: str) -> LambdaFunction:
    """``package.module.function`` -> the function, as Lambda resolves a handler setting."""
    module_name, _, attribute = path.rpartition(".")
    function: LambdaFunction = getattr(importlib.import_module(module_name), attribute)
    return function


def load_routes(table: Mapping[str, str] = WEBSOCKET_ROUTES) -> dict[str, LambdaFunction]:
    return {route: load_function(path) for route, path in table.items()}
