"""Blocking users and reporting messages."""

from __future__ import annotations

import hashlib

from chat.conversation_store import ConversationStore
from chat.membership import require_member
from chat.model import Report
from chat.safety_store import BlockStore, ReportStore
from chat.store import MessageStore, UserDirectory
from chat.wire_signals import ReportRequest
from common.clock import Clock
from common.errors import BadRequest, NotFound
from common.events import Caller


class SafetyService:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        messages: MessageStore,
        users: UserDirectory,
        blocks: BlockStore,
        reports: ReportStore,
        clock: Clock,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._users = users
        self._blocks = blocks
        self._reports = reports
        self._clock = clock

    def block(self, caller: Caller, user_id: str) -> None:
        """From now on none of their messages reach the caller, and they cannot start or
        continue a direct conversation with the caller."""
        if user_id == caller.user_id:
            raise BadRequest("You cannot block yourself.", field="userId")
        if self._users.get(user_id) is None:
            raise NotFound("No user has that id.")
        self._blocks.block(caller.user_id, user_id, self._clock.now())

    def unblock(self, caller: Caller, user_id: str) -> None:
        self._blocks.unblock(caller.user_id, user_id)

    def report(self, caller: Caller, request: ReportRequest) -> str:
        """Store the report for the moderators; reporting the same message again changes
        nothing and answers the same report id."""
        require_member(self._conversations.get_member(request.conversation_id, caller.user_id))
        message = self._messages.get(request.conversation_id, request.seq)
        if message is None:
            raise NotFound("No message has that seq.")
        if message.sender_id == caller.user_id:
            raise BadRequest("You cannot report your own message.", field="seq")
        report_id = (
            "r_"
            + hashlib.sha256(
                f"{caller.user_id}\n{message.conversation_id}\n{message.seq}".encode()
            ).hexdigest()[:32]
        )
        self._reports.add(
            Report(
                report_id=report_id,
                reporter_id=caller.user_id,
                conversation_id=message.conversation_id,
                seq=message.seq,
                message_id=message.message_id,
                sender_id=message.sender_id,
                clip_id=message.clip_id,
                reason=request.reason,
                created_at=self._clock.now(),
            )
        )
        return report_id
