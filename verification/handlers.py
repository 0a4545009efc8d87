"""Lambda entry points of verification, on the HTTP API. Thin: parse, call the service, reply."""

from __future__ import annotations

from typing import Any

from common.handler import http_route, sqs_batch
from common.http_events import HttpApiEvent
from common.s3 import uploads_in
from verification.deps import VerificationDeps, load
from verification.wire import (
    case_view,
    parse_appeal,
    parse_decision,
    parse_queue_page,
    parse_selfie_request,
    queue_view,
    selfie_grant_view,
    status_view,
)

MODERATORS = "moderators"  # the Cognito group whose members review cases


@http_route(load)
def request_selfie(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``POST /selfie``: a presigned POST for the caller's next selfie."""
    caller = event.require_caller()
    request = parse_selfie_request(event.json_body(), deps.clients.settings.max_selfie_bytes)
    return selfie_grant_view(deps.verification.request_selfie(caller, request))


@http_route(load)
def verification_status(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``GET /verification``: where my case stands."""
    return status_view(deps.verification.status(event.require_caller()))


@http_route(load)
def appeal(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``POST /verification/appeal``: once, after a rejection."""
    caller = event.require_caller()
    return status_view(deps.verification.appeal(caller, parse_appeal(event.json_body())))


@http_route(load)
def moderation_queue(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``GET /moderation/cases``: cases waiting for a decision, oldest first."""
    event.require_group(MODERATORS)
    limit, after = parse_queue_page(event.query("limit"), event.query("cursor"))
    return queue_view(*deps.verification.queue(limit, after))


@http_route(load)
def moderation_case(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``GET /moderation/cases/{userId}``: one case, its history, and its selfie for now."""
    event.require_group(MODERATORS)
    view = deps.verification.open_case(event.path_parameter("userId"))
    return case_view(view.case, view.name, view.history, view.selfie_url)


@http_route(load)
def moderation_decision(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``POST /moderation/cases/{userId}/decision``: approve, or reject with a reason."""
    moderator = event.require_group(MODERATORS)
    decision = parse_decision(event.json_body())
    case = deps.verification.decide(
        moderator,
        event.path_parameter("userId"),
        decision.version,
        decision.approve,
        decision.reason,
    )
    return case_view(case, None, [], None)


@sqs_batch(load)
def screen_selfies(body: str, deps: VerificationDeps) -> None:
    """S3 ``ObjectCreated`` on ``selfies/``, through SQS: screen each new selfie."""
    for upload in uploads_in(body):
        deps.screener.process(upload)
