"""Lambda entry points of verification, on the HTTP API. Thin: parse, call the service, reply."""

from __future__ import annotations

from typing import Any

from common.handler import http_route, sqs_batch
from common.http_events import HttpApiEvent
from common.s3 import uploads_in
from verification.deps import VerificationDeps, load
from verification.wire import parse_selfie_request, selfie_grant_view


@http_route(load)
def request_selfie(event: HttpApiEvent, deps: VerificationDeps) -> dict[str, Any]:
    """``POST /selfie``: a presigned POST for the caller's next selfie."""
    caller = event.require_caller()
    request = parse_selfie_request(event.json_body(), deps.clients.settings.max_selfie_bytes)
    return selfie_grant_view(deps.verification.request_selfie(caller, request))


@sqs_batch(load)
def screen_selfies(body: str, deps: VerificationDeps) -> None:
    """S3 ``ObjectCreated`` on ``selfies/``, through SQS: screen each new selfie."""
    for upload in uploads_in(body):
        deps.screener.process(upload)
