"""Composition root of the chat functions: clients and stores built lazily, once per container."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from datetime import timedelta

from chat.audio import ClipLimits
from chat.bus import FanoutPublisher, fanout_channel
from chat.clip_store import ClipFiles, ClipStore
from chat.delivery import ManagementApiDelivery
from chat.fanout import DeliveryPort, FanoutService
from chat.ffmpeg import Ffmpeg, find_ffmpeg
from chat.model import FanoutEnvelope
from chat.pipeline import ClipProcessor
from chat.service import ChatLimits, ChatService
from chat.store import ConversationStore, MessageStore, UserDirectory
from common.clients import Clients
from common.clock import Clock, IdFactory, RandomIds, SystemClock
from common.runtime import once, process_clients
from connections.store import ConnectionStore


@dataclass
class ChatDeps:
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)
    ids: IdFactory = field(default_factory=RandomIds)

    @functools.cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.clients.dynamodb, self.clients.settings.conversations_table)

    @functools.cached_property
    def connections(self) -> ConnectionStore:
        return ConnectionStore(self.clients.dynamodb, self.clients.settings.connections_table)

    @functools.cached_property
    def users(self) -> UserDirectory:
        return UserDirectory(self.clients.dynamodb, self.clients.settings.users_table)

    @functools.cached_property
    def clips(self) -> ClipStore:
        return ClipStore(self.clients.dynamodb, self.clients.settings.clips_table)

    @functools.cached_property
    def files(self) -> ClipFiles:
        return ClipFiles(self.clients.s3, self.clients.settings.clips_bucket)

    @functools.cached_property
    def chat(self) -> ChatService:
        settings = self.clients.settings
        return ChatService(
            conversations=self.conversations,
            messages=MessageStore(self.clients.dynamodb, settings.messages_table),
            clips=self.clips,
            files=self.files,
            users=self.users,
            publisher=FanoutPublisher(self.clients.redis, fanout_channel(settings.redis_namespace)),
            direct_fanout=self.direct_fanout,
            clock=self.clock,
            ids=self.ids,
            limits=ChatLimits(
                max_clip_bytes=settings.max_clip_bytes,
                upload_url_ttl_seconds=settings.upload_url_ttl_seconds,
                clip_url_ttl_seconds=settings.clip_url_ttl_seconds,
                clip_cdn_url=settings.clip_cdn_url,
            ),
        )

    @functools.cached_property
    def processor(self) -> ClipProcessor:
        settings = self.clients.settings
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

    def fanout(self, delivery: DeliveryPort) -> FanoutService:
        return FanoutService(self.conversations, self.connections, delivery, self.clock)

    def management_delivery(self, api_endpoint: str) -> ManagementApiDelivery:
        endpoint = self.clients.settings.management_endpoint or api_endpoint
        return ManagementApiDelivery(self.clients.management_api(endpoint))

    def direct_fanout(self, envelope: FanoutEnvelope, api_endpoint: str) -> None:
        """The slow path when no subscriber took the message: post from this handler."""
        asyncio.run(self.fanout(self.management_delivery(api_endpoint)).fan_out(envelope))


def load() -> ChatDeps:
    return once("chat", lambda: ChatDeps(process_clients()))
