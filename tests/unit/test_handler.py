"""The one wrapper: error frames, request ids, lifecycle statuses, authorizer failures."""

from __future__ import annotations

import json
from typing import Any

import pytest

from common.errors import Forbidden, Unauthorized
from common.events import AuthorizerRequest, WebSocketEvent
from common.handler import Body, UnauthorizedSignal, action, authorizer, lifecycle
from tests.events import load_event


def no_deps() -> None:
    raise AssertionError("tests pass deps explicitly")


@action(no_deps)
def echo(event: WebSocketEvent, body: Body, deps: dict[str, Any]) -> dict[str, Any]:
    if body.get("fail") == "forbidden":
        raise Forbidden("Not yours.")
    if body.get("fail") == "crash":
        raise RuntimeError("table sotto-prod-secret is on fire")
    return {"type": "echo", "said": body.get("say"), "deps": deps["name"]}


def message(body: str) -> dict[str, Any]:
    return {**load_event("message"), "body": body}


def frame(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def test_the_answer_carries_the_request_id() -> None:
    answer = frame(
        echo(message('{"action":"echo","requestId":"r1","say":"hi"}'), deps={"name": "d"})
    )
    assert answer == {"type": "echo", "requestId": "r1", "said": "hi", "deps": "d"}


def test_a_numeric_request_id_is_echoed_as_a_number() -> None:
    answer = frame(echo(message('{"requestId":42,"say":"hi"}'), deps={"name": "d"}))
    assert answer["requestId"] == 42
    failed = frame(echo(message('{"requestId":43,"fail":"forbidden"}'), deps={"name": "d"}))
    assert failed["requestId"] == 43


def test_a_domain_error_is_an_error_frame_with_the_request_id() -> None:
    answer = frame(echo(message('{"requestId":"r2","fail":"forbidden"}'), deps={"name": "d"}))
    assert answer == {
        "type": "error",
        "requestId": "r2",
        "code": "forbidden",
        "message": "Not yours.",
    }


def test_malformed_json_is_a_bad_request() -> None:
    answer = frame(echo(message("{nope"), deps={"name": "d"}))
    assert answer["code"] == "bad_request"
    assert "requestId" not in answer


def test_a_crash_is_internal_error_and_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    answer = frame(echo(message('{"requestId":"r3","fail":"crash"}'), deps={"name": "d"}))
    assert answer["code"] == "internal_error"
    assert answer["requestId"] == "r3"
    assert "secret" not in answer["message"]


@pytest.mark.parametrize("request_id", [["list"], {"a": 1}, True, "x" * 129])
def test_a_malformed_request_id_is_a_bad_request(request_id: object) -> None:
    body = json.dumps({"requestId": request_id})
    answer = frame(echo(message(body), deps={"name": "d"}))
    assert (answer["code"], answer["field"]) == ("bad_request", "requestId")


@lifecycle(no_deps)
def refuse(event: WebSocketEvent, deps: str) -> None:
    if deps == "refuse":
        raise Forbidden("No.")


def test_lifecycle_success_is_200_and_failure_its_status() -> None:
    assert refuse(load_event("connect"), deps="ok") == {"statusCode": 200}
    refused = refuse(load_event("connect"), deps="refuse")
    assert refused["statusCode"] == 403
    assert json.loads(refused["body"])["code"] == "forbidden"


@authorizer(no_deps)
def gate(request: AuthorizerRequest, deps: str) -> dict[str, Any]:
    if deps == "deny":
        raise Unauthorized("bad token")
    return {"principalId": "u"}


def test_an_unauthorized_authorizer_fails_with_exactly_unauthorized() -> None:
    assert gate(load_event("authorizer_request"), deps="allow") == {"principalId": "u"}
    with pytest.raises(UnauthorizedSignal) as raised:
        gate(load_event("authorizer_request"), deps="deny")
    assert str(raised.value) == "Unauthorized"
