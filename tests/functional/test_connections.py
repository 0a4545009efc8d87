"""Authorizer, $connect and $disconnect on moto (Cognito, DynamoDB) and fakeredis."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import redis

from common.clients import Clients, redis_client
from common.clock import ManualClock, epoch_seconds
from common.events import Caller, ConnectionInfo, authorizer_request_event
from common.handler import UnauthorizedSignal
from connections import handlers
from connections.deps import ConnectionsDeps
from connections.store import ConnectionStore, PresenceStore
from local_gateway.provision import DemoUser, ensure_demo_users, ensure_user_pool
from tests.functional.conftest import OperationLog
from tests.functional.helpers import NOW, action, connecting, disconnecting, frame

ALICE = Caller("u-alice", "alice")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def deps(aws: Clients, clock: ManualClock) -> ConnectionsDeps:
    return ConnectionsDeps(aws, clock=clock)


def authorizer_event(token: str | None) -> dict[str, Any]:
    conn = ConnectionInfo(
        "c1",
        "abc123",
        "test",
        "abc123.example",
        "203.0.113.9",
        NOW,
        query={"token": token} if token is not None else {},
    )
    return authorizer_request_event(conn, request_id="r", now=NOW)


@pytest.fixture
def cognito(aws: Clients) -> tuple[Clients, DemoUser]:
    """A user pool with alice in it, and clients whose settings name that pool."""
    pool = ensure_user_pool(aws)
    settings = dataclasses.replace(
        aws.settings, cognito_user_pool_id=pool.pool_id, cognito_client_id=pool.client_id
    )
    clients = Clients(settings, redis_client=aws.redis)
    [alice] = ensure_demo_users(clients, pool, [DemoUser("alice", "Alice", "Alice-pass-1")])
    return clients, alice


def sign_in(clients: Clients, user: DemoUser, token: str = "IdToken") -> str:
    result = clients.cognito.initiate_auth(
        ClientId=clients.settings.require("cognito_client_id"),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
    )
    return str(result["AuthenticationResult"][token])  # type: ignore[literal-required]


@pytest.mark.parametrize("token_kind", ["IdToken", "AccessToken"])
def test_a_cognito_token_is_allowed_with_the_user_in_context(
    cognito: tuple[Clients, DemoUser], token_kind: str
) -> None:
    clients, alice = cognito
    deps = ConnectionsDeps(clients)  # real clock: moto's tokens are issued now
    policy = handlers.authorize(authorizer_event(sign_in(clients, alice, token_kind)), deps=deps)
    assert policy["principalId"] == alice.user_id
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    # An ID token also says what the user calls themselves (Cognito's ``name``).
    name = "Alice" if token_kind == "IdToken" else ""
    assert policy["context"] == {"userId": alice.user_id, "username": "alice", "displayName": name}


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b.c"])
def test_a_missing_or_broken_token_is_unauthorized(
    cognito: tuple[Clients, DemoUser], token: str | None
) -> None:
    clients, _ = cognito
    with pytest.raises(UnauthorizedSignal):
        handlers.authorize(authorizer_event(token), deps=ConnectionsDeps(clients))


def test_a_token_of_another_app_client_is_unauthorized(cognito: tuple[Clients, DemoUser]) -> None:
    clients, alice = cognito
    token = sign_in(clients, alice)
    other = dataclasses.replace(clients.settings, cognito_client_id="someone-elses-app")
    with pytest.raises(UnauthorizedSignal):
        handlers.authorize(authorizer_event(token), deps=ConnectionsDeps(Clients(other)))


def test_connect_records_the_connection_with_an_expiry_and_presence(
    deps: ConnectionsDeps, aws: Clients, fake_redis: redis.Redis
) -> None:
    assert handlers.connect(connecting(ALICE, "conn-1"), deps=deps) == {"statusCode": 200}
    item = aws.dynamodb.get_item(
        TableName=aws.settings.connections_table, Key={"connectionId": {"S": "conn-1"}}
    )["Item"]
    assert item["userId"]["S"] == "u-alice"
    assert int(item["expiresAt"]["N"]) == epoch_seconds(NOW) + aws.settings.max_connection_seconds
    assert PresenceStore(fake_redis, aws.settings.redis_namespace).connection_ids("u-alice") == {
        "conn-1"
    }
    assert fake_redis.ttl(f"{aws.settings.redis_namespace}:presence:u-alice") > 0


def test_disconnect_forgets_the_connection_and_may_run_twice(
    deps: ConnectionsDeps, aws: Clients, fake_redis: redis.Redis
) -> None:
    handlers.connect(connecting(ALICE, "conn-1"), deps=deps)
    for _ in range(2):
        assert handlers.disconnect(disconnecting(ALICE, "conn-1"), deps=deps) == {"statusCode": 200}
    store = ConnectionStore(aws.dynamodb, aws.settings.connections_table)
    assert store.get("conn-1") is None
    assert (
        PresenceStore(fake_redis, aws.settings.redis_namespace).connection_ids("u-alice") == set()
    )


def test_connect_without_authorizer_context_is_refused(deps: ConnectionsDeps) -> None:
    event = connecting(ALICE, "conn-1")
    del event["requestContext"]["authorizer"]
    assert handlers.connect(event, deps=deps)["statusCode"] == 401


def test_connect_still_succeeds_when_redis_is_down(aws: Clients, clock: ManualClock) -> None:
    dead = redis_client("redis://127.0.0.1:1")  # nothing listens there
    deps = ConnectionsDeps(Clients(aws.settings, redis_client=dead), clock=clock)
    assert handlers.connect(connecting(ALICE, "conn-1"), deps=deps) == {"statusCode": 200}
    assert ConnectionStore(aws.dynamodb, aws.settings.connections_table).get("conn-1") is not None


def test_a_users_connections_come_from_the_index_and_expired_ones_are_skipped(
    aws: Clients, clock: ManualClock
) -> None:
    log = OperationLog(aws.dynamodb)
    store = ConnectionStore(log, aws.settings.connections_table)  # type: ignore[arg-type]
    deps = ConnectionsDeps(aws, clock=clock)
    handlers.connect(connecting(ALICE, "old"), deps=deps)
    clock.advance(aws.settings.max_connection_seconds - 10)
    handlers.connect(connecting(ALICE, "new"), deps=deps)
    handlers.connect(connecting(Caller("u-bob", "bob"), "bobs"), deps=deps)
    assert {c.connection_id for c in store.live_for_users(["u-alice"], clock.now())} == {
        "old",
        "new",
    }
    clock.advance(20)  # "old" is past its TTL; DynamoDB may not have deleted it yet
    assert [c.connection_id for c in store.live_for_users(["u-alice"], clock.now())] == ["new"]
    assert "scan" not in log.calls
    assert "query" in log.calls


def test_ping_answers_pong_and_default_names_the_problem(deps: ConnectionsDeps) -> None:
    assert frame(
        handlers.ping(action(ALICE, "c", {"action": "ping", "requestId": "p"}), deps=deps)
    ) == {"type": "pong", "requestId": "p"}
    unknown = frame(
        handlers.default(action(ALICE, "c", {"action": "dance", "requestId": "d"}), deps=deps)
    )
    assert (unknown["code"], unknown["requestId"]) == ("unknown_action", "d")
    missing = frame(handlers.default(action(ALICE, "c", {"requestId": "m"}), deps=deps))
    assert (missing["code"], missing["field"]) == ("bad_request", "action")
    malformed = frame(handlers.default(action(ALICE, "c", "{not json"), deps=deps))
    assert malformed["code"] == "bad_request"
