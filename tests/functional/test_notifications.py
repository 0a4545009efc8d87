"""Push notifications on moto (SNS platform endpoints, SQS, DynamoDB) and fakeredis: devices and
their endpoints, who gets a push and what it says per platform, coalescing on an injected
clock, mute, do-not-disturb and blocks, dead endpoints, and the welcome from the users stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chat import handlers as chat_handlers
from chat.model import FanoutEnvelope, MissedMessage
from common.clients import Clients, redis_client
from common.events import Caller
from connections import handlers as connection_handlers
from connections.deps import ConnectionsDeps
from local_gateway.queues import sqs_event
from notifications import handlers as push_handlers
from notifications.deps import NotificationDeps
from tests.events import load_event
from tests.functional.chatting import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    call,
    create_group,
    ready_clip,
    send,
)
from tests.functional.helpers import NOW, action, connecting
from tests.functional.pushing import (
    ANDROID_TOKEN,
    IOS_TOKEN,
    NobodyConnected,
    Pushes,
    apns,
    fcm,
)


@pytest.fixture
def world(aws: Clients) -> Pushes:
    return Pushes(aws)


# ---- devices and endpoints --------------------------------------------------------------------


def test_registering_creates_an_endpoint_and_reregistering_refreshes_it(world: Pushes) -> None:
    answer = world.register(BOB, "bob-iphone")
    assert (answer["type"], answer["registered"], answer["platform"]) == ("device", True, "ios")
    arn = world.endpoint_of(BOB, "bob-iphone")
    assert ":endpoint/APNS/" in arn
    assert world.endpoint_attributes(arn) == {"Token": IOS_TOKEN, "Enabled": "true"}

    # APNs said the token was bad meanwhile: the same token registered again re-enables it.
    world.clients.sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})
    world.register(BOB, "bob-iphone")
    assert world.endpoint_of(BOB, "bob-iphone") == arn
    assert world.endpoint_attributes(arn)["Enabled"] == "true"

    # The OS handed the app a new token: the same endpoint, updated.
    world.register(BOB, "bob-iphone", token="b2" * 32)
    assert world.endpoint_of(BOB, "bob-iphone") == arn
    assert world.endpoint_attributes(arn)["Token"] == "b2" * 32

    # Deleted behind our back (by an operator): a fresh endpoint.
    world.clients.sns.delete_endpoint(EndpointArn=arn)
    world.register(BOB, "bob-iphone", token="b2" * 32)
    assert world.endpoint_of(BOB, "bob-iphone") != arn


def test_one_user_many_devices_and_a_phone_that_changes_hands(world: Pushes) -> None:
    world.register(BOB, "bob-iphone")
    world.register(BOB, "bob-pixel", token=ANDROID_TOKEN, platform="android")
    settings = world.act(push_handlers.notification_settings, BOB, {"action": "x"})
    assert [(d["deviceId"], d["platform"]) for d in settings["devices"]] == [
        ("bob-iphone", "ios"),
        ("bob-pixel", "android"),
    ]
    assert "token" not in json.dumps(settings)  # tokens stay on the server

    # Bob's iPhone is now Carol's: her registration takes the endpoint, his record goes.
    iphone = world.endpoint_of(BOB, "bob-iphone")
    world.register(CAROL, "carols-iphone")
    assert world.notes.store.get_device(BOB.user_id, "bob-iphone") is None
    assert world.endpoint_of(CAROL, "carols-iphone") == iphone
    assert [d.device_id for d in world.notes.store.recipient(BOB.user_id).devices] == ["bob-pixel"]


def test_unregistering_deletes_the_endpoint_and_is_idempotent(world: Pushes) -> None:
    world.register(BOB, "bob-iphone")
    arn = world.endpoint_of(BOB, "bob-iphone")
    body = {"action": "unregisterDevice", "deviceId": "bob-iphone"}
    assert world.act(push_handlers.unregister_device, BOB, body)["registered"] is False
    assert world.notes.store.get_device(BOB.user_id, "bob-iphone") is None
    with pytest.raises(world.clients.sns.exceptions.NotFoundException):
        world.endpoint_attributes(arn)
    assert world.act(push_handlers.unregister_device, BOB, body)["registered"] is False


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"platform": "blackberry"}, "bad_request", "platform"),
        ({"token": "short"}, "bad_request", "token"),
        ({"token": "has spaces " * 5}, "bad_request", "token"),
        ({"deviceId": "../etc"}, "bad_request", "deviceId"),
        ({"appVersion": None}, "bad_request", "appVersion"),
    ],
)
def test_bad_registrations_are_refused_with_the_field(
    world: Pushes, change: dict[str, Any], code: str, field: str
) -> None:
    body = {
        "action": "registerDevice",
        "deviceId": "d1",
        "platform": "ios",
        "token": IOS_TOKEN,
        "appVersion": "1.0",
        **change,
    }
    answer = world.act(push_handlers.register_device, BOB, body)
    assert (answer["type"], answer["code"], answer.get("field")) == ("error", code, field)
    assert world.notes.store.recipient(BOB.user_id).devices == ()


def test_a_platform_without_an_application_is_push_unavailable(aws: Clients) -> None:
    unconfigured = NotificationDeps(aws)  # a deployment that set up no platform application
    body = {
        "action": "registerDevice",
        "deviceId": "d1",
        "platform": "android",
        "token": ANDROID_TOKEN,
        "appVersion": "1.0",
    }
    answer = call(push_handlers.register_device, BOB, body, unconfigured)  # type: ignore[arg-type]
    assert (answer["type"], answer["code"]) == ("error", "push_unavailable")
    assert unconfigured.store.recipient(BOB.user_id).devices == ()


# ---- who gets a push, and what it says ----------------------------------------------------------


def test_three_messages_in_the_window_become_one_push_with_the_unread_badge(
    world: Pushes,
) -> None:
    world.register(BOB, "bob-iphone")
    world.register(BOB, "bob-pixel", token=ANDROID_TOKEN, platform="android")
    clip = ready_clip(world.chat, ALICE)
    for i in range(3):
        send(world.chat, ALICE, clip, f"m{i}", to=BOB.user_id)
        # Alice, the sender, is never handed over; the first message opens a 5 s window.
        assert world.fan_out_sends() == [(BOB.user_id,)]
        world.clock.advance(1)
    iphone, pixel = world.endpoint_of(BOB, "bob-iphone"), world.endpoint_of(BOB, "bob-pixel")
    assert world.published(iphone) == []  # the window is open
    assert len(world.delayed.due) == 1  # one flush, scheduled by the first message

    assert world.play_due(early=True) == 1  # a flush that comes early waits for the rest
    assert world.published(iphone) == []
    world.settle(2)
    [message] = world.published(iphone)
    assert world.published(pixel) == [message]  # one message, a body for every platform
    assert message["default"] == "Alice: 3 voice messages from Alice (0:05)"

    body = apns(message)
    assert body["aps"]["alert"] == {"title": "Alice", "body": "3 voice messages from Alice (0:05)"}
    assert body["aps"]["badge"] == 3  # Bob has read none of the three
    assert body["aps"]["thread-id"] == body["conversationId"]
    assert (body["kind"], body["seq"], body["count"]) == ("message", 3, 3)
    assert json.loads(message["APNS_SANDBOX"]) == body

    android = fcm(message)
    assert android["notification"] == {
        "title": "Alice",
        "body": "3 voice messages from Alice (0:05)",
    }
    assert android["data"] == {
        "kind": "message",
        "count": "3",
        "conversationId": body["conversationId"],
        "seq": "3",
        "badge": "3",
    }
    assert android["android"]["collapse_key"] == body["conversationId"]
    assert android["android"]["notification"]["notification_count"] == 3
    assert "http" not in json.dumps(message)  # no clip URL, no audio: text and ids only

    world.settle(60)
    assert len(world.published(iphone)) == 1  # and never again for the same messages


def test_a_group_push_names_the_group_and_the_senders(world: Pushes) -> None:
    world.register(CAROL, "carol-phone")
    group = create_group(world.chat, ALICE, BOB, CAROL)
    world.fan_out_sends()  # the membership events: not messages, so no push
    send(world.chat, ALICE, ready_clip(world.chat, ALICE), "a1", conversationId=group)
    world.fan_out_sends()
    world.settle(5)
    [first] = world.published(world.endpoint_of(CAROL, "carol-phone"))
    assert apns(first)["aps"]["alert"] == {"title": "Band", "body": "Alice: Voice message (0:02)"}

    send(world.chat, ALICE, ready_clip(world.chat, ALICE), "a2", conversationId=group)
    send(world.chat, BOB, ready_clip(world.chat, BOB), "b1", conversationId=group)
    world.fan_out_sends()
    world.settle(5)
    second = world.published(world.endpoint_of(CAROL, "carol-phone"))[1]
    assert apns(second)["aps"]["alert"]["body"] == "2 voice messages from Alice and Bob (0:03)"
    assert apns(second)["aps"]["badge"] == 3


def test_a_member_with_a_live_connection_is_not_pushed_one_whose_sockets_are_gone_is(
    world: Pushes,
) -> None:
    connections = ConnectionsDeps(world.clients, clock=world.clock)
    for caller in (BOB, CAROL):
        response = connection_handlers.connect(
            connecting(caller, f"{caller.username}-phone"), deps=connections
        )
        assert response["statusCode"] == 200
    group = create_group(world.chat, ALICE, BOB, CAROL, DAVE)
    world.chat.direct.clear()
    send(world.chat, ALICE, ready_clip(world.chat, ALICE), "a1", conversationId=group)
    [(envelope, _)] = world.chat.direct

    class CarolsSocketIsGone:
        async def deliver(self, payload: str, connection_ids: Any) -> set[str]:
            return {c for c in connection_ids if c.startswith("carol")}

    world.clock.advance(60)  # Carol's connection is old enough to be forgotten
    report = asyncio.run(world.chat.fanout(CarolsSocketIsGone()).fan_out(envelope))
    assert sorted(report.missed_by) == [CAROL.user_id, DAVE.user_id]  # not Bob, not Alice


def test_mute_and_do_not_disturb_hold_pushes_back_until_they_lapse(world: Pushes) -> None:
    world.register(BOB, "bob-iphone")
    iphone = world.endpoint_of(BOB, "bob-iphone")
    clip = ready_clip(world.chat, ALICE)
    send(world.chat, ALICE, clip, "m0", to=BOB.user_id)
    conversation = world.chat.direct[-1][0].conversation_id

    until = (NOW.replace(hour=13)).isoformat().replace("+00:00", "Z")
    answer = world.act(
        push_handlers.mute,
        BOB,
        {"action": "mute", "conversationId": conversation, "until": until},
    )
    assert (answer["muted"], answer["until"]) == (True, "2026-11-21T13:00:00.000Z")
    world.fan_out_sends()
    world.settle(5)
    assert world.published(iphone) == []  # muted

    world.clock.advance(3600)  # the mute has lapsed
    send(world.chat, ALICE, clip, "m1", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)
    assert len(world.published(iphone)) == 1

    answer = world.act(
        push_handlers.do_not_disturb, BOB, {"action": "doNotDisturb", "enabled": True}
    )
    assert (answer["enabled"], answer["until"]) == (True, None)
    send(world.chat, ALICE, clip, "m2", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)
    assert len(world.published(iphone)) == 1  # not disturbed, for as long as it is on

    settings = world.act(push_handlers.notification_settings, BOB, {"action": "x"})
    assert settings["doNotDisturb"] == {"enabled": True, "until": None}
    assert settings["muted"] == []  # the lapsed mute is not shown
    world.act(push_handlers.do_not_disturb, BOB, {"action": "doNotDisturb", "enabled": False})
    forever = {"action": "mute", "conversationId": conversation}
    assert world.act(push_handlers.mute, BOB, forever)["until"] is None
    send(world.chat, ALICE, clip, "m3", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)
    assert len(world.published(iphone)) == 1  # muted for ever
    world.act(push_handlers.unmute, BOB, {"action": "unmute", "conversationId": conversation})
    send(world.chat, ALICE, clip, "m4", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)
    assert len(world.published(iphone)) == 2
    assert apns(world.published(iphone)[1])["aps"]["badge"] == 5  # all five are unread


def test_muting_a_conversation_you_are_not_in_is_forbidden(world: Pushes) -> None:
    group = create_group(world.chat, ALICE, BOB)
    answer = world.act(push_handlers.mute, CAROL, {"action": "mute", "conversationId": group})
    assert (answer["type"], answer["code"]) == ("error", "forbidden")
    past = {"action": "mute", "conversationId": group, "until": "2020-01-01T00:00:00Z"}
    answer = world.act(push_handlers.mute, BOB, past)
    assert (answer["code"], answer["field"]) == ("bad_request", "until")


def test_no_push_from_someone_blocked_even_if_the_block_came_during_the_window(
    world: Pushes,
) -> None:
    world.register(BOB, "bob-iphone")
    clip = ready_clip(world.chat, ALICE)
    send(world.chat, ALICE, clip, "m0", to=BOB.user_id)
    world.fan_out_sends()
    call(chat_handlers.block, BOB, {"action": "block", "userId": ALICE.user_id}, world.chat)
    world.settle(5)
    assert world.published(world.endpoint_of(BOB, "bob-iphone")) == []

    # Once blocked, the fan-out does not even hand Bob over. Nor is a sender pushed about
    # their own message.
    group = create_group(world.chat, CAROL, ALICE, BOB)
    world.chat.direct.clear()
    send(world.chat, ALICE, ready_clip(world.chat, ALICE), "g1", conversationId=group)
    assert world.fan_out_sends() == [(CAROL.user_id,)]


def test_a_disabled_endpoint_is_forgotten_and_never_retried(world: Pushes) -> None:
    world.register(BOB, "bob-iphone")
    world.register(BOB, "bob-pixel", token=ANDROID_TOKEN, platform="android")
    iphone, pixel = world.endpoint_of(BOB, "bob-iphone"), world.endpoint_of(BOB, "bob-pixel")
    world.clients.sns.set_endpoint_attributes(EndpointArn=iphone, Attributes={"Enabled": "false"})
    clip = ready_clip(world.chat, ALICE)
    ack = send(world.chat, ALICE, clip, "m0", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)

    assert world.notes.store.get_device(BOB.user_id, "bob-iphone") is None
    with pytest.raises(world.clients.sns.exceptions.NotFoundException):
        world.endpoint_attributes(iphone)
    assert len(world.published(pixel)) == 1  # the other device still hears it
    # The message itself is untouched.
    body = {"action": "sync", "conversationId": ack["conversationId"], "afterSeq": 0}
    assert [m["seq"] for m in call(chat_handlers.sync, BOB, body, world.chat)["messages"]] == [1]

    send(world.chat, ALICE, clip, "m1", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)
    assert [d.device_id for d in world.notes.store.recipient(BOB.user_id).devices] == ["bob-pixel"]
    assert len(world.published(pixel)) == 2


def endpoint_event(endpoint_arn: str, event_type: str = "DeliveryFailure") -> dict[str, Any]:
    """The captured event of the platform applications' topic, about this endpoint."""
    event = load_event("sns_endpoint_event")
    notification = event["Records"][0]["Sns"]
    message = json.loads(notification["Message"])
    notification["Message"] = json.dumps(
        {**message, "EndpointArn": endpoint_arn, "EventType": event_type}
    )
    return event


