"""Lambda entry points of the chat actions. Thin: parse, call the service, shape the reply."""

from __future__ import annotations

import functools
from collections.abc import Callable

from chat.deps import ChatDeps, load
from chat.model import IndicatorKind, Origin
from chat.wire import (
    ack_frame,
    parse_lookup_user,
    parse_send,
    parse_sync,
    parse_upload,
    upload_frame,
    user_frame,
)
from chat.wire_groups import (
    members_frame,
    membership_frame,
    parse_add_members,
    parse_conversation_id,
    parse_create_group,
    parse_list,
    parse_remove_member,
    parse_rename,
    parse_set_role,
    parse_summary,
)
from chat.wire_signals import (
    block_frame,
    parse_indicator,
    parse_read,
    parse_receipt,
    parse_report,
    parse_user_id,
    reported_frame,
)
from common.events import WebSocketEvent
from common.handler import Answer, Body, Handler, action, sqs_batch
from common.s3 import uploads_in

Route = Callable[[WebSocketEvent, Body, ChatDeps], Answer]


def chat_action(route: Route) -> Handler[ChatDeps]:
    """A chat route: verified users only (the others get ``not_verified``)."""

    @functools.wraps(route)
    def verified_only(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
        deps.gate.require(event.require_caller().user_id)
        return route(event, body, deps)

    return action(load)(verified_only)


def _origin(event: WebSocketEvent) -> Origin:
    return Origin(event.require_caller(), event.connection_id, event.management_endpoint)


@chat_action
def upload(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return upload_frame(deps.chat.request_upload(event.require_caller(), parse_upload(body)))


@chat_action
def send(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return ack_frame(deps.chat.send(_origin(event), parse_send(body)))


@chat_action
def sync(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    """With a ``conversationId``: that conversation's messages; without: the summary."""
    if body.get("conversationId") is None:
        return deps.inbox.summary(event.require_caller(), parse_summary(body))
    return deps.chat.sync(event.require_caller(), parse_sync(body))


@chat_action
def lookup_user(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    event.require_caller()
    return user_frame(deps.chat.lookup_user(parse_lookup_user(body)))


# ---- groups and the conversation list ------------------------------------------------------


@chat_action
def create_group(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return membership_frame(deps.groups.create(_origin(event), parse_create_group(body)))


@chat_action
def add_members(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return membership_frame(deps.groups.add(_origin(event), parse_add_members(body)))


@chat_action
def remove_member(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return membership_frame(deps.groups.remove(_origin(event), parse_remove_member(body)))


@chat_action
def leave_group(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return membership_frame(deps.groups.leave(_origin(event), parse_conversation_id(body)))


@chat_action
def set_role(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return membership_frame(deps.groups.set_role(_origin(event), parse_set_role(body)))


@chat_action
def rename_group(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return membership_frame(deps.groups.rename(_origin(event), parse_rename(body)))


@chat_action
def members(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    found = deps.groups.members(event.require_caller(), parse_conversation_id(body))
    return members_frame(*found)


@chat_action
def conversations(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return deps.inbox.conversations(event.require_caller(), parse_list(body))


# ---- receipts, indicators, presence --------------------------------------------------------


@chat_action
def receipt(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return deps.signals.receipt(_origin(event), parse_receipt(body))


@chat_action
def mark_read(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return deps.signals.mark_read(event.require_caller(), parse_read(body))


@chat_action
def typing(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    deps.signals.indicate(_origin(event), parse_indicator(body, IndicatorKind.TYPING))
    return None


@chat_action
def recording(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    deps.signals.indicate(_origin(event), parse_indicator(body, IndicatorKind.RECORDING))
    return None


@chat_action
def presence(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return deps.signals.presence(event.require_caller(), parse_conversation_id(body))


# ---- safety --------------------------------------------------------------------------------


@chat_action
def block(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    user_id = parse_user_id(body)
    deps.safety.block(event.require_caller(), user_id)
    return block_frame(user_id, blocked=True)


@chat_action
def unblock(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    user_id = parse_user_id(body)
    deps.safety.unblock(event.require_caller(), user_id)
    return block_frame(user_id, blocked=False)


@chat_action
def report(event: WebSocketEvent, body: Body, deps: ChatDeps) -> Answer:
    return reported_frame(deps.safety.report(event.require_caller(), parse_report(body)))


@sqs_batch(load)
def process_uploads(body: str, deps: ChatDeps) -> None:
    """S3 ObjectCreated on clips/raw/, through SQS: probe, clean, encode and describe each clip."""
    for upload in uploads_in(body):
        deps.processor.process(upload)
