"""The one handler wrapper: event view, log context, error mapping, response.

Handlers written with these decorators are a few lines: they take a typed view and their
dependencies and return a plain dict. Tests pass ``deps=`` to use fakes.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from common.errors import BadRequest, SottoError, Unauthorized, error_body, error_frame, http_status
from common.events import AuthorizerRequest, WebSocketEvent, reply
from common.http_events import HttpApiEvent, http_response
from common.logs import correlation, get_logger
from common.observability import invocation

D = TypeVar("D")
R = TypeVar("R")  # what a batch function is handed for each record
D_contra = TypeVar("D_contra", contravariant=True)
Body = dict[str, Any]
Answer = Mapping[str, Any] | None
RequestId = str | int

log = get_logger("handler")

MAX_REQUEST_ID_LENGTH = 128


class Handler(Protocol[D_contra]):
    """A Lambda entry point; tests pass ``deps=`` to replace the composition root's clients."""

    def __call__(
        self, event: Mapping[str, Any], context: Any = None, *, deps: D_contra | None = None
    ) -> dict[str, Any]: ...


def action(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[WebSocketEvent, Body, D], Answer]], Handler[D]]:
    """A route whose body is a JSON request: the answer (or error frame) goes back to the sender."""

    def decorate(route: Callable[[WebSocketEvent, Body, D], Answer]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            view = WebSocketEvent(event)
            request_id: RequestId | None = None
            with (
                correlation(
                    connectionId=view.connection_id, requestId=_invocation_id(context, view)
                ),
                invocation(route.__name__),
            ):
                try:
                    body = view.json_body()
                    request_id = _request_id(body)
                    answer = route(view, body, deps if deps is not None else load_deps())
                except Exception as exc:  # every failure becomes one error frame
                    _log_failure(exc, view.route_key)
                    return reply(error_frame(exc, request_id))
                if answer is None:
                    return reply()
                return reply(_with_request_id(answer, request_id))

        return handler

    return decorate


def lifecycle(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[WebSocketEvent, D], None]], Handler[D]]:
    """``$connect`` / ``$disconnect``: a non-2xx status refuses the handshake."""

    def decorate(route: Callable[[WebSocketEvent, D], None]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            view = WebSocketEvent(event)
            with (
                correlation(
                    connectionId=view.connection_id, requestId=_invocation_id(context, view)
                ),
                invocation(route.__name__),
            ):
                try:
                    route(view, deps if deps is not None else load_deps())
                except Exception as exc:
                    _log_failure(exc, view.route_key)
                    return reply(error_body(exc), status=http_status(exc))
                return reply()

        return handler

    return decorate


class UnauthorizedSignal(Exception):
    """API Gateway turns an authorizer failing with exactly ``Unauthorized`` into HTTP 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorizer(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[AuthorizerRequest, D], dict[str, Any]]], Handler[D]]:
    """A Lambda REQUEST authorizer: returns an IAM policy, or fails with ``Unauthorized``."""

    def decorate(route: Callable[[AuthorizerRequest, D], dict[str, Any]]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            view = AuthorizerRequest(event)
            with correlation(requestId=_invocation_id(context, None)), invocation(route.__name__):
                try:
                    return route(view, deps if deps is not None else load_deps())
                except Unauthorized as exc:
                    log.info("connection refused: %s", exc.message)
                    raise UnauthorizedSignal() from None

        return handler

    return decorate


def http_route(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[HttpApiEvent, D], Mapping[str, Any]]], Handler[D]]:
    """An HTTP API route: the answer is a 200 JSON body; every failure its HTTP status with
    ``{"code", "message"}``."""

    def decorate(route: Callable[[HttpApiEvent, D], Mapping[str, Any]]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            view = HttpApiEvent(event)
            with correlation(requestId=_invocation_id(context, view)), invocation(route.__name__):
                try:
                    answer = route(view, deps if deps is not None else load_deps())
                except Exception as exc:  # every failure becomes one error response
                    _log_failure(exc, view.route_key)
                    return http_response(error_body(exc), http_status(exc))
                return http_response(answer)

        return handler

    return decorate


def sqs_batch(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[str, D], None]], Handler[D]]:
    """An SQS-triggered function: each record's body is handled on its own, and the records
    that raised are reported as ``batchItemFailures`` so that only they come back."""

    def one(route: Callable[[str, D], None], record: SQSRecord, deps: D) -> None:
        with correlation(messageId=record.message_id):
            route(record.body, deps)

    return _partial_batch(load_deps, EventType.SQS, one)


@dataclass(frozen=True)
class StreamChange:
    """One DynamoDB stream record, as a handler needs it: what happened, and the item now."""

    event_name: str  # INSERT | MODIFY | REMOVE
    new_image: Mapping[str, Any]  # plain Python values (strings, Decimals...); {} once removed


def stream_batch(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[StreamChange, D], None]], Handler[D]]:
    """A function on a DynamoDB stream: each record handled on its own; the ones that raised
    are reported as ``batchItemFailures`` (by sequence number), so the stream resumes there."""

    def one(route: Callable[[StreamChange, D], None], record: DynamoDBRecord, deps: D) -> None:
        name = record.event_name.name if record.event_name else ""
        image = record.dynamodb.new_image if record.dynamodb else {}
        with correlation(eventId=record.event_id or ""):
            route(StreamChange(name, image or {}), deps)

    return _partial_batch(load_deps, EventType.DynamoDBStreams, one)


@dataclass(frozen=True)
class StreamRecord:
    """One DynamoDB stream record with all a batch consumer needs (analytics reads both images)."""

    event_id: str
    event_name: str  # INSERT | MODIFY | REMOVE
    table: str  # the table whose stream it came from
    at: datetime  # ApproximateCreationDateTime: whole seconds
    old_image: Mapping[str, Any]  # plain Python values; {} for an INSERT
    new_image: Mapping[str, Any]  # {} for a REMOVE


def stream_whole_batch(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[Sequence[StreamRecord], D], None]], Handler[D]]:
    """A function on a DynamoDB stream that handles a batch as one (it writes one file per
    batch): if it raises, Lambda hands the same records over again."""

    def decorate(route: Callable[[Sequence[StreamRecord], D], None]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            resolved = deps if deps is not None else load_deps()
            records = [_stream_record(DynamoDBRecord(raw)) for raw in event.get("Records", [])]
            with invocation(route.__name__):
                route(records, resolved)
            return {}

        return handler

    return decorate


def _stream_record(record: DynamoDBRecord) -> StreamRecord:
    change = record.dynamodb
    created = change.approximate_creation_date_time if change else None
    return StreamRecord(
        event_id=record.event_id or "",
        event_name=record.event_name.name if record.event_name else "",
        table=table_of_stream(record.event_source_arn or ""),
        at=datetime.fromtimestamp(created or 0, UTC),
        old_image=(change.old_image if change else None) or {},
        new_image=(change.new_image if change else None) or {},
    )


def table_of_stream(stream_arn: str) -> str:
    """``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`` -> ``<name>``."""
    _, _, resource = stream_arn.partition(":table/")
    return resource.split("/", 1)[0]


def scheduled(load_deps: Callable[[], D]) -> Callable[[Callable[[datetime, D], None]], Handler[D]]:
    """A function on an EventBridge schedule: handed the time the schedule fired."""

    def decorate(route: Callable[[datetime, D], None]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            resolved = deps if deps is not None else load_deps()
            fired = str(event.get("time") or "")
            at = datetime.fromisoformat(fired.replace("Z", "+00:00")) if fired else None
            with correlation(scheduleId=str(event.get("id", ""))), invocation(route.__name__):
                route(at or datetime.now(UTC), resolved)
            return {}

        return handler

    return decorate


def _partial_batch(
    load_deps: Callable[[], D],
    event_type: EventType,
    one: Callable[[Callable[[R, D], None], Any, D], None],
) -> Callable[[Callable[[R, D], None]], Handler[D]]:
    """Powertools' batch processing with partial failures, around ``one`` record at a time."""

    def decorate(route: Callable[[R, D], None]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            resolved = deps if deps is not None else load_deps()
            with invocation(route.__name__):
                response = process_partial_response(
                    event=dict(event),
                    record_handler=lambda record: one(route, record, resolved),
                    processor=BatchProcessor(event_type=event_type),
                    context=context,
                )
            return dict(response)

        return handler

    return decorate


def sns_messages(
    load_deps: Callable[[], D],
) -> Callable[[Callable[[str, D], None]], Handler[D]]:
    """A function subscribed to an SNS topic: each record's message handled in turn. A failure
    fails the invocation, and Lambda's asynchronous retries deliver the event again."""

    def decorate(route: Callable[[str, D], None]) -> Handler[D]:
        @functools.wraps(route)
        def handler(
            event: Mapping[str, Any], context: Any = None, *, deps: D | None = None
        ) -> dict[str, Any]:
            resolved = deps if deps is not None else load_deps()
            with invocation(route.__name__):
                for record in SNSEvent(dict(event)).records:
                    with correlation(messageId=record.sns.message_id):
                        route(record.sns.message, resolved)
            return {}

        return handler

    return decorate


def _request_id(body: Body) -> RequestId | None:
    """The request's id, echoed exactly as sent (a string or a number)."""
    value = body.get("requestId")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest("requestId must be a string or a number.", field="requestId")
    if len(str(value)) > MAX_REQUEST_ID_LENGTH:
        raise BadRequest(
            f"requestId is longer than {MAX_REQUEST_ID_LENGTH} characters.", field="requestId"
        )
    return value


def _with_request_id(answer: Mapping[str, Any], request_id: RequestId | None) -> dict[str, Any]:
    if request_id is None:
        return dict(answer)
    return {"type": answer["type"], "requestId": request_id, **answer}


def _invocation_id(context: Any, view: WebSocketEvent | HttpApiEvent | None) -> str:
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        return str(request_id)
    return view.request_id if view is not None and view.request_id else uuid.uuid4().hex


def _log_failure(exc: Exception, route_key: str) -> None:
    if isinstance(exc, SottoError):
        log.info("%s refused: %s (%s)", route_key, exc.code, exc.message)
    else:
        log.exception("%s failed unexpectedly", route_key)