def test_an_endpoint_sns_reports_disabled_is_forgotten_before_the_next_push(
    world: Pushes,
) -> None:
    world.register(BOB, "bob-iphone")
    world.register(BOB, "bob-pixel", token=ANDROID_TOKEN, platform="android")
    iphone, pixel = world.endpoint_of(BOB, "bob-iphone"), world.endpoint_of(BOB, "bob-pixel")

    # An event about an endpoint that is still enabled changes nothing.
    push_handlers.endpoint_events(endpoint_event(pixel, "EndpointUpdated"), deps=world.notes)
    assert len(world.notes.store.recipient(BOB.user_id).devices) == 2

    world.clients.sns.set_endpoint_attributes(EndpointArn=iphone, Attributes={"Enabled": "false"})
    for _ in range(2):  # SNS may deliver an event twice
        push_handlers.endpoint_events(endpoint_event(iphone), deps=world.notes)
    assert [d.device_id for d in world.notes.store.recipient(BOB.user_id).devices] == ["bob-pixel"]
    with pytest.raises(world.clients.sns.exceptions.NotFoundException):
        world.endpoint_attributes(iphone)

    odd = endpoint_event(pixel)
    odd["Records"][0]["Sns"]["Message"] = "not json"
    assert push_handlers.endpoint_events(odd, deps=world.notes) == {}  # ignored, not retried


