"""Notifications' pure parts: who is pushed about what, the texts, each platform's body, the
jobs on the queue, and the requests' wire format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chat.logic import unreached
from common.errors import BadRequest
from common.settings import Settings, SettingsError
from notifications.logic import (
    audible,
    clock_duration,
    existing_endpoint,
    flush_delay,
    message_push,
    sns_attributes,
    sns_message,
    welcome_push,
)
from notifications.model import (
    FlushJob,
    MessageJob,
    Pause,
    Preferences,
    PushKind,
    WaitingMessage,
    job_from_json,
    job_to_json,
)
from notifications.wire import parse_do_not_disturb, parse_mute, parse_register_device

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
NAMES = {"a": "Alice", "b": "Bob", "c": "Carol", "d": "Dave"}


def waiting(seq: int, sender: str = "a", ms: int = 4200) -> WaitingMessage:
    return WaitingMessage(seq, sender, ms)


def test_never_a_push_about_your_own_message_or_from_someone_you_blocked() -> None:
    messages = [waiting(3, "a"), waiting(1, "me"), waiting(2, "b")]
    kept = audible(
        messages,
        user_id="me",
        conversation_id="c1",
        blocked={"b"},
        preferences=Preferences(),
        now=NOW,
    )
    assert kept == [waiting(3, "a")]


@pytest.mark.parametrize(
    ("preferences", "heard"),
    [
        (Preferences(muted={"c1": Pause()}), False),  # muted for ever
        (Preferences(muted={"c1": Pause(NOW + timedelta(minutes=1))}), False),
        (Preferences(muted={"c1": Pause(NOW)}), True),  # lapsed at this very moment
        (Preferences(muted={"other": Pause()}), True),  # another conversation
        (Preferences(do_not_disturb=Pause()), False),
        (Preferences(do_not_disturb=Pause(NOW - timedelta(seconds=1))), True),
    ],
)
def test_mute_and_do_not_disturb_silence_until_they_lapse(
    preferences: Preferences, heard: bool
) -> None:
    kept = audible(
        [waiting(1)],
        user_id="me",
        conversation_id="c1",
        blocked=set(),
        preferences=preferences,
        now=NOW,
    )
    assert bool(kept) is heard


@pytest.mark.parametrize(
    ("senders", "group", "title", "body"),
    [
        ("a", None, "Alice", "Voice message (0:05)"),
        ("aaa", None, "Alice", "3 voice messages from Alice (0:13)"),
        ("a", "Band", "Band", "Alice: Voice message (0:05)"),
        ("ab", "Band", "Band", "2 voice messages from Alice and Bob (0:09)"),
        ("abca", "Band", "Band", "4 voice messages from Alice, Bob and Carol (0:17)"),
        ("abcd", "Band", "Band", "4 voice messages from Alice, Bob and 2 others (0:17)"),
    ],
)
def test_what_a_push_says(senders: str, group: str | None, title: str, body: str) -> None:
    messages = [waiting(i + 1, s) for i, s in enumerate(senders)]
    push = message_push("c1", messages, names=NAMES, group_title=group, badge=7)
    assert (push.title, push.body) == (title, body)
    assert (push.seq, push.count, push.badge) == (len(senders), len(senders), 7)


def test_durations_read_like_a_phone_shows_them() -> None:
    assert [clock_duration(ms) for ms in (0, 1, 1000, 4001, 59_999, 72_000, 720_000)] == [
        "0:01",
        "0:01",
        "0:01",
        "0:05",
        "1:00",
        "1:12",
        "12:00",
    ]


def test_every_platform_gets_its_own_body_and_no_url() -> None:
    push = message_push("d_1", [waiting(9)], names=NAMES, group_title=None, badge=2)
    message = json.loads(sns_message(push))
    assert set(message) == {"default", "APNS", "APNS_SANDBOX", "GCM"}
    assert all(isinstance(v, str) for v in message.values())  # SNS wants strings
    apns = json.loads(message["APNS"])
    assert apns == {
        "aps": {
            "alert": {"title": "Alice", "body": "Voice message (0:05)"},
            "badge": 2,
            "sound": "default",
            "thread-id": "d_1",
        },
        "kind": "message",
        "count": 1,
        "conversationId": "d_1",
        "seq": 9,
    }
    fcm = json.loads(message["GCM"])["fcmV1Message"]["message"]
    assert all(isinstance(v, str) for v in fcm["data"].values())  # FCM data is strings only
    assert fcm["android"]["notification"]["tag"] == "d_1"
    assert sns_attributes(push)["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] == "d_1"


def test_a_welcome_opens_no_conversation() -> None:
    push = welcome_push("Dave", verified=False)
    assert push.kind is PushKind.WELCOME and "Dave" in push.body
    assert "as soon as you can start talking" in push.body
    assert "Say hello" in welcome_push("Dave", verified=True).body
    message = json.loads(sns_message(push))
    assert "conversationId" not in json.loads(message["APNS"])
    assert "AWS.SNS.MOBILE.APNS.COLLAPSE_ID" not in sns_attributes(push)


def test_the_endpoint_that_already_holds_a_token_is_read_from_snss_refusal() -> None:
    refusal = (
        "Invalid parameter: Token Reason: Endpoint arn:aws:sns:us-east-1:123456789012:endpoint/"
        "APNS/app/4c41cd45 already exists with the same Token, but different attributes."
    )
    assert (
        existing_endpoint(refusal)
        == "arn:aws:sns:us-east-1:123456789012:endpoint/APNS/app/4c41cd45"
    )
    assert existing_endpoint("Invalid parameter: Token Reason: malformed") is None


def test_a_flush_waits_whole_seconds_for_the_window() -> None:
    assert flush_delay(NOW + timedelta(seconds=2.2), NOW) == 3
    assert flush_delay(NOW - timedelta(seconds=1), NOW) == 0


def test_jobs_survive_the_queue() -> None:
    message = MessageJob("c1", waiting(4, "a", 1500), ("u1", "u2"))
    assert job_from_json(job_to_json(message)) == message
    flush = FlushJob("u1", "c1")
    assert job_from_json(job_to_json(flush)) == flush
    with pytest.raises(ValueError, match="unknown push job kind"):
        job_from_json('{"kind":"other"}')


def test_who_missed_a_message() -> None:
    live = {"b-phone": "b", "c-phone": "c", "c-tablet": "c", "a-phone": "a"}
    missed = unreached(["a", "b", "c", "d"], live, gone={"c-phone", "c-tablet"}, sender_id="a")
    assert missed == ["c", "d"]  # every socket of c was gone; d had none; never the sender


def register(**change: Any) -> dict[str, Any]:
    return {
        "deviceId": "phone-1",
        "platform": "android",
        "token": "t" * 160,
        "appVersion": "2.3.1 (45)",
        **change,
    }


def test_a_device_registration_is_read_and_checked() -> None:
    request = parse_register_device(register())
    assert (request.device_id, request.platform.sns_name, request.app_version) == (
        "phone-1",
        "GCM",
        "2.3.1 (45)",
    )
    for change, field in [
        ({"platform": "ios7"}, "platform"),
        ({"token": "t" * 31}, "token"),
        ({"token": "tö" * 20}, "token"),
        ({"appVersion": "1\n2"}, "appVersion"),
        ({"deviceId": None}, "deviceId"),
    ]:
        with pytest.raises(BadRequest) as refused:
            parse_register_device(register(**change))
        assert refused.value.details == {"field": field}


def test_until_must_be_a_future_time_with_a_zone() -> None:
    assert parse_mute({"conversationId": "c1"}, NOW).pause == Pause()
    later = parse_mute({"conversationId": "c1", "until": "2026-12-01T22:30:00+01:00"}, NOW)
    assert later.pause.until == datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
    for until in ("2026-12-01T19:00:00Z", "2026-12-02T10:00:00", "tomorrow", 5):
        with pytest.raises(BadRequest):
            parse_mute({"conversationId": "c1", "until": until}, NOW)
    assert parse_do_not_disturb({"enabled": False, "until": "x"}, NOW).pause is None
    with pytest.raises(BadRequest):
        parse_do_not_disturb({"enabled": "yes"}, NOW)


def test_the_coalescing_window_may_be_zero_but_not_negative() -> None:
    assert Settings.from_env({"SOTTO_PUSH_COALESCE_SECONDS": "0"}).push_coalesce_seconds == 0
    assert Settings.from_env({}).push_coalesce_seconds == 5
    with pytest.raises(SettingsError, match="SOTTO_PUSH_COALESCE_SECONDS"):
        Settings.from_env({"SOTTO_PUSH_COALESCE_SECONDS": "-1"})
