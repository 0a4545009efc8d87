"""A user's devices and push preferences: register, unregister, mute, do-not-disturb."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.clock import Clock
from common.events import Caller
from common.logs import get_logger
from notifications.model import Device, Pause
from notifications.push import PushService
from notifications.sns import PushEndpoints
from notifications.store import DeviceStore
from notifications.wire import DeviceRequest, DoNotDisturbRequest, MuteRequest, settings_frame

log = get_logger("devices")

# Raises NotAMember unless the user is in the conversation (chat's rule, wired in).
RequireMember = Callable[[str, str], None]


class DeviceService:
    def __init__(
        self,
        *,
        devices: DeviceStore,
        endpoints: PushEndpoints,
        push: PushService,
        require_member: RequireMember,
        clock: Clock,
    ) -> None:
        self._devices = devices
        self._endpoints = endpoints
        self._push = push
        self._require_member = require_member
        self._clock = clock

    def register(self, caller: Caller, request: DeviceRequest) -> Device:
        """Create or refresh the device's SNS endpoint and remember it. A token that another
        record holds (the phone was signed in as someone else, or reinstalled) moves here: a
        phone gets only its current user's pushes."""
        user_id = caller.user_id
        known = self._devices.get_device(user_id, request.device_id)
        reusable = known if known is not None and known.platform is request.platform else None
        arn = self._endpoints.ensure(
            request.platform, request.token, reusable.endpoint_arn if reusable else None
        )
        if known is not None and known.endpoint_arn != arn:
            self._endpoints.delete(known.endpoint_arn)
        for holder, device_id in self._devices.holders_of(arn):
            if (holder, device_id) != (user_id, request.device_id):
                self._devices.delete_device(holder, device_id)
        device = Device(
            user_id=user_id,
            device_id=request.device_id,
            platform=request.platform,
            token=request.token,
            app_version=request.app_version,
            endpoint_arn=arn,
            registered_at=self._clock.now(),
        )
        self._devices.put_device(device)
        log.info("user %s registered a %s device", user_id, request.platform.value)
        if self._devices.recipient(user_id).welcome_pending:
            self._push.send_welcome(user_id, [device])
        return device

    def unregister(self, caller: Caller, device_id: str) -> None:
        """Sign-out: no more pushes to this device. Unknown devices are not an error."""
        device = self._devices.delete_device(caller.user_id, device_id)
        if device is not None:
            self._endpoints.delete(device.endpoint_arn)

    def mute(self, caller: Caller, request: MuteRequest) -> Pause:
        self._require_member(request.conversation_id, caller.user_id)
        self._devices.set_mute(caller.user_id, request.conversation_id, request.pause)
        return request.pause

    def unmute(self, caller: Caller, conversation_id: str) -> None:
        self._require_member(conversation_id, caller.user_id)
        self._devices.set_mute(caller.user_id, conversation_id, None)

    def do_not_disturb(self, caller: Caller, request: DoNotDisturbRequest) -> Pause | None:
        self._devices.set_do_not_disturb(caller.user_id, request.pause)
        return request.pause

    def settings(self, caller: Caller) -> dict[str, Any]:
        recipient = self._devices.recipient(caller.user_id)
        return settings_frame(recipient.devices, recipient.preferences, self._clock.now())