class ThrottledFor:
    """SNS, except that publishing to one endpoint fails as throttling does after retries."""

    def __init__(self, client: Any, endpoint_arn: str) -> None:
        self._client = client
        self._endpoint_arn = endpoint_arn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def publish(self, **request: Any) -> Any:
        if request["TargetArn"] == self._endpoint_arn:
            error = {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}
            raise ClientError(error, "Publish")  # type: ignore[arg-type]
        return self._client.publish(**request)


def test_a_failed_publish_costs_that_device_that_push_and_nothing_else(world: Pushes) -> None:
    world.register(BOB, "bob-iphone")
    world.register(BOB, "bob-pixel", token=ANDROID_TOKEN, platform="android")
    iphone, pixel = world.endpoint_of(BOB, "bob-iphone"), world.endpoint_of(BOB, "bob-pixel")
    world.notes.endpoints._client = ThrottledFor(world.clients.sns, iphone)  # type: ignore[assignment]
    send(world.chat, ALICE, ready_clip(world.chat, ALICE), "m0", to=BOB.user_id)
    world.fan_out_sends()
    world.settle(5)
    assert len(world.published(pixel)) == 1
    assert world.published(iphone) == []
    assert world.notes.store.get_device(BOB.user_id, "bob-iphone") is not None  # not forgotten


