"""The HTTP API's events: the local gateway's builder makes AWS's shape, and the view reads it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.errors import BadRequest, Forbidden, Unauthorized
from common.http_events import HttpApiEvent, HttpRequest, authorizer_claims, http_api_event
from local_gateway.http_api import bearer_token
from tests.events import load_event

CAPTURED = load_event("http_api_request")


def test_the_builder_makes_the_captured_shape() -> None:
    context = CAPTURED["requestContext"]
    claims = {
        **context["authorizer"]["jwt"]["claims"],
        "cognito:groups": ["moderators"],  # as the token holds it
    }
    built = http_api_event(
        HttpRequest(
            method="POST",
            path="/selfie",
            route_key="POST /selfie",
            api_id="abc123",
            domain_name=context["domainName"],
            source_ip="203.0.113.9",
            headers={k.title(): v for k, v in CAPTURED["headers"].items()},
            body=CAPTURED["body"],
            claims=claims,
        ),
        request_id=context["requestId"],
        now=datetime.fromtimestamp(context["timeEpoch"] / 1000, UTC),
    )
    assert built == CAPTURED


def test_the_view_reads_caller_groups_and_body() -> None:
    view = HttpApiEvent(CAPTURED)
    assert view.require_caller().user_id == "0d3c5f8a-1b2c-4d3e-9f4a-5b6c7d8e9f01"
    assert view.require_caller().username == "mona"
    assert view.groups == frozenset({"moderators"})
    assert view.require_group("moderators").username == "mona"
    with pytest.raises(Forbidden):
        view.require_group("admins")
    assert view.json_body() == {"contentType": "image/jpeg", "size": 123456}
    assert view.route_key == "POST /selfie"


def test_claims_are_strings_and_lists_are_bracketed_as_the_jwt_authorizer_writes_them() -> None:
    assert authorizer_claims({"exp": 17, "cognito:groups": ["a", "b"], "sub": "x"}) == {
        "exp": "17",
        "cognito:groups": "[a b]",
        "sub": "x",
    }
    assert HttpApiEvent({"requestContext": {}}).groups == frozenset()


@pytest.mark.parametrize("body", ["{", "[1]", "bm90IGpzb24="])
def test_a_body_that_is_not_a_json_object_is_a_bad_request(body: str) -> None:
    event = {**CAPTURED, "body": body, "isBase64Encoded": body.endswith("=")}
    with pytest.raises(BadRequest):
        HttpApiEvent(event).json_body()


def test_no_claims_is_no_caller_and_the_token_comes_from_the_bearer_header() -> None:
    with pytest.raises(Unauthorized):
        HttpApiEvent({"requestContext": {"authorizer": {"jwt": {"claims": {}}}}}).require_caller()
    assert bearer_token({"Authorization": "Bearer abc.def.ghi"}) == "abc.def.ghi"
    assert bearer_token({"Authorization": "abc.def.ghi"}) == "abc.def.ghi"
    with pytest.raises(Unauthorized):
        bearer_token({"Authorization": "Bearer   "})
    with pytest.raises(Unauthorized):
        bearer_token({})
