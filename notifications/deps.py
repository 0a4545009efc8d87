"""Composition root of the notification functions: built lazily, once per container."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from analytics.live_log import LivePushes
from chat.deps import ChatDeps
from chat.membership import require_member
from chat.model import ConversationKind
from common.clients import Clients
from common.clock import Clock, SystemClock
from common.runtime import once, process_clients
from notifications.buffer import PushBuffer
from notifications.devices import DeviceService
from notifications.jobs import PushJobs
from notifications.model import Platform
from notifications.push import ChatFacts, PushService
from notifications.sns import PushEndpoints
from notifications.store import DeviceStore


@dataclass
class NotificationDeps:
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)

    @functools.cached_property
    def chat(self) -> ChatDeps:
        return ChatDeps(self.clients, clock=self.clock)

    @functools.cached_property
    def store(self) -> DeviceStore:
        return DeviceStore(self.clients.dynamodb, self.clients.settings.devices_table)

    @functools.cached_property
    def endpoints(self) -> PushEndpoints:
        settings = self.clients.settings
        applications = {
            Platform.IOS: settings.apns_application_arn,
            Platform.IOS_SANDBOX: settings.apns_sandbox_application_arn,
            Platform.ANDROID: settings.gcm_application_arn,
        }
        configured = {platform: arn for platform, arn in applications.items() if arn}
        return PushEndpoints(self.clients.sns, configured)

    @functools.cached_property
    def jobs(self) -> PushJobs:
        return PushJobs(self.clients.sqs, self.clients.settings.push_queue)

    @functools.cached_property
    def push(self) -> PushService:
        settings = self.clients.settings
        return PushService(
            devices=self.store,
            buffer=PushBuffer(self.clients.redis, settings.redis_namespace),
            jobs=self.jobs,
            endpoints=self.endpoints,
            chat=self.chat_facts,
            clock=self.clock,
            window_seconds=settings.push_coalesce_seconds,
            record=LivePushes(self.chat.analytics_log),
        )

    @functools.cached_property
    def devices(self) -> DeviceService:
        conversations = self.chat.conversations

        def member_of(conversation_id: str, user_id: str) -> None:
            require_member(conversations.get_member(conversation_id, user_id))

        return DeviceService(
            devices=self.store,
            endpoints=self.endpoints,
            push=self.push,
            require_member=member_of,
            clock=self.clock,
        )

    @functools.cached_property
    def chat_facts(self) -> ChatFacts:
        chat = self.chat

        def display_names(user_ids: Sequence[str]) -> dict[str, str]:
            profiles = chat.users.get_many(list(dict.fromkeys(user_ids)))
            return {user_id: p.display_name for user_id, p in profiles.items()}

        def group_title(conversation_id: str) -> str | None:
            conversation = chat.conversations.get(conversation_id)
            if conversation is None or conversation.kind is not ConversationKind.GROUP:
                return None
            return conversation.title or "Group"

        return ChatFacts(
            display_names=display_names,
            group_title=group_title,
            blocked_by=chat.blocks.blocked_by,
            unread_total=chat.inbox.unread_total,
            verified=lambda user_id: bool((p := chat.users.get(user_id)) and p.verified),
        )


def load() -> NotificationDeps:
    return once("notifications", lambda: NotificationDeps(process_clients()))