def test_without_redis_a_push_goes_out_at_once_uncoalesced(world: Pushes) -> None:
    world.register(BOB, "bob-iphone")
    clip = ready_clip(world.chat, ALICE)
    send(world.chat, ALICE, clip, "m0", to=BOB.user_id)
    world.notes.push._buffer._client = redis_client("redis://127.0.0.1:1")  # Redis is down
    world.fan_out_sends()
    assert len(world.published(world.endpoint_of(BOB, "bob-iphone"))) == 1
    assert world.delayed.due == []


def test_a_window_of_zero_pushes_every_message_at_once(aws: Clients) -> None:
    world = Pushes(aws, window_seconds=0)
    world.register(BOB, "bob-iphone")
    clip = ready_clip(world.chat, ALICE)
    for i in range(2):
        send(world.chat, ALICE, clip, f"m{i}", to=BOB.user_id)
    world.fan_out_sends()
    assert len(world.published(world.endpoint_of(BOB, "bob-iphone"))) == 2


def test_the_fan_out_hands_over_through_the_push_queue(world: Pushes) -> None:
    """The real hand-off: one SQS message per fanned-out message, whatever the audience."""
    envelope = FanoutEnvelope(
        "d_x", "", "{}", sender_id=ALICE.user_id, missed=MissedMessage(seq=7, duration_ms=1200)
    )
    world.chat.conversations.ensure_direct("d_x", (ALICE.user_id, BOB.user_id), NOW)
    report = asyncio.run(world.chat.fanout(NobodyConnected()).fan_out(envelope))
    assert report.missed_by == (BOB.user_id,)
    sqs = world.clients.sqs
    [queued] = sqs.receive_message(QueueUrl=world.queue_url)["Messages"]
    assert json.loads(queued["Body"]) == {
        "kind": "message",
        "conversationId": "d_x",
        "seq": 7,
        "senderId": ALICE.user_id,
        "durationMs": 1200,
        "userIds": [BOB.user_id],
    }
    # A flush is a delayed message on the same queue.
    world.chat.push_jobs.flush_later(BOB.user_id, "d_x", 5)
    attributes = sqs.get_queue_attributes(
        QueueUrl=world.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_malformed_push_job_is_dropped_not_retried(world: Pushes) -> None:
    record = {"MessageId": "m", "ReceiptHandle": "r", "Body": '{"kind":"nonsense"}'}
    response = push_handlers.push(sqs_event([record], "arn", "us-east-1"), deps=world.notes)  # type: ignore[list-item]
    assert response == {"batchItemFailures": []}


# ---- welcome ------------------------------------------------------------------------------------


def users_stream_event(caller: Caller, event_name: str = "INSERT") -> dict[str, Any]:
    """The captured users-table stream event, about this user."""
    event = load_event("users_stream_insert")
    record = event["Records"][0]
    record["eventName"] = event_name
    name = caller.username.title()
    record["dynamodb"]["Keys"] = {"userId": {"S": caller.user_id}}
    record["dynamodb"]["NewImage"].update(
        userId={"S": caller.user_id}, username={"S": caller.username}, displayName={"S": name}
    )
    return event


def test_a_new_user_is_welcomed_once_on_their_first_device(world: Pushes) -> None:
    event = users_stream_event(DAVE)
    for _ in range(2):  # the stream may deliver a record twice
        assert push_handlers.welcome(event, deps=world.notes) == {"batchItemFailures": []}
    world.register(DAVE, "dave-phone")
    world.register(DAVE, "dave-tablet", token="c3" * 32)
    phone = world.published(world.endpoint_of(DAVE, "dave-phone"))
    assert [apns(m)["aps"]["alert"]["title"] for m in phone] == ["Welcome to Sotto"]
    assert apns(phone[0])["kind"] == "welcome" and "conversationId" not in apns(phone[0])
    assert world.published(world.endpoint_of(DAVE, "dave-tablet")) == []
    push_handlers.welcome(event, deps=world.notes)
    assert len(world.published(world.endpoint_of(DAVE, "dave-phone"))) == 1


def test_a_user_with_devices_is_welcomed_at_once_and_changes_are_no_welcome(
    world: Pushes,
) -> None:
    world.register(CAROL, "carol-phone")
    push_handlers.welcome(users_stream_event(CAROL, "MODIFY"), deps=world.notes)
    assert world.published(world.endpoint_of(CAROL, "carol-phone")) == []
    push_handlers.welcome(users_stream_event(CAROL), deps=world.notes)
    push_handlers.welcome(users_stream_event(CAROL), deps=world.notes)
    [welcome] = world.published(world.endpoint_of(CAROL, "carol-phone"))
    assert "Carol" in apns(welcome)["aps"]["alert"]["body"]


def test_no_device_action_works_without_a_caller(world: Pushes) -> None:
    event = action(BOB, "c1", {"action": "notificationSettings"})
    del event["requestContext"]["authorizer"]
    answer = json.loads(push_handlers.notification_settings(event, deps=world.notes)["body"])
    assert answer["type"] == "error"
