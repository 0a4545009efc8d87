"""The notification actions' wire format: request parsing and reply frames. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chat.wire import id_field, text_field
from common.clock import iso_utc, parse_iso_utc
from common.errors import BadRequest
from notifications.model import Device, Pause, Platform, Preferences

# APNs tokens are 64 hex digits today (Apple allows longer); FCM tokens are ~150-200 printable
# characters. Anything else is not a token, whatever SNS would make of it.
TOKEN_PATTERN = re.compile(r"^[\x21-\x7e]{32,4096}$")
APP_VERSION_PATTERN = re.compile(r"^[\x20-\x7e]{1,32}$")
MAX_TIME_LENGTH = 40


@dataclass(frozen=True)
class DeviceRequest:
    device_id: str
    platform: Platform
    token: str
    app_version: str


@dataclass(frozen=True)
class MuteRequest:
    conversation_id: str
    pause: Pause


@dataclass(frozen=True)
class DoNotDisturbRequest:
    pause: Pause | None  # None: off


def parse_register_device(body: Mapping[str, Any]) -> DeviceRequest:
    platform_name = text_field(body, "platform", max_length=20)
    try:
        platform = Platform(platform_name)
    except ValueError:
        names = ", ".join(p.value for p in Platform)
        raise BadRequest(f"platform must be one of {names}.", field="platform") from None
    token = text_field(body, "token", max_length=4096)
    if not TOKEN_PATTERN.match(token):
        raise BadRequest("token is not a push token.", field="token")
    app_version = text_field(body, "appVersion", max_length=32)
    if not APP_VERSION_PATTERN.match(app_version):
        raise BadRequest("appVersion must be printable ASCII.", field="appVersion")
    return DeviceRequest(id_field(body, "deviceId"), platform, token, app_version)


def parse_device_id(body: Mapping[str, Any]) -> str:
    return id_field(body, "deviceId")


def parse_mute(body: Mapping[str, Any], now: datetime) -> MuteRequest:
    return MuteRequest(id_field(body, "conversationId"), _pause(body, now))


def parse_do_not_disturb(body: Mapping[str, Any], now: datetime) -> DoNotDisturbRequest:
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false.", field="enabled")
    if not enabled:
        return DoNotDisturbRequest(None)
    return DoNotDisturbRequest(_pause(body, now))


def _pause(body: Mapping[str, Any], now: datetime) -> Pause:
    """``until`` (ISO 8601 with a zone, in the future) or absent for "until I say otherwise"."""
    raw = body.get("until")
    if raw is None:
        return Pause()
    if not isinstance(raw, str) or len(raw) > MAX_TIME_LENGTH:
        raise BadRequest("until must be an ISO 8601 time.", field="until")
    try:
        until = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("until must be an ISO 8601 time.", field="until") from None
    if until.tzinfo is None:
        raise BadRequest("until must say its time zone (e.g. a final Z).", field="until")
    until = parse_iso_utc(until.isoformat())
    if until <= now:
        raise BadRequest("until must be in the future.", field="until")
    return Pause(until)


def device_frame(device_id: str, device: Device | None) -> dict[str, Any]:
    """The answer to ``registerDevice`` (a device) and ``unregisterDevice`` (None)."""
    if device is None:
        return {"type": "device", "deviceId": device_id, "registered": False}
    return {"type": "device", "registered": True, **_device_view(device)}


def mute_frame(conversation_id: str, pause: Pause | None) -> dict[str, Any]:
    return {
        "type": "mute",
        "conversationId": conversation_id,
        "muted": pause is not None,
        "until": _until(pause),
    }


def do_not_disturb_frame(pause: Pause | None) -> dict[str, Any]:
    return {"type": "doNotDisturb", **_dnd_view(pause)}


def settings_frame(
    devices: Sequence[Device], preferences: Preferences, now: datetime
) -> dict[str, Any]:
    """Devices, the mutes and do-not-disturb that are in force (lapsed ones are left out)."""
    dnd = preferences.do_not_disturb
    return {
        "type": "notificationSettings",
        "devices": [_device_view(d) for d in sorted(devices, key=lambda d: d.device_id)],
        "muted": [
            {"conversationId": cid, "until": _until(pause)}
            for cid, pause in sorted(preferences.muted.items())
            if pause.active(now)
        ],
        "doNotDisturb": _dnd_view(dnd if dnd and dnd.active(now) else None),
    }


def _device_view(device: Device) -> dict[str, Any]:
    return {
        "deviceId": device.device_id,
        "platform": device.platform.value,
        "appVersion": device.app_version,
        "registeredAt": iso_utc(device.registered_at),
    }


def _dnd_view(pause: Pause | None) -> dict[str, Any]:
    return {"enabled": pause is not None, "until": _until(pause)}


def _until(pause: Pause | None) -> str | None:
    return iso_utc(pause.until) if pause is not None and pause.until is not None else None
