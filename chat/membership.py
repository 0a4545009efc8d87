"""Who may do what in a group. Pure: members in, decisions (or errors) out.

| action            | owner                         | admin          | member |
| ----------------- | ----------------------------- | -------------- | ------ |
| add members       | yes                           | yes            | no     |
| remove a member   | anyone but themselves         | members only   | no     |
| change a role     | yes (``owner`` hands it over) | no             | no     |
| rename the group  | yes                           | yes            | no     |
| leave             | yes (the role passes on)      | yes            | yes    |
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from chat.model import Conversation, ConversationKind, Member, Role
from common.errors import BadRequest, Forbidden, NotAMember

MAX_TITLE_LENGTH = 100
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


def require_member(member: Member | None) -> Member:
    if member is None:
        raise NotAMember()
    return member


def require_listed(user_id: str, member_ids: Collection[str]) -> None:
    if user_id not in member_ids:
        raise NotAMember()


def require_group(conversation: Conversation | None) -> Conversation:
    if conversation is None:
        raise NotAMember()
    if conversation.kind is not ConversationKind.GROUP:
        raise BadRequest("A direct conversation has no members to manage.", field="conversationId")
    return conversation


def check_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned:
        raise BadRequest("A group needs a title.", field="title")
    if len(cleaned) > MAX_TITLE_LENGTH:
        raise BadRequest(f"A title has at most {MAX_TITLE_LENGTH} characters.", field="title")
    return cleaned


def check_may_add(actor: Member) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("Only the owner and admins may add members.")


def check_may_rename(actor: Member) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("Only the owner and admins may rename the group.")


def check_may_remove(actor: Member, target: Member) -> None:
    if actor.user_id == target.user_id:
        raise BadRequest("To remove yourself, leave the group.", field="userId")
    if actor.role is Role.OWNER or (actor.role is Role.ADMIN and target.role is Role.MEMBER):
        return
    raise Forbidden("Only the owner may remove admins, and only admins may remove members.")


def check_may_set_role(actor: Member, target: Member, role: Role) -> None:
    if actor.role is not Role.OWNER:
        raise Forbidden("Only the owner may change roles.")
    if actor.user_id == target.user_id:
        raise BadRequest("The owner's role changes only by handing it to someone.", field="userId")
    if target.role is role:
        raise BadRequest(f"That member is already {role.value}.", field="role")


def new_members(
    requested: Iterable[str], current: Iterable[str], room: int, actor_id: str
) -> list[str]:
    """The requested users who are not members yet, in request order; at most ``room``."""
    present = set(current)
    fresh = [u for u in dict.fromkeys(requested) if u not in present and u != actor_id]
    if len(fresh) > room:
        raise BadRequest(f"The group has room for {max(room, 0)} more members.", field="members")
    return fresh


def successor(members: Sequence[Member], leaving: str) -> Member | None:
    """Who owns the group after its owner leaves: the longest-standing admin, else the
    longest-standing member; None when nobody is left."""
    others = [m for m in members if m.user_id != leaving]
    if not others:
        return None
    admins = [m for m in others if m.role is Role.ADMIN]
    return min(admins or others, key=lambda m: (m.joined_at, m.user_id))
