"""Wire format of groups and of the conversation list: request parsing and frames. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chat.model import Conversation, Head, Member, MembershipChange, Role
from chat.wire import ID_PATTERN, id_field, int_field, text_field
from common.clock import iso_utc
from common.errors import BadRequest

MAX_MEMBERS_PER_REQUEST = 50  # a change is one DynamoDB transaction (at most 100 items)
MAX_SINCE_ENTRIES = 1000
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 100


@dataclass(frozen=True)
class CreateGroupRequest:
    title: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class MembersRequest:
    conversation_id: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class MemberRequest:
    """removeMember, setRole (with ``role``), leaveGroup (``user_id`` is the caller)."""

    conversation_id: str
    user_id: str
    role: Role | None = None


@dataclass(frozen=True)
class RenameRequest:
    conversation_id: str
    title: str


@dataclass(frozen=True)
class ListRequest:
    limit: int
    offset: int


@dataclass(frozen=True)
class SummaryRequest:
    since: Mapping[str, int]


def parse_create_group(body: Mapping[str, Any]) -> CreateGroupRequest:
    return CreateGroupRequest(
        title=text_field(body, "title", max_length=200),
        members=_user_ids(body, "members", minimum=0),
    )


def parse_add_members(body: Mapping[str, Any]) -> MembersRequest:
    return MembersRequest(id_field(body, "conversationId"), _user_ids(body, "members", minimum=1))


def parse_remove_member(body: Mapping[str, Any]) -> MemberRequest:
    return MemberRequest(id_field(body, "conversationId"), id_field(body, "userId"))


def parse_set_role(body: Mapping[str, Any]) -> MemberRequest:
    role = body.get("role")
    if role not in {r.value for r in Role}:
        raise BadRequest("role must be owner, admin or member.", field="role")
    return MemberRequest(id_field(body, "conversationId"), id_field(body, "userId"), Role(role))


def parse_rename(body: Mapping[str, Any]) -> RenameRequest:
    return RenameRequest(
        id_field(body, "conversationId"), text_field(body, "title", max_length=200)
    )


def parse_conversation_id(body: Mapping[str, Any]) -> str:
    return id_field(body, "conversationId")


def parse_list(body: Mapping[str, Any]) -> ListRequest:
    return ListRequest(
        limit=int_field(
            body, "limit", minimum=1, maximum=MAX_LIST_LIMIT, default=DEFAULT_LIST_LIMIT
        ),
        offset=int_field(body, "offset", minimum=0, default=0),
    )


def parse_summary(body: Mapping[str, Any]) -> SummaryRequest:
    since = body.get("since", {})
    if not isinstance(since, dict):
        raise BadRequest("since must be an object of conversation ids to seqs.", field="since")
    if len(since) > MAX_SINCE_ENTRIES:
        raise BadRequest(f"since has at most {MAX_SINCE_ENTRIES} entries.", field="since")
    for conversation_id, seq in since.items():
        valid_seq = isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0
        if not ID_PATTERN.match(conversation_id) or not valid_seq:
            raise BadRequest("since maps conversation ids to seqs of 0 or more.", field="since")
    return SummaryRequest(since=dict(since))


def _user_ids(body: Mapping[str, Any], name: str, *, minimum: int) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a list of user ids.", field=name)
    if not minimum <= len(value) <= MAX_MEMBERS_PER_REQUEST:
        raise BadRequest(
            f"{name} must have {minimum} to {MAX_MEMBERS_PER_REQUEST} user ids.", field=name
        )
    if not all(ID_PATTERN.match(v) for v in value):
        raise BadRequest(f"{name} has something that is not a user id.", field=name)
    return tuple(dict.fromkeys(value))


# ---- frames ---------------------------------------------------------------------------------


def membership_frame(change: MembershipChange) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "membership",
        "conversationId": change.conversation_id,
        "change": change.change,
        "by": change.by,
        "userIds": list(change.user_ids),
        "version": change.version,
    }
    if change.role is not None:
        frame["role"] = change.role.value
    if change.title is not None:
        frame["title"] = change.title
    return frame


def members_frame(conversation: Conversation, members: Sequence[Member]) -> dict[str, Any]:
    return {
        "type": "members",
        "conversationId": conversation.conversation_id,
        "title": conversation.title,
        "version": conversation.members_version,
        "members": [
            {"userId": m.user_id, "role": m.role.value, "joinedAt": iso_utc(m.joined_at)}
            for m in sorted(members, key=lambda m: (m.joined_at, m.user_id))
        ],
    }


def conversation_view(
    conversation: Conversation,
    me: Member,
    head: Head | None,
    last_message: Mapping[str, Any] | None,
    other_user: str | None,
) -> dict[str, Any]:
    last_seq = head.last_seq if head else 0
    return {
        "conversationId": conversation.conversation_id,
        "kind": conversation.kind.value,
        "title": conversation.title,
        "with": other_user,
        "role": me.role.value,
        "memberCount": conversation.member_count,
        "lastSeq": last_seq,
        "lastReadSeq": me.last_read_seq,
        "unread": me.unread(head),
        "lastMessageAt": iso_utc(head.last_message_at) if head and head.last_message_at else None,
        "lastMessage": last_message,
    }


def conversations_frame(views: Sequence[Mapping[str, Any]], more: bool) -> dict[str, Any]:
    return {"type": "conversations", "conversations": list(views), "more": more}


def summary_entry(
    conversation_id: str,
    me: Member | None,
    head: Head | None = None,
    conversation: Conversation | None = None,
) -> dict[str, Any]:
    if me is None:
        return {"conversationId": conversation_id, "member": False}
    last_seq = head.last_seq if head else 0
    return {
        "conversationId": conversation_id,
        "member": True,
        "lastSeq": last_seq,
        "unread": me.unread(head),
        "version": conversation.members_version if conversation else 0,
    }


def summary_frame(entries: Sequence[Mapping[str, Any]], more: bool) -> dict[str, Any]:
    return {"type": "summary", "conversations": list(entries), "more": more}
