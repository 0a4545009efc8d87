"""Receipts, read markers, typing/recording indicators and presence.

Receipts are stored on the message and told to its sender; read markers are stored on the
member. Indicators and presence are ephemeral (Redis, with TTLs) and never reach DynamoDB.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chat.conversation_store import ConversationStore
from chat.ephemeral import IndicatorStore
from chat.member_cache import MemberLookup
from chat.membership import require_listed, require_member
from chat.model import FanoutEnvelope, IndicatorKind, Origin
from chat.outbound import Outbound, compact
from chat.safety_store import BlockStore
from chat.store import MessageStore
from chat.wire_signals import (
    IndicatorRequest,
    ReadRequest,
    ReceiptRequest,
    indicator_event,
    presence_frame,
    read_frame,
    receipt_event,
    receipts_frame,
)
from common.clock import Clock
from common.events import Caller
from connections.logic import presence_entry
from connections.store import PresenceStore, PresenceUnavailable


class SignalService:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        messages: MessageStore,
        members: MemberLookup,
        blocks: BlockStore,
        indicators: IndicatorStore,
        presence: PresenceStore,
        outbound: Outbound,
        clock: Clock,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._members = members
        self._blocks = blocks
        self._indicators = indicators
        self._presence = presence
        self._outbound = outbound
        self._clock = clock

    def receipt(self, origin: Origin, request: ReceiptRequest) -> dict[str, Any]:
        """Record the receipts; each sender hears of those of their messages. Seqs that are
        the caller's own messages, or no message at all, are left out of the answer."""
        me = origin.caller.user_id
        require_member(self._conversations.get_member(request.conversation_id, me))
        by_sender: dict[str, list[int]] = defaultdict(list)
        for seq in request.seqs:
            message = self._messages.add_receipt(request.conversation_id, seq, me, request.kind)
            if message is not None:
                by_sender[message.sender_id].append(seq)
        now = self._clock.now()
        for sender, seqs in by_sender.items():
            event = receipt_event(request.conversation_id, me, request.kind, seqs, now)
            envelope = FanoutEnvelope(
                request.conversation_id,
                origin.connection_id,
                compact(event),
                user_ids=(sender,),
                sender_id=me,
            )
            self._outbound.send(envelope, origin.api_endpoint)
        recorded = sorted(seq for seqs in by_sender.values() for seq in seqs)
        return receipts_frame(request.conversation_id, request.kind, recorded)

    def mark_read(self, caller: Caller, request: ReadRequest) -> dict[str, Any]:
        """Move my read marker (never back, never past the last message)."""
        head = self._messages.heads([request.conversation_id]).get(request.conversation_id)
        seq = min(request.seq, head.last_seq if head else 0)
        member = require_member(
            self._conversations.mark_read(request.conversation_id, caller.user_id, seq)
        )
        return read_frame(request.conversation_id, member.last_read_seq)

    def indicate(self, origin: Origin, request: IndicatorRequest) -> None:
        me = origin.caller.user_id
        require_listed(me, self._members.member_ids(request.conversation_id))
        self._indicators.mark(request.conversation_id, request.kind, me, request.active)
        event = indicator_event(request, me, self._indicators.ttl_seconds)
        envelope = FanoutEnvelope(
            request.conversation_id, origin.connection_id, compact(event), sender_id=me
        )
        self._outbound.send(envelope, origin.api_endpoint)

    def presence(self, caller: Caller, conversation_id: str) -> dict[str, Any]:
        """Who in the conversation is online, when the others were last seen, and who is
        typing or recording. Users who blocked the caller show as unknown."""
        members = self._members.member_ids(conversation_id)
        require_listed(caller.user_id, members)
        others = [u for u in members if u != caller.user_id]
        hidden = self._blocks.blockers_of(caller.user_id)
        visible = [u for u in others if u not in hidden]
        try:
            status = self._presence.status(visible)
        except PresenceUnavailable:
            status = {}
        active = self._indicators.active(conversation_id, visible)
        users = []
        for user_id in others:
            online, last_seen = status.get(user_id, (False, None))
            entry = presence_entry(user_id, online, last_seen)
            if user_id not in status:
                entry["online"] = None  # unknown: Redis is down, or they blocked the caller
            entry["typing"] = IndicatorKind.TYPING in active.get(user_id, set())
            entry["recording"] = IndicatorKind.RECORDING in active.get(user_id, set())
            users.append(entry)
        return presence_frame(conversation_id, users)
