"""Notifications' pure rules: who hears a push, what it says, how each platform gets it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from chat.model import NoticeKind
from notifications.model import Preferences, Push, PushKind, WaitingMessage

APP_NAME = "Sotto"
MAX_NAMES = 3  # named senders in a push; more are counted
# SNS answers a create for a token it already has, under other attributes, with this.
_EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:aws[\w-]*:sns:\S+) already exists")


def audible(
    waiting: Sequence[WaitingMessage],
    *,
    user_id: str,
    conversation_id: str,
    blocked: Collection[str],
    preferences: Preferences,
    now: datetime,
) -> list[WaitingMessage]:
    """The waiting messages this user should be pushed about, in seq order: never their own,
    never from someone they blocked, nothing while the conversation is muted or they are not
    to be disturbed."""
    mute = preferences.muted.get(conversation_id)
    if not_to_be_disturbed(preferences, now) or (mute is not None and mute.active(now)):
        return []
    kept = [m for m in waiting if m.sender_id != user_id and m.sender_id not in blocked]
    return sorted(kept, key=lambda m: m.seq)


def not_to_be_disturbed(preferences: Preferences, now: datetime) -> bool:
    dnd = preferences.do_not_disturb
    return dnd is not None and dnd.active(now)


def message_push(
    conversation_id: str,
    messages: Sequence[WaitingMessage],
    *,
    names: Mapping[str, str],
    group_title: str | None,
    badge: int,
) -> Push:
    """One push for everything that waited: "3 voice messages from Alice". ``group_title``
    is None for a direct conversation."""
    senders = list(dict.fromkeys(m.sender_id for m in messages))
    who = _names([names.get(s, "Someone") for s in senders])
    count = len(messages)
    if count == 1:
        what = f"Voice message ({clock_duration(messages[0].duration_ms)})"
        body = what if group_title is None else f"{who}: {what}"
    else:
        total = clock_duration(sum(m.duration_ms for m in messages))
        body = f"{count} voice messages from {who} ({total})"
    return Push(
        kind=PushKind.MESSAGE,
        title=group_title if group_title is not None else who,
        body=body,
        badge=badge,
        conversation_id=conversation_id,
        seq=max(m.seq for m in messages),
        count=count,
    )


def welcome_push(display_name: str, verified: bool) -> Push:
    """Hello to a new user: ready to talk, or to be told when they are (after verification)."""
    then = (
        "you're all set. Say hello with a voice message!"
        if verified
        else "glad you're here. We'll tell you as soon as you can start talking."
    )
    return Push(
        kind=PushKind.WELCOME,
        title=f"Welcome to {APP_NAME}",
        body=f"Hi {display_name}, {then}",
        badge=0,
    )


# What a verification's outcome says on the lock screen; the app opens its status on a tap.
VERIFICATION_TEXTS = {
    "approved": "You're verified: welcome to Sotto! Say hello with a voice message.",
    "rejected": "Your verification was not approved. Open Sotto to see why.",
    "retry": "We need another selfie to verify you. Open Sotto to take one.",
}


def notice_push(kind: NoticeKind, detail: str) -> Push | None:
    """The push for a notice, or None for one that is not worth waking a phone."""
    if kind is NoticeKind.VERIFICATION and detail in VERIFICATION_TEXTS:
        body = VERIFICATION_TEXTS[detail]
        return Push(kind=PushKind.VERIFICATION, title=APP_NAME, body=body, badge=0)
    return None


def clock_duration(milliseconds: int) -> str:
    """0:05, 1:12, 12:00: how a phone shows a clip's length (rounded up to a whole second)."""
    seconds = max(1, math.ceil(milliseconds / 1000))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _names(names: Sequence[str]) -> str:
    """ "Alice", "Alice and Bob", "Alice, Bob and Carol", "Alice, Bob and 3 others"."""
    if len(names) > MAX_NAMES:
        return f"{', '.join(names[:2])} and {len(names) - 2} others"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def sns_message(push: Push) -> str:
    """SNS's ``MessageStructure=json`` message: one body per platform (APNs, APNs sandbox, FCM
    v1 through SNS's GCM key), each a JSON string. Text and ids only: no audio, no URLs."""
    apns = json.dumps(_apns_body(push), separators=(",", ":"))
    fcm = json.dumps({"fcmV1Message": {"message": _fcm_message(push)}}, separators=(",", ":"))
    return json.dumps(
        {"default": f"{push.title}: {push.body}", "APNS": apns, "APNS_SANDBOX": apns, "GCM": fcm},
        separators=(",", ":"),
    )


def sns_attributes(push: Push) -> dict[str, str]:
    """SNS message attributes for APNs: an alert, at once, replacing the conversation's last
    push on the lock screen (FCM's equivalents travel inside its body)."""
    attributes = {"AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert", "AWS.SNS.MOBILE.APNS.PRIORITY": "10"}
    if push.conversation_id is not None:
        attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] = push.conversation_id
    return attributes


def _app_data(push: Push) -> dict[str, str]:
    """What the app reads to open the right screen and ``sync`` up to ``seq``."""
    data = {"kind": push.kind.value, "count": str(push.count)}
    if push.conversation_id is not None:
        data["conversationId"] = push.conversation_id
    if push.seq is not None:
        data["seq"] = str(push.seq)
    return data


def _apns_body(push: Push) -> dict[str, Any]:
    aps: dict[str, Any] = {
        "alert": {"title": push.title, "body": push.body},
        "badge": push.badge,
        "sound": "default",
    }
    if push.conversation_id is not None:
        aps["thread-id"] = push.conversation_id
    data: dict[str, Any] = {**_app_data(push), "count": push.count}
    if push.seq is not None:
        data["seq"] = push.seq
    return {"aps": aps, **data}


def _fcm_message(push: Push) -> dict[str, Any]:
    """FCM v1: ``data`` values must be strings; the tag makes a newer push replace the last."""
    notification: dict[str, Any] = {"sound": "default", "notification_count": push.badge}
    android: dict[str, Any] = {"priority": "high", "notification": notification}
    if push.conversation_id is not None:
        notification["tag"] = push.conversation_id
        android["collapse_key"] = push.conversation_id
    return {
        "notification": {"title": push.title, "body": push.body},
        "data": {**_app_data(push), "badge": str(push.badge)},
        "android": android,
    }


def existing_endpoint(error_message: str) -> str | None:
    """The endpoint ARN in SNS's "already exists with the same Token" refusal, if it is one."""
    found = _EXISTING_ENDPOINT.search(error_message)
    return found.group(1) if found else None


def flush_delay(window_ends: datetime, now: datetime) -> int:
    """Whole seconds until a coalescing window closes (0 when it has)."""
    return max(0, math.ceil((window_ends - now).total_seconds()))
