"""The moderators' routes and the user's, driven with HTTP API events on moto: only the
``moderators`` group reviews; the queue is oldest first and pages; a case shows its history
and, only while it waits, a short-lived link to the selfie; a decision is final, audited, sets
the user's flag and deletes the selfie; a rejection may be appealed once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests

from chat.model import UserProfile
from chat.store import UserDirectory
from common.clients import Clients
from common.clock import ManualClock, SequentialIds
from common.events import Caller
from common.http_events import HttpRequest, http_api_event
from tests.functional.helpers import NOW
from tests.functional.pushing import Pushes
from verification import handlers
from verification.deps import VerificationDeps
from verification.model import Case, CaseState
from verification.policy import faces_in, screen, screened, selfie_arrived

SELFIE = {
    "FaceDetails": [
        {
            "BoundingBox": {"Width": 0.4, "Height": 0.5, "Left": 0.3, "Top": 0.2},
            "Confidence": 99.9,
            "Quality": {"Brightness": 70.0, "Sharpness": 80.0},
            "Gender": {"Value": "Female", "Confidence": 99.0},
        }
    ]
}
MONA = {"sub": "u-mona", "cognito:username": "mona", "cognito:groups": ["moderators"]}
ERIN = {"sub": "u-erin", "cognito:username": "erin"}


class Api:
    def __init__(self, aws: Clients) -> None:
        self.clock = ManualClock(NOW)
        self.deps = VerificationDeps(aws, clock=self.clock, ids=SequentialIds())
        self.users = UserDirectory(aws.dynamodb, aws.settings.users_table)

    def call(
        self,
        handler: Any,
        claims: dict[str, Any],
        route_key: str,
        body: Any = None,
        *,
        user_id: str | None = None,
        query: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        method, path = route_key.split(" ", 1)
        request = HttpRequest(
            method=method,
            path=path.replace("{userId}", user_id or ""),
            route_key=route_key,
            api_id="abc123",
            domain_name="abc123.execute-api.us-east-1.amazonaws.com",
            source_ip="203.0.113.9",
            query=query or {},
            path_parameters={"userId": user_id} if user_id else {},
            body=None if body is None else json.dumps(body),
            claims=claims,
        )
        response = handler(http_api_event(request, request_id="r", now=NOW), deps=self.deps)
        return response["statusCode"], json.loads(response["body"])

    def in_queue(self, user_id: str, minutes: int = 0) -> Case:
        """A signed-up user whose selfie (a real object) was screened into the queue."""
        self.users.sign_up(UserProfile.signing_up(user_id, user_id.removeprefix("u-")), NOW)
        key = f"selfies/{user_id}/s1"
        self.deps.clients.s3.put_object(
            Bucket=self.deps.clients.settings.selfies_bucket, Key=key, Body=b"\xff\xd8\xff jpeg"
        )
        at = NOW + timedelta(minutes=minutes)
        case = self.deps.cases.case_of(user_id, at)
        arrived = selfie_arrived(case, key, "ab" * 32, at)
        self.deps.cases.change(arrived, case.version)
        waiting, entry = screened(arrived, screen(faces_in(SELFIE)), at)
        self.deps.cases.change(waiting, arrived.version, entry)
        return waiting

    def decide(self, user_id: str, version: int, approve: bool, reason: str | None = None) -> Any:
        body = {"version": version, "approve": approve, "reason": reason}
        route = "POST /moderation/cases/{userId}/decision"
        return self.call(handlers.moderation_decision, MONA, route, body, user_id=user_id)


@pytest.fixture
def api(aws: Clients) -> Api:
    return Api(aws)


def test_only_moderators_review(api: Api) -> None:
    api.in_queue("u-erin")
    for handler, route in [
        (handlers.moderation_queue, "GET /moderation/cases"),
        (handlers.moderation_case, "GET /moderation/cases/{userId}"),
        (handlers.moderation_decision, "POST /moderation/cases/{userId}/decision"),
    ]:
        body = {"version": 2, "approve": True}
        status, answer = api.call(handler, ERIN, route, body, user_id="u-erin")
        assert (status, answer["code"]) == (403, "forbidden")
    case = api.deps.cases.get("u-erin")
    assert case is not None and case.state is CaseState.PENDING_REVIEW


def test_the_queue_is_oldest_first_and_pages(api: Api) -> None:
    for minutes, user in [(2, "u-b"), (1, "u-a"), (3, "u-c")]:
        api.in_queue(user, minutes)
    route = "GET /moderation/cases"
    status, first = api.call(handlers.moderation_queue, MONA, route, query={"limit": "2"})
    assert status == 200
    assert [c["userId"] for c in first["cases"]] == ["u-a", "u-b"]
    assert [c["name"] for c in first["cases"]] == ["a (a)", "b (b)"]
    query = {"limit": "2", "cursor": first["cursor"]}
    _, rest = api.call(handlers.moderation_queue, MONA, route, query=query)
    assert [c["userId"] for c in rest["cases"]] == ["u-c"]
    status, bad = api.call(handlers.moderation_queue, MONA, route, query={"cursor": "%%%"})
    assert (status, bad["field"]) == (400, "cursor")


def test_a_case_shows_its_history_and_a_short_lived_selfie_link_while_it_waits(
    api: Api,
) -> None:
    waiting = api.in_queue("u-erin")
    route = "GET /moderation/cases/{userId}"
    status, case = api.call(handlers.moderation_case, MONA, route, user_id="u-erin")
    assert status == 200
    assert (case["state"], case["version"], case["screening"]["faces"]) == (
        "pending_review",
        waiting.version,
        1,
    )
    assert "gender" not in json.dumps(case).lower()
    assert [h["action"] for h in case["history"]] == ["screened"]
    assert "Expires=120" in case["selfieUrl"] or "X-Amz-Expires=120" in case["selfieUrl"]
    assert requests.get(case["selfieUrl"], timeout=10).content.startswith(b"\xff\xd8")

    status, missing = api.call(handlers.moderation_case, MONA, route, user_id="u-nobody")
    assert (status, missing["code"]) == (404, "not_found")


def test_an_approval_is_final_audited_verifies_the_user_and_deletes_the_selfie(
    api: Api,
) -> None:
    waiting = api.in_queue("u-erin")
    status, decided = api.decide("u-erin", waiting.version, True)
    assert (status, decided["state"], decided["decidedBy"]) == (200, "approved", "u-mona")
    profile = api.users.get("u-erin")
    assert profile is not None and profile.verified
    selfies = api.deps.clients.s3.list_objects_v2(
        Bucket=api.deps.clients.settings.selfies_bucket, Prefix="selfies/u-erin/"
    )
    assert selfies.get("KeyCount", 0) == 0
    _, case = api.call(
        handlers.moderation_case, MONA, "GET /moderation/cases/{userId}", user_id="u-erin"
    )
    assert case["selfieUrl"] is None and case["selfieSha256"] == "ab" * 32
    assert [(h["actor"], h["action"]) for h in case["history"]] == [
        ("screening", "screened"),
        ("u-mona", "approved"),
    ]
    # A second decision, or one on what the moderator saw before, changes nothing.
    status, again = api.decide("u-erin", decided["version"], False, "no")
    assert (status, again["code"]) == (409, "invalid_state")
    status, stale = api.decide("u-erin", waiting.version, False, "no")
    assert (status, stale["code"]) == (409, "conflict")


def test_a_rejection_says_why_and_may_be_appealed_once(api: Api) -> None:
    waiting = api.in_queue("u-erin")
    status, refused = api.decide("u-erin", waiting.version, False, "  ")
    assert (status, refused["field"]) == (400, "reason")
    _, rejected = api.decide("u-erin", waiting.version, False, "Not eligible")
    status, mine = api.call(handlers.verification_status, ERIN, "GET /verification")
    assert (status, mine["state"], mine["reason"]) == (200, "rejected", "Not eligible")
    profile = api.users.get("u-erin")
    assert profile is not None and not profile.verified
    clients = api.deps.clients
    item = clients.dynamodb.get_item(
        TableName=clients.settings.users_table, Key={"userId": {"S": "u-erin"}}
    )["Item"]
    assert item["verification"]["S"] == "rejected"  # the profile's state, set with the decision

    body = {"message": "Please look again"}
    status, appealed = api.call(handlers.appeal, ERIN, "POST /verification/appeal", body)
    assert (status, appealed["state"], appealed["appealed"]) == (200, "pending_review", True)
    _, queue = api.call(handlers.moderation_queue, MONA, "GET /moderation/cases")
    assert [c["userId"] for c in queue["cases"]] == ["u-erin"]
    api.decide("u-erin", rejected["version"] + 1, False, "Still not eligible")
    status, again = api.call(handlers.appeal, ERIN, "POST /verification/appeal", body)
    assert (status, again["code"]) == (409, "appeal_used")


def test_the_outcome_reaches_the_user_live_or_by_push(aws: Clients) -> None:
    pushes = Pushes(aws)  # SNS platform applications, the push queue and worker
    api = Api(pushes.clients)
    api.deps.__dict__["chat"] = pushes.chat  # records what would go out live
    erin = Caller("u-erin", "erin")
    pushes.register(erin, "erin-phone")
    waiting = api.in_queue("u-erin")
    api.decide("u-erin", waiting.version, True)

    [(envelope, _)] = pushes.chat.direct
    assert envelope.user_ids == ("u-erin",)
    event = json.loads(envelope.payload)
    assert (event["type"], event["state"]) == ("verification", "approved")

    assert pushes.fan_out_sends() == [("u-erin",)]  # no connection: it becomes a push
    [push] = pushes.published(pushes.endpoint_of(erin, "erin-phone"))
    body = json.loads(push["APNS"])
    assert body["kind"] == "verification"
    assert body["aps"]["alert"]["body"].startswith("You're verified")
