"""``POST /selfie`` driven with HTTP API events on moto: a grant scoped to the caller's prefix
in the private selfies bucket, and refusals with their HTTP status and code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from common.clients import Clients
from common.clock import ManualClock, SequentialIds
from common.http_events import HttpRequest, http_api_event
from tests.functional.helpers import NOW
from verification import handlers
from verification.deps import VerificationDeps
from verification.model import CaseState

CLAIMS = {"sub": "u-erin", "cognito:username": "erin", "token_use": "id"}


@pytest.fixture
def deps(aws: Clients) -> VerificationDeps:
    return VerificationDeps(aws, clock=ManualClock(NOW), ids=SequentialIds())


def ask(deps: VerificationDeps, body: Any, claims: dict[str, Any] = CLAIMS) -> tuple[int, Any]:
    request = HttpRequest(
        method="POST",
        path="/selfie",
        route_key="POST /selfie",
        api_id="abc123",
        domain_name="abc123.execute-api.us-east-1.amazonaws.com",
        source_ip="203.0.113.9",
        headers={"content-type": "application/json"},
        body=body if isinstance(body, str) else json.dumps(body),
        claims=claims,
    )
    response = handlers.request_selfie(http_api_event(request, request_id="r1", now=NOW), deps=deps)
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def test_a_grant_is_scoped_to_the_callers_prefix_and_opens_the_case(
    deps: VerificationDeps,
) -> None:
    status, grant = ask(deps, {"contentType": "image/png", "size": 40_000})
    assert status == 200
    assert (grant["selfieId"], grant["fields"]["key"]) == ("s_000001", "selfies/u-erin/s_000001")
    assert grant["fields"]["Content-Type"] == "image/png"
    assert deps.clients.settings.selfies_bucket in grant["url"]
    case = deps.cases.get("u-erin")
    assert case is not None and case.state is CaseState.UNVERIFIED


def test_no_selfie_while_a_moderator_has_the_case(deps: VerificationDeps) -> None:
    case = deps.cases.case_of("u-erin", NOW)
    deps.cases.change(
        case.__class__(**{**case.__dict__, "state": CaseState.PENDING_REVIEW, "version": 1}), 0
    )
    status, answer = ask(deps, {"contentType": "image/jpeg", "size": 10})
    assert (status, answer["code"], answer["state"]) == (409, "invalid_state", "pending_review")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"contentType": "image/gif", "size": 10}, 400, "bad_request"),
        ({"contentType": "image/jpeg"}, 400, "bad_request"),
        ({"contentType": "image/jpeg", "size": 6 * 1024 * 1024}, 413, "too_large"),
        ("not json", 400, "bad_request"),
    ],
)
def test_bad_requests_get_their_status_and_code(
    deps: VerificationDeps, body: Any, status: int, code: str
) -> None:
    assert ask(deps, body)[0] == status
    assert ask(deps, body)[1]["code"] == code
    assert deps.cases.get("u-erin") is None  # nothing was opened


def test_without_verified_claims_it_is_unauthorized(deps: VerificationDeps) -> None:
    status, answer = ask(deps, {"contentType": "image/jpeg", "size": 10}, claims={})
    assert (status, answer["code"]) == (401, "unauthorized")
