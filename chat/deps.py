"""Composition root of the chat functions: clients and stores built lazily, once per container."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from datetime import timedelta

from analytics.live_log import LiveDeliveries, LiveEventLog
from chat.audio import ClipLimits
from chat.bus import FanoutPublisher, fanout_channel
from chat.clip_store import ClipFiles, ClipStore
from chat.conversation_store import ConversationStore
from chat.ephemeral import IndicatorStore, SendRateLimiter
from chat.fanout import DeliveryPort, FanoutService
from chat.ffmpeg import Ffmpeg, find_ffmpeg
from chat.gate import VerifiedGate
from chat.groups import GroupService
from chat.inbox import InboxService
from chat.management_api import CallbackRate, SignedManagementApi
from chat.member_cache import MemberCache, MemberLookup
from chat.model import FanoutEnvelope
from chat.outbound import Outbound
from chat.pipeline import ClipProcessor
from chat.render import ClipUrls, MessageRenderer
from chat.safety import SafetyService
from chat.safety_store import BlockStore, ReportStore
from chat.service import ChatLimits, ChatService
from chat.signals import SignalService
from chat.store import MessageStore, UserDirectory
from common.clients import Clients
from common.clock import Clock, IdFactory, RandomIds, SystemClock
from common.runtime import once, process_clients
from common.settings import Settings
from connections.index import LiveConnections
from connections.store import ConnectionStore, PresenceStore
from notifications.jobs import PushJobs


@dataclass
class ChatDeps:
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)
    ids: IdFactory = field(default_factory=RandomIds)

    @property
    def settings(self) -> Settings:
        return self.clients.settings

    # ---- stores -------------------------------------------------------------------------

    @functools.cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.clients.dynamodb, self.settings.conversations_table)

    @functools.cached_property
    def messages(self) -> MessageStore:
        return MessageStore(self.clients.dynamodb, self.settings.messages_table, self.conversations)

    @functools.cached_property
    def connections(self) -> LiveConnections:
        return LiveConnections(
            ConnectionStore(self.clients.dynamodb, self.settings.connections_table),
            PresenceStore(self.clients.redis, self.settings.redis_namespace),
            self.settings.max_connection_seconds,
        )

    @functools.cached_property
    def users(self) -> UserDirectory:
        return UserDirectory(self.clients.dynamodb, self.settings.users_table)

    @functools.cached_property
    def clips(self) -> ClipStore:
        return ClipStore(self.clients.dynamodb, self.settings.clips_table)

    @functools.cached_property
    def files(self) -> ClipFiles:
        return ClipFiles(self.clients.s3, self.settings.clips_bucket)

    @functools.cached_property
    def blocks(self) -> BlockStore:
        return BlockStore(self.clients.dynamodb, self.settings.blocks_table)

    @functools.cached_property
    def reports(self) -> ReportStore:
        return ReportStore(self.clients.dynamodb, self.settings.reports_table)

    @functools.cached_property
    def gate(self) -> VerifiedGate:
        return VerifiedGate(self.users, self.clients.redis, self.settings.redis_namespace)

    @functools.cached_property
    def members(self) -> MemberLookup:
        cache = MemberCache(
            self.clients.redis, self.settings.redis_namespace, self.settings.member_cache_seconds
        )
        return MemberLookup(self.conversations, cache)

    # ---- services -----------------------------------------------------------------------

    @functools.cached_property
    def outbound(self) -> Outbound:
        channel = fanout_channel(self.settings.redis_namespace)
        return Outbound(FanoutPublisher(self.clients.redis, channel), self.direct_fanout)

    @functools.cached_property
    def renderer(self) -> MessageRenderer:
        urls = ClipUrls(self.settings.clip_url_ttl_seconds, self.settings.clip_cdn_url)
        return MessageRenderer(self.clips, self.files, urls)

    @functools.cached_property
    def chat(self) -> ChatService:
        settings = self.settings
        return ChatService(
            conversations=self.conversations,
            messages=self.messages,
            clips=self.clips,
            files=self.files,
            users=self.users,
            members=self.members,
            blocks=self.blocks,
            rate_limiter=SendRateLimiter(
                self.clients.redis,
                settings.redis_namespace,
                settings.send_rate_limit,
                settings.send_rate_window_seconds,
                self.clock,
            ),
            renderer=self.renderer,
            outbound=self.outbound,
            clock=self.clock,
            ids=self.ids,
            limits=ChatLimits(
                max_clip_bytes=settings.max_clip_bytes,
                upload_url_ttl_seconds=settings.upload_url_ttl_seconds,
            ),
        )

    @functools.cached_property
    def groups(self) -> GroupService:
        return GroupService(
            conversations=self.conversations,
            members=self.members,
            users=self.users,
            outbound=self.outbound,
            clock=self.clock,
            ids=self.ids,
            max_members=self.settings.max_group_members,
        )

    @functools.cached_property
    def inbox(self) -> InboxService:
        return InboxService(
            conversations=self.conversations,
            messages=self.messages,
            members=self.members,
            blocks=self.blocks,
            renderer=self.renderer,
        )

    @functools.cached_property
    def signals(self) -> SignalService:
        namespace = self.settings.redis_namespace
        return SignalService(
            conversations=self.conversations,
            messages=self.messages,
            members=self.members,
            blocks=self.blocks,
            indicators=IndicatorStore(
                self.clients.redis, namespace, self.settings.indicator_ttl_seconds
            ),
            presence=PresenceStore(self.clients.redis, namespace),
            outbound=self.outbound,
            clock=self.clock,
        )

    @functools.cached_property
    def safety(self) -> SafetyService:
        return SafetyService(
            conversations=self.conversations,
            messages=self.messages,
            users=self.users,
            blocks=self.blocks,
            reports=self.reports,
            clock=self.clock,
        )

    @functools.cached_property
    def processor(self) -> ClipProcessor:
        settings = self.settings
        timeout = settings.ffmpeg_timeout_seconds
        return ClipProcessor(
            clips=self.clips,
            files=self.files,
            ffmpeg=Ffmpeg(find_ffmpeg(settings.ffmpeg), timeout_seconds=timeout),
            chat=self.chat,
            clock=self.clock,
            limits=ClipLimits(
                max_bytes=settings.max_clip_bytes,
                max_duration_ms=settings.max_clip_seconds * 1000,
                bitrate_kbps=settings.opus_bitrate_kbps,
                waveform_peaks=settings.waveform_peaks,
            ),
            # longer than a probe and a transcode, shorter than the queue's visibility timeout
            lease=timedelta(seconds=2 * timeout + 30),
        )

    # ---- fan-out ------------------------------------------------------------------------

    def fanout(self, delivery: DeliveryPort) -> FanoutService:
        return FanoutService(
            conversations=self.conversations,
            members=self.members,
            blocks=self.blocks,
            connections=self.connections,
            delivery=delivery,
            clock=self.clock,
            missed=self.push_jobs,
            record=LiveDeliveries(self.analytics_log),
        )

    @functools.cached_property
    def analytics_log(self) -> LiveEventLog:
        """What tables do not record (live deliveries, pushes), on its way to the exports."""
        return LiveEventLog(
            self.clients.redis,
            self.settings.redis_namespace,
            self.settings.analytics_log_max_entries,
        )

    @functools.cached_property
    def push_jobs(self) -> PushJobs:
        """Members who missed a message, handed to notifications through the push queue."""
        return PushJobs(self.clients.sqs, self.settings.push_queue)

    @functools.cached_property
    def callback_rate(self) -> CallbackRate:
        """This process's share of the account's API Gateway request rate."""
        s = self.settings
        return CallbackRate(s.account_callback_rate * s.callback_rate_percent / 100)

    def management_delivery(self, api_endpoint: str) -> SignedManagementApi:
        return SignedManagementApi(
            self.settings.management_endpoint or api_endpoint,
            region=self.settings.region,
            credentials=self.clients.credentials,
            rate=self.callback_rate,
        )

    def direct_fanout(self, envelope: FanoutEnvelope, api_endpoint: str) -> None:
        """The slow path when no subscriber took the event: post from this handler."""
        delivery = self.management_delivery(api_endpoint)

        async def fan_out() -> None:
            try:
                await self.fanout(delivery).fan_out(envelope)
            finally:
                await delivery.close()

        asyncio.run(fan_out())


def load() -> ChatDeps:
    return once("chat", lambda: ChatDeps(process_clients()))
