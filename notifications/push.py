"""The push worker: messages that members missed wait out a coalescing window, then become one
polite push per user and conversation; welcomes for new users; dead endpoints forgotten."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from common.clock import Clock
from common.logs import correlation, get_logger
from common.observability import PUSHES, count
from notifications.buffer import BufferUnavailable, PushBuffer
from notifications.jobs import PushJobs
from notifications.logic import (
    audible,
    flush_delay,
    message_push,
    not_to_be_disturbed,
    notice_push,
    welcome_push,
)
from notifications.model import (
    Device,
    FlushJob,
    MessageJob,
    NoticeJob,
    Push,
    PushJob,
    WaitingMessage,
)
from notifications.sns import EndpointGone, PushEndpoints, PushFailed
from notifications.store import DeviceStore

log = get_logger("push")


@dataclass(frozen=True)
class ChatFacts:
    """What a push says, read from chat's stores (wired by the composition root)."""

    display_names: Callable[[Sequence[str]], dict[str, str]]
    group_title: Callable[[str], str | None]  # None for a direct conversation
    blocked_by: Callable[[str], set[str]]
    unread_total: Callable[[str], int]
    verified: Callable[[str], bool]  # may the user chat yet


class PushRecord(Protocol):
    """Notes each push that went out, for analytics. Best effort: it never raises."""

    def sent(self, device: Device, push: Push, at: datetime) -> None: ...


class PushService:
    def __init__(
        self,
        *,
        devices: DeviceStore,
        buffer: PushBuffer,
        jobs: PushJobs,
        endpoints: PushEndpoints,
        chat: ChatFacts,
        clock: Clock,
        window_seconds: int,
        record: PushRecord | None = None,
    ) -> None:
        self._devices = devices
        self._buffer = buffer
        self._jobs = jobs
        self._endpoints = endpoints
        self._chat = chat
        self._clock = clock
        self._window = timedelta(seconds=window_seconds)
        self._record = record

    def handle(self, job: PushJob) -> None:
        if isinstance(job, MessageJob):
            for user_id in job.user_ids:
                self._hold(user_id, job.conversation_id, job.message)
        elif isinstance(job, NoticeJob):
            self._notice(job)
        else:
            self._flush(job)

    def welcome(self, user_id: str) -> None:
        """A new user: welcome them on their devices now, or on the first one they register.
        Idempotent: whoever claims the pending welcome sends it, once."""
        self._devices.expect_welcome(user_id, self._clock.now())
        recipient = self._devices.recipient(user_id)
        if recipient.welcome_pending and recipient.devices:
            self.send_welcome(user_id, recipient.devices)

    def send_welcome(self, user_id: str, devices: Sequence[Device]) -> None:
        if not self._devices.claim_welcome(user_id, self._clock.now()):
            return
        name = self._chat.display_names([user_id]).get(user_id, "there")
        self._deliver(name, devices, welcome_push(name, self._chat.verified(user_id)))

    def endpoint_changed(self, endpoint_arn: str) -> None:
        """SNS reported an event about an endpoint (updated, deleted, a delivery that failed for
        good): if it is now disabled or gone, its devices are forgotten before the next push."""
        if not self._endpoints.is_dead(endpoint_arn):
            return
        for user_id, device_id in self._devices.holders_of(endpoint_arn):
            self._devices.delete_device(user_id, device_id)
            log.info("forgot a device whose endpoint SNS disabled")
        self._endpoints.delete(endpoint_arn)

    def _notice(self, job: NoticeJob) -> None:
        """A notice is pushed at once (nothing to coalesce), unless the user is not to be
        disturbed; it carries no detail beyond the app's words for it."""
        push = notice_push(job.kind, job.detail)
        if push is None:
            return
        for user_id in job.user_ids:
            recipient = self._devices.recipient(user_id)
            quiet = not_to_be_disturbed(recipient.preferences, self._clock.now())
            if recipient.devices and not quiet:
                name = self._chat.display_names([user_id]).get(user_id, user_id)
                self._deliver(name, recipient.devices, push)

    def _hold(self, user_id: str, conversation_id: str, message: WaitingMessage) -> None:
        """Wait for more messages in the window, unless there is no window (or no Redis)."""
        if not self._window:
            self._push_now(user_id, conversation_id, [message])
            return
        window_ends = self._clock.now() + self._window
        try:
            opened = self._buffer.add(user_id, conversation_id, message, window_ends)
        except BufferUnavailable as error:
            log.warning("push coalescing unavailable (%s); pushing at once", error)
            self._push_now(user_id, conversation_id, [message])
            return
        if opened:
            self._jobs.flush_later(user_id, conversation_id, int(self._window.total_seconds()))

    def _flush(self, job: FlushJob) -> None:
        """The window closed: one push for what waited. A flush that came early (a queue may
        deliver sooner than asked) waits again for the rest of the window."""
        now = self._clock.now()
        try:
            window_ends = self._buffer.window_ends(job.user_id, job.conversation_id)
            if window_ends is not None and now < window_ends:
                delay = flush_delay(window_ends, now)
                self._jobs.flush_later(job.user_id, job.conversation_id, delay)
                return
            waiting = self._buffer.take(job.user_id, job.conversation_id)
        except BufferUnavailable as error:
            log.warning("could not read what waited for a push: %s", error)
            raise  # the queue hands the flush out again
        if waiting:
            self._push_now(job.user_id, job.conversation_id, waiting)

    def _push_now(
        self, user_id: str, conversation_id: str, waiting: Sequence[WaitingMessage]
    ) -> None:
        recipient = self._devices.recipient(user_id)
        if not recipient.devices:
            return
        messages = audible(
            waiting,
            user_id=user_id,
            conversation_id=conversation_id,
            blocked=self._chat.blocked_by(user_id),
            preferences=recipient.preferences,
            now=self._clock.now(),
        )
        if not messages:
            return
        names = self._chat.display_names([user_id, *(m.sender_id for m in messages)])
        push = message_push(
            conversation_id,
            messages,
            names=names,
            group_title=self._chat.group_title(conversation_id),
            badge=self._chat.unread_total(user_id),
        )
        self._deliver(names.get(user_id, user_id), recipient.devices, push)

    def _deliver(self, who: str, devices: Sequence[Device], push: Push) -> None:
        """Publish to each device; ``who`` names the recipient in the log (never the token)."""
        for device in devices:
            with correlation(userId=device.user_id, deviceId=device.device_id):
                try:
                    self._endpoints.publish(device.endpoint_arn, push)
                except EndpointGone as gone:
                    self._forget(device, str(gone))
                    continue
                except PushFailed as error:  # this device misses this push; the others do not
                    log.warning("a push to a %s device failed: %s", device.platform.value, error)
                    continue
                count(PUSHES)
                if self._record is not None:
                    self._record.sent(device, push, self._clock.now())
                log.info(
                    "push to %s on %s device %s: %s: %s (badge %d)",
                    who,
                    device.platform.value,
                    device.device_id,
                    push.title,
                    push.body,
                    push.badge,
                )

    def _forget(self, device: Device, why: str) -> None:
        """A dead endpoint is deleted with its device record and never tried again."""
        self._devices.delete_device(device.user_id, device.device_id)
        self._endpoints.delete(device.endpoint_arn)
        log.info("forgot a device whose endpoint is %s", why)
