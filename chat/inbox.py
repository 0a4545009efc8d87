"""The conversation list and the catch-up summary: what a client asks for when it opens, and
when it comes back after being away."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chat.conversation_store import ConversationStore
from chat.logic import fit_in_frame
from chat.member_cache import MemberLookup
from chat.model import Conversation, ConversationKind, Head
from chat.render import MessageRenderer
from chat.safety_store import BlockStore
from chat.store import MessageStore
from chat.wire_groups import (
    ListRequest,
    SummaryRequest,
    conversation_view,
    conversations_frame,
    summary_entry,
    summary_frame,
)
from common.events import Caller


class InboxService:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        messages: MessageStore,
        members: MemberLookup,
        blocks: BlockStore,
        renderer: MessageRenderer,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._members = members
        self._blocks = blocks
        self._renderer = renderer

    def conversations(self, caller: Caller, request: ListRequest) -> dict[str, Any]:
        """My conversations, most recently active first, with the last message and how many
        messages I have not read."""
        mine = dict(self._conversations.memberships_of(caller.user_id))
        heads = self._messages.heads(list(mine))
        metas = self._conversations.get_many(list(mine))
        ordered = sorted(
            (c for c in metas.values()), key=lambda c: _activity(c, heads), reverse=True
        )
        page = ordered[request.offset : request.offset + request.limit]
        last = self._last_messages(
            caller.user_id, [heads[c.conversation_id] for c in page if c.conversation_id in heads]
        )
        views = [
            conversation_view(
                c,
                mine[c.conversation_id],
                heads.get(c.conversation_id),
                last.get(c.conversation_id),
                self._other_user(c, caller.user_id),
            )
            for c in page
        ]
        count = fit_in_frame([len(json.dumps(v)) for v in views])
        more = request.offset + count < len(ordered)
        return conversations_frame(views[:count], more)

    def summary(self, caller: Caller, request: SummaryRequest) -> dict[str, Any]:
        """Every conversation with messages after the seqs the client has (all of them for a
        conversation it does not know), and the known ones the caller is no longer in."""
        mine = dict(self._conversations.memberships_of(caller.user_id))
        heads = self._messages.heads(list(mine))
        news = [
            cid
            for cid in sorted(mine)
            if cid not in request.since or _last_seq(heads.get(cid)) > request.since[cid]
        ]
        metas = self._conversations.get_many(news)
        entries = [summary_entry(cid, mine[cid], heads.get(cid), metas.get(cid)) for cid in news]
        entries += [summary_entry(cid, None) for cid in sorted(request.since) if cid not in mine]
        count = fit_in_frame([len(json.dumps(e)) for e in entries])
        return summary_frame(entries[:count], count < len(entries))

    def unread_total(self, user_id: str) -> int:
        """Messages the user has not read, over all their conversations: the app's badge."""
        mine = self._conversations.memberships_of(user_id)
        heads = self._messages.heads([cid for cid, _ in mine])
        return sum(member.unread(heads.get(cid)) for cid, member in mine)

    def _last_messages(self, viewer: str, heads: Sequence[Head]) -> dict[str, Mapping[str, Any]]:
        found = self._messages.get_many([(h.conversation_id, h.last_seq) for h in heads])
        if not found:
            return {}
        blocked = self._blocks.blocked_by(viewer)
        messages = list(found.values())
        rendered = self._renderer.for_viewer(messages, viewer, blocked)
        return {m.conversation_id: r for m, r in zip(messages, rendered, strict=True)}

    def _other_user(self, conversation: Conversation, me: str) -> str | None:
        if conversation.kind is not ConversationKind.DIRECT:
            return None
        others = [u for u in self._members.member_ids(conversation.conversation_id) if u != me]
        return others[0] if others else None


def _last_seq(head: Head | None) -> int:
    return head.last_seq if head else 0


def _activity(conversation: Conversation, heads: Mapping[str, Head]) -> datetime:
    head = heads.get(conversation.conversation_id)
    if head is not None and head.last_message_at is not None:
        return head.last_message_at
    return conversation.created_at
