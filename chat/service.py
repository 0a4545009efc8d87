"""Chat use cases: upload grants, send, sync, user lookup, and releasing or withdrawing the
messages that waited for their clip. Stores and the way out are injected."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chat.clip_store import ClipFiles, ClipStore
from chat.conversation_store import ConversationStore
from chat.ephemeral import SendRateLimiter
from chat.logic import (
    check_clip_owner,
    check_clip_sendable,
    check_clip_stored,
    check_direct_recipient,
    check_upload,
    clip_key,
    direct_conversation_id,
    fit_in_frame,
    is_direct_id,
)
from chat.member_cache import MemberLookup
from chat.membership import require_member
from chat.model import (
    Ack,
    Clip,
    ClipStatus,
    FanoutEnvelope,
    Message,
    MissedMessage,
    Origin,
    PendingDelivery,
    UploadGrant,
    UserProfile,
)
from chat.outbound import Outbound, compact
from chat.render import MessageRenderer
from chat.safety_store import BlockStore
from chat.store import MessageStore, UserDirectory
from chat.wire import LookupUserRequest, SendRequest, SyncRequest, UploadRequest, messages_frame
from common.clock import Clock, IdFactory
from common.errors import ClipRejected, Forbidden, NotFound, error_frame
from common.events import Caller
from common.logs import correlation, get_logger
from common.observability import MESSAGES_SENT, count

log = get_logger("chat")


@dataclass(frozen=True)
class ChatLimits:
    max_clip_bytes: int
    upload_url_ttl_seconds: int


class ChatService:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        messages: MessageStore,
        clips: ClipStore,
        files: ClipFiles,
        users: UserDirectory,
        members: MemberLookup,
        blocks: BlockStore,
        rate_limiter: SendRateLimiter,
        renderer: MessageRenderer,
        outbound: Outbound,
        clock: Clock,
        ids: IdFactory,
        limits: ChatLimits,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._clips = clips
        self._files = files
        self._users = users
        self._members = members
        self._blocks = blocks
        self._rate_limiter = rate_limiter
        self._renderer = renderer
        self._outbound = outbound
        self._clock = clock
        self._ids = ids
        self._limits = limits

    def request_upload(self, caller: Caller, request: UploadRequest) -> UploadGrant:
        check_upload(request, self._limits.max_clip_bytes)
        clip_id = self._ids.new("c")
        key = clip_key(caller.user_id, clip_id)
        self._clips.put(
            Clip(
                clip_id=clip_id,
                owner_id=caller.user_id,
                content_type=request.content_type,
                declared_size=request.size,
                status=ClipStatus.AWAITING_UPLOAD,
                created_at=self._clock.now(),
                key=key,
            )
        )
        return self._files.upload_grant(
            clip_id, key, request.content_type, request.size, self._limits.upload_url_ttl_seconds
        )

    def send(self, origin: Origin, request: SendRequest) -> Ack:
        """Store the message once and deliver it now, or when its clip is ready. A retry gets
        the first ack again. Every check runs before anything is written."""
        sender = origin.caller.user_id
        earlier = self._messages.find_ack(sender, request.client_message_id)
        if earlier is not None:
            return earlier
        self._rate_limiter.check(sender)
        conversation_id, new_pair = self._conversation_for(sender, request)
        clip = check_clip_owner(self._clips.get(request.clip_id), sender)
        check_clip_sendable(clip)
        if clip.status is ClipStatus.AWAITING_UPLOAD:
            stored_size = self._files.stored_size(clip.key)
            check_clip_stored(clip, stored_size, self._limits.max_clip_bytes)
        now = self._clock.now()
        if new_pair is not None:
            self._conversations.ensure_direct(conversation_id, new_pair, now)
        draft = Message(
            conversation_id=conversation_id,
            seq=0,
            message_id=self._ids.new("m"),
            sender_id=sender,
            clip_id=clip.clip_id,
            client_message_id=request.client_message_id,
            sent_at=now,
        )
        ack, stored_now = self._messages.append(draft)
        if stored_now:
            count(MESSAGES_SENT)
            stored = Message(**{**draft.__dict__, "seq": ack.seq})
            with correlation(messageId=ack.message_id):
                log.info("message #%d stored in %s", ack.seq, conversation_id)
                self._deliver_when_ready(origin, stored, clip)
        return ack

    def release(self, clip: Clip, waiting: Sequence[PendingDelivery]) -> None:
        """The clip is ready: deliver the messages that waited for it."""
        for pending in waiting:
            message = self._messages.get(pending.conversation_id, pending.seq)
            if message is not None:
                self._publish_message(
                    message, clip, pending.sender_connection_id, pending.api_endpoint
                )

    def withdraw(self, clip: Clip, waiting: Sequence[PendingDelivery]) -> None:
        """The clip was rejected: its messages are withdrawn and never delivered, and the
        sender hears why on every connection."""
        for pending in waiting:
            reason = clip.reject_reason or ""
            message = self._messages.withdraw(pending.conversation_id, pending.seq, reason)
            if message is None:
                continue
            notice = error_frame(
                ClipRejected(
                    "Your clip could not be used, so your message was not delivered.",
                    reason=clip.reject_reason or "",
                    clipId=clip.clip_id,
                    messageId=message.message_id,
                    conversationId=message.conversation_id,
                    seq=message.seq,
                )
            )
            envelope = FanoutEnvelope(
                message.conversation_id, "", compact(notice), user_ids=(message.sender_id,)
            )
            self._outbound.send(envelope, pending.api_endpoint)

    def sync(self, caller: Caller, request: SyncRequest) -> dict[str, Any]:
        """The ``messages`` frame: messages after ``afterSeq`` in order, as many as fit a frame."""
        self._require_member(request.conversation_id, caller.user_id)
        messages, more = self._messages.after(
            request.conversation_id, request.after_seq, request.limit
        )
        blocked = self._blocks.blocked_by(caller.user_id) if messages else set()
        rendered = self._renderer.for_viewer(messages, caller.user_id, blocked)
        count = fit_in_frame([len(json.dumps(r)) for r in rendered])
        return messages_frame(
            request.conversation_id, rendered[:count], more or count < len(rendered)
        )

    def lookup_user(self, request: LookupUserRequest) -> UserProfile:
        if request.user_id is not None:
            profile = self._users.get(request.user_id)
        else:
            assert request.username is not None  # parse_lookup_user guarantees exactly one
            profile = self._users.by_username(request.username)
        if profile is None:
            raise NotFound("No such user.")
        return profile

    def _deliver_when_ready(self, origin: Origin, message: Message, clip: Clip) -> None:
        if clip.status is ClipStatus.READY:
            self._publish_message(message, clip, origin.connection_id, origin.api_endpoint)
            return
        pending = PendingDelivery(
            message.conversation_id, message.seq, origin.connection_id, origin.api_endpoint
        )
        if self._clips.add_pending(clip.clip_id, pending):
            return  # the clip processor delivers it when the clip is ready
        finished = self._clips.get(clip.clip_id)  # finished between our read and our write
        if finished is not None and finished.status is ClipStatus.READY:
            self._publish_message(message, finished, origin.connection_id, origin.api_endpoint)
        elif finished is not None:
            self.withdraw(finished, [pending])

    def _conversation_for(
        self, sender: str, request: SendRequest
    ) -> tuple[str, tuple[str, str] | None]:
        """The conversation to write to, and the pair to create it for when it is a 1:1."""
        if request.to is None:
            assert request.conversation_id is not None  # parse_send guarantees exactly one
            self._require_member(request.conversation_id, sender)
            if is_direct_id(request.conversation_id):
                others = self._members.member_ids(request.conversation_id)
                self._refuse_if_blocked(sender, [u for u in others if u != sender])
            return request.conversation_id, None
        check_direct_recipient(sender, request.to)
        if self._users.get(request.to) is None:
            raise NotFound("No user has that id.")
        self._refuse_if_blocked(sender, [request.to])
        return direct_conversation_id(sender, request.to), (sender, request.to)

    def _refuse_if_blocked(self, sender: str, recipients: Sequence[str]) -> None:
        if any(self._blocks.has_blocked(r, sender) for r in recipients):
            raise Forbidden("This user does not accept messages from you.")

    def _require_member(self, conversation_id: str, user_id: str) -> None:
        require_member(self._conversations.get_member(conversation_id, user_id))

    def _publish_message(
        self, message: Message, clip: Clip, sender_connection_id: str, api_endpoint: str
    ) -> None:
        envelope = FanoutEnvelope(
            message.conversation_id,
            sender_connection_id,
            compact(self._renderer.live(message, clip)),
            sender_id=message.sender_id,
            missed=MissedMessage(
                message.seq, clip.duration_ms or 0, round(message.sent_at.timestamp() * 1000)
            ),
        )
        self._outbound.send(envelope, api_endpoint)
