"""Conversations and their members in DynamoDB: the only I/O of these.

One item per conversation (``sk = #meta``: kind, title, ``membersVersion``, ``memberCount``)
and one per member (``sk = member#<user id>``: role, joinedAt, lastReadSeq), indexed by user.
Every membership change is one transaction conditioned on the ``membersVersion`` the caller
read, so a decision made on what the caller saw cannot land on a group that changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chat.dynamo import (
    Item,
    batch_get,
    failed_at,
    is_cancelled_transaction,
    is_condition_failure,
)
from chat.model import Conversation, ConversationKind, Member, Role
from common.clock import iso_utc, parse_iso_utc
from common.errors import Conflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

META = "#meta"
MEMBER_PREFIX = "member#"
BY_USER_INDEX = "byUser"


class GroupChanged(Conflict):
    """The group changed between the caller's read and its write."""

    def __init__(self) -> None:
        super().__init__("The group changed meanwhile; please retry.")


class ConversationStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    # ---- reads --------------------------------------------------------------------------

    def get(self, conversation_id: str) -> Conversation | None:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(conversation_id, META), ConsistentRead=True
        ).get("Item")
        return _conversation_from_item(item) if item else None

    def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        keys = [self._key(cid, META) for cid in conversation_ids]
        items = batch_get(self._client, self._table, keys)
        return {c.conversation_id: c for c in map(_conversation_from_item, items)}

    def get_member(self, conversation_id: str, user_id: str) -> Member | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=self._key(conversation_id, MEMBER_PREFIX + user_id),
            ConsistentRead=True,
        ).get("Item")
        return _member_from_item(item) if item else None

    def members(self, conversation_id: str) -> list[Member]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="conversationId = :c AND begins_with(sk, :m)",
            ExpressionAttributeValues={":c": {"S": conversation_id}, ":m": {"S": MEMBER_PREFIX}},
            ConsistentRead=True,
        )
        return [_member_from_item(item) for page in pages for item in page.get("Items", [])]

    def member_ids(self, conversation_id: str) -> list[str]:
        return [m.user_id for m in self.members(conversation_id)]

    def memberships_of(self, user_id: str) -> list[tuple[str, Member]]:
        """(conversation id, the user's member record) for every conversation of the user."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=BY_USER_INDEX,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
        )
        return [
            (item["conversationId"]["S"], _member_from_item(item))
            for page in pages
            for item in page.get("Items", [])
        ]

    # ---- writes -------------------------------------------------------------------------

    def ensure_direct(self, conversation_id: str, members: tuple[str, str], now: datetime) -> None:
        """Create the 1:1 conversation unless it exists; racing creators end with one."""
        conversation = Conversation(conversation_id, ConversationKind.DIRECT, now, member_count=2)
        member_records = [Member(user_id, Role.MEMBER, now) for user_id in members]
        try:
            self._client.transact_write_items(
                TransactItems=self._creation(conversation, member_records)
            )
        except ClientError as error:
            if not (is_cancelled_transaction(error) and failed_at(error, 0)):
                raise

    def create_group(self, conversation: Conversation, members: Sequence[Member]) -> None:
        self._client.transact_write_items(TransactItems=self._creation(conversation, members))

    def add_members(self, conversation: Conversation, members: Sequence[Member]) -> int:
        """Add ``members`` (none of them a member yet); returns the new members version."""
        puts: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _member_item(conversation.conversation_id, m),
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
            for m in members
        ]
        return self._change(conversation, len(members), puts)

    def remove_member(
        self, conversation: Conversation, user_id: str, new_owner: str | None = None
    ) -> int:
        """Remove a member (and hand ownership to ``new_owner``); returns the new version."""
        delete: TransactWriteItemTypeDef = {
            "Delete": {
                "TableName": self._table,
                "Key": self._key(conversation.conversation_id, MEMBER_PREFIX + user_id),
                "ConditionExpression": "attribute_exists(sk)",
            }
        }
        roles = (
            [] if new_owner is None else [self._role_update(conversation, new_owner, Role.OWNER)]
        )
        return self._change(conversation, -1, [delete, *roles])

    def set_roles(self, conversation: Conversation, roles: Sequence[tuple[str, Role]]) -> int:
        updates = [self._role_update(conversation, user_id, role) for user_id, role in roles]
        return self._change(conversation, 0, updates)

    def rename(self, conversation: Conversation, title: str) -> int:
        return self._change(conversation, 0, [], title=title)

    def mark_read(self, conversation_id: str, user_id: str, seq: int) -> Member | None:
        """Move the member's read marker forward to ``seq`` (never back); None if no member."""
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key=self._key(conversation_id, MEMBER_PREFIX + user_id),
                UpdateExpression="SET lastReadSeq = :s",
                ConditionExpression=(
                    "attribute_exists(sk) AND "
                    "(attribute_not_exists(lastReadSeq) OR lastReadSeq < :s)"
                ),
                ExpressionAttributeValues={":s": {"N": str(seq)}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return self.get_member(conversation_id, user_id)
        return _member_from_item(item)

    def read_marker_update(
        self, conversation_id: str, user_id: str, seq: int
    ) -> TransactWriteItemTypeDef:
        """A transaction item that moves a member's read marker to ``seq`` and fails if the
        user is not a member: a send joins it, so a removed member cannot slip a message in."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(conversation_id, MEMBER_PREFIX + user_id),
                "UpdateExpression": "SET lastReadSeq = :s",
                "ConditionExpression": "attribute_exists(sk)",
                "ExpressionAttributeValues": {":s": {"N": str(seq)}},
            }
        }

    # ---- internals ----------------------------------------------------------------------

    def _creation(
        self, conversation: Conversation, members: Sequence[Member]
    ) -> list[TransactWriteItemTypeDef]:
        meta: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": _conversation_item(conversation),
                "ConditionExpression": "attribute_not_exists(conversationId)",
            }
        }
        puts: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _member_item(conversation.conversation_id, m),
                }
            }
            for m in members
        ]
        return [meta, *puts]

    def _change(
        self,
        conversation: Conversation,
        count_delta: int,
        items: list[TransactWriteItemTypeDef],
        title: str | None = None,
    ) -> int:
        """Apply ``items`` together with a version bump of the conversation; the version the
        caller read must still hold."""
        version = conversation.members_version + 1
        values: Item = {
            ":seen": {"N": str(conversation.members_version)},
            ":next": {"N": str(version)},
            ":delta": {"N": str(count_delta)},
        }
        update = "SET membersVersion = :next ADD memberCount :delta"
        if title is not None:
            update = "SET membersVersion = :next, title = :title ADD memberCount :delta"
            values[":title"] = {"S": title}
        bump: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self._table,
                "Key": self._key(conversation.conversation_id, META),
                "UpdateExpression": update,
                "ConditionExpression": "membersVersion = :seen",
                "ExpressionAttributeValues": values,
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[bump, *items])
        except ClientError as error:
            if is_cancelled_transaction(error) and any(
                failed_at(error, i) for i in range(len(items) + 1)
            ):
                raise GroupChanged() from error
            raise
        return version

    def _role_update(
        self, conversation: Conversation, user_id: str, role: Role
    ) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(conversation.conversation_id, MEMBER_PREFIX + user_id),
                "UpdateExpression": "SET #role = :role",
                "ConditionExpression": "attribute_exists(sk)",
                "ExpressionAttributeNames": {"#role": "role"},
                "ExpressionAttributeValues": {":role": {"S": role.value}},
            }
        }

    @staticmethod
    def _key(conversation_id: str, sk: str) -> Item:
        return {"conversationId": {"S": conversation_id}, "sk": {"S": sk}}


def _conversation_item(conversation: Conversation) -> Item:
    item: Item = {
        "conversationId": {"S": conversation.conversation_id},
        "sk": {"S": META},
        "kind": {"S": conversation.kind.value},
        "createdAt": {"S": iso_utc(conversation.created_at)},
        "membersVersion": {"N": str(conversation.members_version)},
        "memberCount": {"N": str(conversation.member_count)},
    }
    if conversation.title is not None:
        item["title"] = {"S": conversation.title}
    if conversation.created_by is not None:
        item["createdBy"] = {"S": conversation.created_by}
    return item


def _conversation_from_item(item: Item) -> Conversation:
    return Conversation(
        conversation_id=item["conversationId"]["S"],
        kind=ConversationKind(item.get("kind", {}).get("S", "direct")),
        created_at=parse_iso_utc(item["createdAt"]["S"]),
        title=item["title"]["S"] if "title" in item else None,
        created_by=item["createdBy"]["S"] if "createdBy" in item else None,
        members_version=int(item.get("membersVersion", {}).get("N", "0")),
        member_count=int(item.get("memberCount", {}).get("N", "0")),
    )


def _member_item(conversation_id: str, member: Member) -> Item:
    return {
        "conversationId": {"S": conversation_id},
        "sk": {"S": MEMBER_PREFIX + member.user_id},
        "userId": {"S": member.user_id},
        "role": {"S": member.role.value},
        "joinedAt": {"S": iso_utc(member.joined_at)},
        "lastReadSeq": {"N": str(member.last_read_seq)},
    }


def _member_from_item(item: Item) -> Member:
    return Member(
        user_id=item["userId"]["S"],
        role=Role(item.get("role", {}).get("S", "member")),
        joined_at=parse_iso_utc(item["joinedAt"]["S"]),
        last_read_seq=int(item.get("lastReadSeq", {}).get("N", "0")),
    )
