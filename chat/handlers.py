"""Lambda entry points of the chat actions. Thin: parse, call the service, shape the reply."""

from __future__ import annotations

from chat.deps import ChatDeps, load
from chat.model import Origin
from chat.pipeline import uploads_in
from chat.wire import (
    ack_frame,
    parse_lookup_user,
    parse_send,
    parse_sync,
    parse_upload,
    upload_frame,
    user_frame,
)
from common.events import WebSocketEvent
from common.handler import Answer, Body, action, sqs_batch


@action(load)
def upload(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return upload_frame(deps.chat.request_upload(event.require_caller(), parse_upload(body)))


@action(load)
def send(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    origin = Origin(event.require_caller(), event.connection_id, event.management_endpoint)
    return ack_frame(deps.chat.send(origin, parse_send(body)))


@action(load)
def sync(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return deps.chat.sync(event.require_caller(), parse_sync(body))


@action(load)
def lookup_user(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    event.require_caller()
    return user_frame(deps.chat.lookup_user(parse_lookup_user(body)))


@sqs_batch(load)
def process_uploads(body: str, deps: ChatDeps) -> None:
    """S3 ObjectCreated on clips/raw/, through SQS: probe, clean, encode and describe each clip."""
    for upload in uploads_in(body):
        deps.processor.process(upload)
