"""Nobody chats before a moderator approved them: a signed-in user's first connection gives them
an unverified profile, and every chat action answers ``not_verified`` until it is approved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chat import handlers as chat_handlers
from chat.gate import VerifiedGate
from chat.model import UserProfile
from chat.store import UserDirectory
from common.clients import Clients, redis_client
from common.errors import NotVerified
from common.events import Caller
from connections import handlers as connection_handlers
from connections.deps import ConnectionsDeps
from local_gateway.routes import WEBSOCKET_ROUTES, load_function
from notifications import handlers as push_handlers
from notifications.deps import NotificationDeps
from tests.events import load_event
from tests.functional.chatting import ALICE, sign_up
from tests.functional.conftest import OperationLog
from tests.functional.helpers import NOW, RecordingChatDeps, action, connecting, frame

ERIN = Caller("u-erin", "erin")
CHAT_ROUTES = sorted(r for r, path in WEBSOCKET_ROUTES.items() if path.startswith("chat."))


def connect(aws: Clients, caller: Caller) -> None:
    deps = ConnectionsDeps(aws)
    response = connection_handlers.connect(connecting(caller, f"{caller.username}-1"), deps=deps)
    assert response["statusCode"] == 200, response


def answer(handler: Any, caller: Caller, body: dict[str, Any], deps: Any) -> dict[str, Any]:
    return frame(handler(action(caller, f"{caller.username}-1", body), deps=deps))


def test_a_first_connection_makes_an_unverified_profile_and_keeps_an_existing_one(
    aws: Clients,
) -> None:
    chat = RecordingChatDeps(aws)
    connect(aws, ERIN)
    assert chat.users.get(ERIN.user_id) == UserProfile(ERIN.user_id, "erin", "erin", False)
    frida = Caller("u-frida", "frida", display_name=" Frida\tthe  Great ")  # her sign-up's name
    connect(aws, frida)
    assert chat.users.get(frida.user_id) == UserProfile("u-frida", "frida", "Frida the Great")
    sign_up(chat, ALICE)
    connect(aws, ALICE)
    profile = chat.users.get(ALICE.user_id)
    assert profile is not None and profile.verified and profile.display_name == "Alice"


@pytest.mark.parametrize("route", CHAT_ROUTES)
def test_every_chat_action_answers_not_verified_before_approval(aws: Clients, route: str) -> None:
    chat = RecordingChatDeps(aws)
    sign_up(chat, ALICE)
    connect(aws, ERIN)
    handler = load_function(WEBSOCKET_ROUTES[route])
    body = {"action": route, "requestId": "r1", "conversationId": "d_x", "to": ALICE.user_id}
    reply = answer(handler, ERIN, body, chat)
    assert (reply["type"], reply["code"], reply["requestId"]) == ("error", "not_verified", "r1")
    assert chat.direct == []  # nothing went out


def test_an_unverified_user_may_still_ping_and_set_up_pushes(aws: Clients) -> None:
    connect(aws, ERIN)
    pong = answer(connection_handlers.ping, ERIN, {"action": "ping"}, ConnectionsDeps(aws))
    assert pong["type"] == "pong"
    settings = answer(
        push_handlers.notification_settings,
        ERIN,
        {"action": "notificationSettings"},
        NotificationDeps(aws),
    )
    assert settings["type"] == "notificationSettings"  # to hear the outcome by push


def test_approval_takes_effect_at_once_and_the_yes_is_remembered(aws: Clients) -> None:
    log = OperationLog(aws.dynamodb)
    users = UserDirectory(log, aws.settings.users_table)  # type: ignore[arg-type]
    gate = VerifiedGate(users, aws.redis, aws.settings.redis_namespace)
    connect(aws, ERIN)
    with pytest.raises(NotVerified):
        gate.require(ERIN.user_id)
    users.put(UserProfile(ERIN.user_id, "erin", "Erin", verified=True), NOW)  # approved
    gate.require(ERIN.user_id)
    reads = log.calls.count("get_item")
    gate.require(ERIN.user_id)
    assert log.calls.count("get_item") == reads  # the yes came from Redis


def test_with_redis_down_the_gate_reads_the_table(aws: Clients) -> None:
    dead = redis_client("redis://127.0.0.1:1")
    chat = RecordingChatDeps(Clients(aws.settings, redis_client=dead))
    sign_up(chat, ALICE)
    reply = answer(chat_handlers.conversations, ALICE, {"action": "conversations"}, chat)
    assert reply["type"] == "conversations", json.dumps(reply)


def test_cognitos_post_confirmation_trigger_makes_the_profile(aws: Clients) -> None:
    event = load_event("cognito_post_confirmation")
    deps = ConnectionsDeps(aws)
    assert connection_handlers.post_confirmation(event, deps=deps) == event  # Cognito's answer
    user_id = event["request"]["userAttributes"]["sub"]
    profile = UserDirectory(aws.dynamodb, aws.settings.users_table).get(user_id)
    assert profile == UserProfile(user_id, "erin", "Erin", verified=False)  # her ``name``
    forgot = {**event, "triggerSource": "PostConfirmation_ConfirmForgotPassword", "userName": "x"}
    forgot["request"] = {"userAttributes": {"sub": "u-other"}}
    connection_handlers.post_confirmation(forgot, deps=deps)
    assert UserDirectory(aws.dynamodb, aws.settings.users_table).get("u-other") is None
