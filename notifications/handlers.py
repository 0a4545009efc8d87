"""Lambda entry points of notifications: device and preference actions on the WebSocket API,
the push worker on the push queue, the welcome on the users table's stream."""

from __future__ import annotations

from chat.wire_groups import parse_conversation_id
from common.events import WebSocketEvent
from common.handler import (
    Answer,
    Body,
    StreamChange,
    action,
    sns_messages,
    sqs_batch,
    stream_batch,
)
from common.logs import get_logger
from notifications.deps import NotificationDeps, load
from notifications.model import endpoint_in_event, job_from_json
from notifications.wire import (
    device_frame,
    do_not_disturb_frame,
    mute_frame,
    parse_device_id,
    parse_do_not_disturb,
    parse_mute,
    parse_register_device,
)

log = get_logger("notifications")


@action(load)
def register_device(event: WebSocketEvent, body: Body, deps: NotificationDeps) -> Answer:
    device = deps.devices.register(event.require_caller(), parse_register_device(body))
    return device_frame(device.device_id, device)


@action(load)
def unregister_device(event: WebSocketEvent, body: Body, deps: NotificationDeps) -> Answer:
    device_id = parse_device_id(body)
    deps.devices.unregister(event.require_caller(), device_id)
    return device_frame(device_id, None)


@action(load)
def mute(event: WebSocketEvent, body: Body, deps: NotificationDeps) -> Answer:
    request = parse_mute(body, deps.clock.now())
    return mute_frame(request.conversation_id, deps.devices.mute(event.require_caller(), request))


@action(load)
def unmute(event: WebSocketEvent, body: Body, deps: NotificationDeps) -> Answer:
    conversation_id = parse_conversation_id(body)
    deps.devices.unmute(event.require_caller(), conversation_id)
    return mute_frame(conversation_id, None)


@action(load)
def do_not_disturb(event: WebSocketEvent, body: Body, deps: NotificationDeps) -> Answer:
    request = parse_do_not_disturb(body, deps.clock.now())
    return do_not_disturb_frame(deps.devices.do_not_disturb(event.require_caller(), request))


@action(load)
def notification_settings(event: WebSocketEvent, body: Body, deps: NotificationDeps) -> Answer:
    return deps.devices.settings(event.require_caller())


@sqs_batch(load)
def push(body: str, deps: NotificationDeps) -> None:
    """The push queue: members who missed a message, and coalescing windows that closed."""
    try:
        job = job_from_json(body)
    except (ValueError, KeyError, TypeError):
        log.warning("dropped a malformed push job")  # retrying cannot make it readable
        return
    deps.push.handle(job)


@stream_batch(load)
def welcome(change: StreamChange, deps: NotificationDeps) -> None:
    """The users table's stream: a profile written for the first time is a new user."""
    if change.event_name == "INSERT" and change.new_image:
        deps.push.welcome(str(change.new_image["userId"]))


@sns_messages(load)
def endpoint_events(message: str, deps: NotificationDeps) -> None:
    """The platform applications' event topic (endpoint updated or deleted, delivery failed):
    devices whose endpoint SNS disabled are forgotten at once, not at their next push."""
    endpoint_arn = endpoint_in_event(message)
    if endpoint_arn is None:
        log.warning("ignored an SNS event that names no endpoint")
        return
    deps.push.endpoint_changed(endpoint_arn)
