"""Group use cases: create, add, remove, leave, change roles, rename, list members.

Rules come from ``chat.membership``; every change is one conditional transaction (see
``ConversationStore``), invalidates the cached member list, and is told as a ``membership``
event to everyone who was or is now in the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from chat.conversation_store import ConversationStore
from chat.member_cache import MemberLookup
from chat.membership import (
    check_may_add,
    check_may_remove,
    check_may_rename,
    check_may_set_role,
    check_title,
    new_members,
    require_group,
    require_member,
    successor,
)
from chat.model import (
    Conversation,
    ConversationKind,
    FanoutEnvelope,
    Member,
    MembershipChange,
    Origin,
    Role,
)
from chat.outbound import Outbound, compact
from chat.store import UserDirectory
from chat.wire_groups import CreateGroupRequest, MemberRequest, MembersRequest, RenameRequest
from chat.wire_groups import membership_frame as render_change
from common.clock import Clock, IdFactory
from common.errors import BadRequest, NotFound
from common.events import Caller


@dataclass(frozen=True)
class _Acting:
    """A group, and the member who acts on it, as read before the change."""

    conversation: Conversation
    actor: Member

    @property
    def conversation_id(self) -> str:
        return self.conversation.conversation_id

    def change(
        self,
        kind: str,
        user_ids: Sequence[str],
        version: int,
        audience: tuple[str, ...],
        role: Role | None = None,
    ) -> MembershipChange:
        return MembershipChange(
            self.conversation_id, kind, self.actor.user_id, tuple(user_ids), version, audience, role
        )


class GroupService:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        members: MemberLookup,
        users: UserDirectory,
        outbound: Outbound,
        clock: Clock,
        ids: IdFactory,
        max_members: int,
    ) -> None:
        self._conversations = conversations
        self._members = members
        self._users = users
        self._outbound = outbound
        self._clock = clock
        self._ids = ids
        self._max_members = max_members

    def create(self, origin: Origin, request: CreateGroupRequest) -> MembershipChange:
        owner = origin.caller.user_id
        title = check_title(request.title)
        invited = new_members(request.members, [], self._max_members - 1, owner)
        self._require_users(invited)
        now = self._clock.now()
        everyone = (owner, *invited)
        conversation = Conversation(
            conversation_id=self._ids.new("g"),
            kind=ConversationKind.GROUP,
            created_at=now,
            title=title,
            created_by=owner,
            member_count=len(everyone),
        )
        members = [Member(owner, Role.OWNER, now), *(Member(u, Role.MEMBER, now) for u in invited)]
        self._conversations.create_group(conversation, members)
        change = MembershipChange(
            conversation.conversation_id, "created", owner, everyone, 0, everyone, title=title
        )
        return self._tell(origin, change)

    def add(self, origin: Origin, request: MembersRequest) -> MembershipChange:
        acting = self._acting(request.conversation_id, origin.caller.user_id)
        check_may_add(acting.actor)
        current = self._conversations.member_ids(acting.conversation_id)
        room = self._max_members - len(current)
        fresh = new_members(request.members, current, room, acting.actor.user_id)
        if not fresh:
            raise BadRequest("Everyone named is a member already.", field="members")
        self._require_users(fresh)
        now = self._clock.now()
        version = self._conversations.add_members(
            acting.conversation, [Member(u, Role.MEMBER, now) for u in fresh]
        )
        audience = tuple(dict.fromkeys([*current, *fresh]))
        return self._record(origin, acting, acting.change("added", fresh, version, audience))

    def remove(self, origin: Origin, request: MemberRequest) -> MembershipChange:
        acting = self._acting(request.conversation_id, origin.caller.user_id)
        target = self._member(acting.conversation_id, request.user_id)
        check_may_remove(acting.actor, target)
        audience = tuple(self._conversations.member_ids(acting.conversation_id))
        version = self._conversations.remove_member(acting.conversation, target.user_id)
        return self._record(
            origin, acting, acting.change("removed", [target.user_id], version, audience)
        )

    def leave(self, origin: Origin, conversation_id: str) -> MembershipChange:
        """Anyone may leave; an owner's role passes to the longest-standing admin (or member)."""
        acting = self._acting(conversation_id, origin.caller.user_id)
        me = acting.actor.user_id
        everyone = self._conversations.members(conversation_id)
        heir = successor(everyone, me) if acting.actor.role is Role.OWNER else None
        version = self._conversations.remove_member(
            acting.conversation, me, heir.user_id if heir else None
        )
        audience = tuple(m.user_id for m in everyone)
        changes = [acting.change("left", [me], version, audience)]
        if heir is not None:
            changes.append(acting.change("role", [heir.user_id], version, audience, Role.OWNER))
        return self._record(origin, acting, *changes)

    def set_role(self, origin: Origin, request: MemberRequest) -> MembershipChange:
        assert request.role is not None  # parse_set_role guarantees a role
        acting = self._acting(request.conversation_id, origin.caller.user_id)
        target = self._member(acting.conversation_id, request.user_id)
        check_may_set_role(acting.actor, target, request.role)
        roles = [(target.user_id, request.role)]
        if request.role is Role.OWNER:  # the owner hands over and stays on as an admin
            roles.append((acting.actor.user_id, Role.ADMIN))
        audience = tuple(self._conversations.member_ids(acting.conversation_id))
        version = self._conversations.set_roles(acting.conversation, roles)
        changes = [acting.change("role", [user], version, audience, role) for user, role in roles]
        return self._record(origin, acting, *changes)

    def rename(self, origin: Origin, request: RenameRequest) -> MembershipChange:
        acting = self._acting(request.conversation_id, origin.caller.user_id)
        check_may_rename(acting.actor)
        title = check_title(request.title)
        audience = tuple(self._conversations.member_ids(acting.conversation_id))
        version = self._conversations.rename(acting.conversation, title)
        renamed = acting.change("renamed", [], version, audience)
        return self._record(origin, acting, replace(renamed, title=title))

    def members(self, caller: Caller, conversation_id: str) -> tuple[Conversation, list[Member]]:
        require_member(self._conversations.get_member(conversation_id, caller.user_id))
        conversation = self._conversations.get(conversation_id)
        if conversation is None:
            raise NotFound("That conversation no longer exists.")
        return conversation, self._conversations.members(conversation_id)

    # ---- internals ----------------------------------------------------------------------

    def _acting(self, conversation_id: str, user_id: str) -> _Acting:
        actor = require_member(self._conversations.get_member(conversation_id, user_id))
        conversation = require_group(self._conversations.get(conversation_id))
        return _Acting(conversation, actor)

    def _member(self, conversation_id: str, user_id: str) -> Member:
        member = self._conversations.get_member(conversation_id, user_id)
        if member is None:
            raise NotFound("That user is not a member of this group.")
        return member

    def _require_users(self, user_ids: Sequence[str]) -> None:
        missing = [u for u in user_ids if self._users.get(u) is None]
        if missing:
            raise NotFound(f"No user has the id {missing[0]!r}.")

    def _record(
        self, origin: Origin, acting: _Acting, first: MembershipChange, *more: MembershipChange
    ) -> MembershipChange:
        """The change is stored: forget the cached member list and tell everyone concerned."""
        self._members.changed(acting.conversation_id, acting.conversation.members_version)
        for change in (first, *more):
            self._tell(origin, change)
        return first

    def _tell(self, origin: Origin, change: MembershipChange) -> MembershipChange:
        """Everyone concerned hears of the change, but the connection that made it, which gets
        the same frame as its answer."""
        envelope = FanoutEnvelope(
            change.conversation_id,
            origin.connection_id,
            compact(render_change(change)),
            user_ids=change.audience,
        )
        self._outbound.send(envelope, origin.api_endpoint)
        return change
