"""The gateway's event builders and the handlers' views agree with API Gateway's shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from common.errors import BadRequest, Unauthorized
from common.events import (
    AuthorizerRequest,
    Caller,
    ConnectionInfo,
    WebSocketEvent,
    authorizer_context,
    authorizer_request_event,
    connect_event,
    disconnect_event,
    message_event,
)
from local_gateway.streams import stream_event
from tests.events import load_event

NOW = datetime(2026, 11, 21, 10, 15, 31, tzinfo=UTC)
INFO = ConnectionInfo(
    connection_id="Qa1b2eZ4IAMCJqA=",
    api_id="local",
    stage="dev",
    domain_name="127.0.0.1:8765",
    source_ip="127.0.0.1",
    connected_at=NOW,
    headers={"Host": "127.0.0.1:8765"},
    query={"token": "t"},
)
AUTHORIZER = authorizer_context("u-1", {"userId": "u-1", "username": "alice"})


def keys(tree: Any) -> set[str]:
    """Every key path in a JSON tree, ignoring the values and the free-form header maps."""
    found: set[str] = set()
    if isinstance(tree, dict):
        for key, value in tree.items():
            found.add(key)
            if key not in {
                "headers",
                "multiValueHeaders",
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "authorizer",
            }:
                found |= {f"{key}.{sub}" for sub in keys(value)}
    return found


@pytest.mark.parametrize(
    ("captured", "built"),
    [
        ("authorizer_request", authorizer_request_event(INFO, request_id="r", now=NOW)),
        ("connect", connect_event(INFO, request_id="r", now=NOW, authorizer=AUTHORIZER)),
        (
            "message",
            message_event(
                INFO,
                route_key="send",
                body="{}",
                request_id="r",
                message_id="m",
                now=NOW,
                authorizer=AUTHORIZER,
            ),
        ),
        (
            "disconnect",
            disconnect_event(
                INFO, request_id="r", now=NOW, status_code=1000, reason="bye", authorizer=AUTHORIZER
            ),
        ),
    ],
)
def test_built_events_have_the_captured_shape(captured: str, built: dict[str, Any]) -> None:
    assert keys(built) == keys(load_event(captured))


def test_the_message_view_reads_a_captured_event() -> None:
    event = WebSocketEvent(load_event("message"))
    assert event.connection_id == "Qa1b2eZ4IAMCJqA="
    assert event.route_key == "send"
    assert event.event_type == "MESSAGE"
    assert event.caller == Caller("7d4c2f9e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "alice")
    assert event.json_body()["requestId"] == "r-17"
    assert (
        event.management_endpoint == "https://k3x8q0abcd.execute-api.eu-west-1.amazonaws.com/prod"
    )


def test_the_authorizer_view_reads_the_token() -> None:
    request = AuthorizerRequest(load_event("authorizer_request"))
    assert request.query["token"] == "eyJraWQiOi.example.token"
    assert request.method_arn.endswith("/prod/$connect")


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "", "null"])
def test_a_body_that_is_not_an_object_is_a_bad_request(body: str) -> None:
    event = WebSocketEvent({**load_event("message"), "body": body})
    with pytest.raises(BadRequest):
        event.json_body()


def test_an_event_without_authorizer_context_has_no_caller() -> None:
    raw = load_event("message")
    del raw["requestContext"]["authorizer"]
    with pytest.raises(Unauthorized):
        WebSocketEvent(raw).require_caller()


def test_times_are_api_gateways() -> None:
    context = message_event(
        INFO,
        route_key="send",
        body="{}",
        request_id="r",
        message_id="m",
        now=NOW,
        authorizer=AUTHORIZER,
    )["requestContext"]
    assert context["requestTime"] == "21/Nov/2026:10:15:31 +0000"
    assert context["requestTimeEpoch"] == int(NOW.timestamp() * 1000)


def test_the_local_stream_source_hands_over_lambdas_stream_event() -> None:
    """What GetRecords returns (a datetime, no source ARN) becomes the captured event's shape."""
    captured = load_event("users_stream_insert")["Records"][0]
    moment = datetime.fromtimestamp(captured["dynamodb"]["ApproximateCreationDateTime"], UTC)
    read = {k: v for k, v in captured.items() if k != "eventSourceARN"}
    read["dynamodb"] = {**captured["dynamodb"], "ApproximateCreationDateTime": moment}
    built = stream_event([read], captured["eventSourceARN"], "us-east-1")  # type: ignore[list-item]
    assert built == {"Records": [captured]}
