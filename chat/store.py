"""Messages and user profiles in DynamoDB. The only I/O of these."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chat.conversation_store import ConversationStore
from chat.dynamo import (
    Item,
    batch_get,
    failed_at,
    is_cancelled_transaction,
    is_condition_failure,
    put_new,
)
from chat.model import Ack, Head, Message, ReceiptKind, UserProfile
from common.clock import iso_utc, parse_iso_utc
from common.errors import Conflict, NotAMember

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

BY_USERNAME_INDEX = "byUsername"
UNVERIFIED, APPROVED = "unverified", "approved"  # a profile's verification state
RECEIPT_ATTRIBUTES = {ReceiptKind.DELIVERED: "deliveredTo", ReceiptKind.LISTENED: "listenedBy"}


class MessageStore:
    """Messages keyed by (conversation, seq).

    Seq numbers and idempotency live here too, so one transaction decides both: the head item
    (seq 0) holds ``lastSeq``, and ``dedup#<sender>#<clientMessageId>`` (seq 0) remembers the
    ack of every message ever accepted. A racing sender makes the head's condition fail and
    retries with the next seq; a racing retry makes the dedup condition fail and gets the ack
    the winner stored. Seqs therefore have no gaps and no message is stored twice. The same
    transaction moves the sender's read marker, which exists only while they are a member, so
    a sender removed after the membership check cannot slip a message in.
    """

    HEAD_SEQ = 0
    MAX_ATTEMPTS = 8
    _DEDUP_ITEM = 2  # positions in the append transaction
    _MEMBER_ITEM = 3

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        members: ConversationStore,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._members = members
        self._sleep = sleep

    def find_ack(self, sender_id: str, client_message_id: str) -> Ack | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=_dedup_key(sender_id, client_message_id),
            ConsistentRead=True,
        ).get("Item")
        return _ack_from_item(item) if item else None

    def append(self, draft: Message) -> tuple[Ack, bool]:
        """Store ``draft`` with the conversation's next seq: ``(ack, stored_now)``.

        ``stored_now`` is False when the same client message id was accepted before; the ack
        is then the original one.
        """
        for attempt in range(self.MAX_ATTEMPTS):
            previous = self._last_seq(draft.conversation_id)
            message = Message(**{**draft.__dict__, "seq": previous + 1})
            try:
                self._client.transact_write_items(
                    TransactItems=self._append_items(message, previous)
                )
            except ClientError as error:
                if not is_cancelled_transaction(error):
                    raise
                if failed_at(error, self._DEDUP_ITEM):
                    earlier = self.find_ack(draft.sender_id, draft.client_message_id)
                    if earlier is not None:
                        return earlier, False
                if failed_at(error, self._MEMBER_ITEM):
                    raise NotAMember() from error
                self._sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 (jitter)
                continue
            return Ack(message.message_id, message.conversation_id, message.seq), True
        raise Conflict("Too many messages at once in this conversation; please retry.")

    def after(self, conversation_id: str, after_seq: int, limit: int) -> tuple[list[Message], bool]:
        """Up to ``limit`` messages with seq > ``after_seq`` in order, and whether more exist."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="conversationId = :c AND seq > :s",
            ExpressionAttributeValues={
                ":c": {"S": conversation_id},
                ":s": {"N": str(max(after_seq, self.HEAD_SEQ))},
            },
            Limit=limit + 1,
            ConsistentRead=True,
        )
        messages = [_message_from_item(item) for item in response.get("Items", [])]
        return messages[:limit], len(messages) > limit

    def heads(self, conversation_ids: Sequence[str]) -> dict[str, Head]:
        """The newest seq of each conversation that has messages."""
        keys = [_message_key(cid, self.HEAD_SEQ) for cid in conversation_ids]
        return {
            head.conversation_id: head
            for head in map(_head_from_item, batch_get(self._client, self._table, keys))
        }

    def get_many(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Message]:
        items = batch_get(self._client, self._table, [_message_key(c, s) for c, s in keys])
        return {(m.conversation_id, m.seq): m for m in map(_message_from_item, items)}

    def add_receipt(
        self, conversation_id: str, seq: int, user_id: str, kind: ReceiptKind
    ) -> Message | None:
        """Record that ``user_id`` got (or listened to) a message of someone else's; listening
        implies delivery. None when there is no such message or it is the user's own."""
        attributes = [RECEIPT_ATTRIBUTES[ReceiptKind.DELIVERED]]
        if kind is ReceiptKind.LISTENED:
            attributes.append(RECEIPT_ATTRIBUTES[ReceiptKind.LISTENED])
        return self._update_if(
            conversation_id,
            seq,
            "ADD " + ", ".join(f"{a} :u" for a in attributes),
            "attribute_exists(messageId) AND senderId <> :me",
            {":u": {"SS": [user_id]}, ":me": {"S": user_id}},
        )

    def get(self, conversation_id: str, seq: int) -> Message | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=_message_key(conversation_id, seq),
            ConsistentRead=True,
        ).get("Item")
        return _message_from_item(item) if item else None

    def withdraw(self, conversation_id: str, seq: int, reason: str) -> Message | None:
        """Keep the message (and its seq) but mark it withdrawn: its clip was rejected.
        Returns the withdrawn message, or None if there is no such message."""
        return self._update_if(
            conversation_id,
            seq,
            "SET withdrawn = :yes, withdrawReason = :why",
            "attribute_exists(messageId)",
            {":yes": {"BOOL": True}, ":why": {"S": reason}},
        )

    def _update_if(
        self, conversation_id: str, seq: int, update: str, condition: str, values: Item
    ) -> Message | None:
        """Update one message if ``condition`` holds: the message after, or None."""
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key=_message_key(conversation_id, seq),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        return _message_from_item(item)

    def _last_seq(self, conversation_id: str) -> int:
        item = self._client.get_item(
            TableName=self._table,
            Key=_message_key(conversation_id, self.HEAD_SEQ),
            ConsistentRead=True,
            ProjectionExpression="lastSeq",
        ).get("Item")
        return int(item["lastSeq"]["N"]) if item and "lastSeq" in item else 0

    def _append_items(self, message: Message, previous: int) -> list[TransactWriteItemTypeDef]:
        head_condition = "attribute_not_exists(lastSeq)" if previous == 0 else "lastSeq = :prev"
        head_values: Item = {
            ":next": {"N": str(message.seq)},
            ":at": {"S": iso_utc(message.sent_at)},
        }
        if previous:
            head_values[":prev"] = {"N": str(previous)}
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _message_key(message.conversation_id, self.HEAD_SEQ),
                    "UpdateExpression": "SET lastSeq = :next, lastMessageAt = :at",
                    "ConditionExpression": head_condition,
                    "ExpressionAttributeValues": head_values,
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _message_item(message),
                    "ConditionExpression": "attribute_not_exists(seq)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **_dedup_key(message.sender_id, message.client_message_id),
                        "messageId": {"S": message.message_id},
                        "messageConversationId": {"S": message.conversation_id},
                        "messageSeq": {"N": str(message.seq)},
                    },
                    "ConditionExpression": "attribute_not_exists(conversationId)",
                }
            },
            self._members.read_marker_update(
                message.conversation_id, message.sender_id, message.seq
            ),
        ]


def _dedup_key(sender_id: str, client_message_id: str) -> Item:
    return _message_key(f"dedup#{sender_id}#{client_message_id}", MessageStore.HEAD_SEQ)


def _message_key(conversation_id: str, seq: int) -> Item:
    return {"conversationId": {"S": conversation_id}, "seq": {"N": str(seq)}}


def _head_from_item(item: Item) -> Head:
    at = item.get("lastMessageAt", {}).get("S")
    return Head(
        conversation_id=item["conversationId"]["S"],
        last_seq=int(item.get("lastSeq", {}).get("N", "0")),
        last_message_at=parse_iso_utc(at) if at else None,
    )


def _ack_from_item(item: Item) -> Ack:
    return Ack(
        message_id=item["messageId"]["S"],
        conversation_id=item["messageConversationId"]["S"],
        seq=int(item["messageSeq"]["N"]),
    )


def _message_item(message: Message) -> Item:
    return {
        "conversationId": {"S": message.conversation_id},
        "seq": {"N": str(message.seq)},
        "messageId": {"S": message.message_id},
        "senderId": {"S": message.sender_id},
        "clipId": {"S": message.clip_id},
        "clientMessageId": {"S": message.client_message_id},
        "sentAt": {"S": iso_utc(message.sent_at)},
    }


def _message_from_item(item: Item) -> Message:
    return Message(
        conversation_id=item["conversationId"]["S"],
        seq=int(item["seq"]["N"]),
        message_id=item["messageId"]["S"],
        sender_id=item["senderId"]["S"],
        clip_id=item["clipId"]["S"],
        client_message_id=item["clientMessageId"]["S"],
        sent_at=parse_iso_utc(item["sentAt"]["S"]),
        withdrawn=bool(item.get("withdrawn", {}).get("BOOL", False)),
        delivered_to=frozenset(item.get("deliveredTo", {}).get("SS", [])),
        listened_by=frozenset(item.get("listenedBy", {}).get("SS", [])),
    )


class UserDirectory:
    """User profiles: by id, and by user name through the ``byUsername`` index."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, profile: UserProfile, now: datetime) -> None:
        self._client.put_item(TableName=self._table, Item=_profile_item(profile, now))

    def sign_up(self, profile: UserProfile, now: datetime) -> None:
        """A signed-in user with no profile gets this one. Reads first: almost every call
        finds the profile."""
        if self.get(profile.user_id) is None:
            self.ensure(profile, now)

    def ensure(self, profile: UserProfile, now: datetime) -> bool:
        """Write the profile unless the user has one: True when it is new."""
        return put_new(self._client, self._table, _profile_item(profile, now), "userId")

    def get(self, user_id: str) -> UserProfile | None:
        item = self._client.get_item(
            TableName=self._table, Key={"userId": {"S": user_id}}, ConsistentRead=True
        ).get("Item")
        return _profile_from_item(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, UserProfile]:
        """The profiles of these users that exist, in one batched read."""
        keys: list[Item] = [{"userId": {"S": user_id}} for user_id in user_ids]
        items = batch_get(self._client, self._table, keys) if keys else []
        return {p.user_id: p for p in map(_profile_from_item, items)}

    def by_username(self, username: str) -> UserProfile | None:
        items = self._client.query(
            TableName=self._table,
            IndexName=BY_USERNAME_INDEX,
            KeyConditionExpression="username = :u",
            ExpressionAttributeValues={":u": {"S": username}},
            Limit=1,
        ).get("Items", [])
        return _profile_from_item(items[0]) if items else None


def _profile_item(profile: UserProfile, now: datetime) -> Item:
    return {
        "userId": {"S": profile.user_id},
        "username": {"S": profile.username},
        "displayName": {"S": profile.display_name},
        # A moderator's decision sets it (verification.store); only "approved" may chat.
        "verification": {"S": APPROVED if profile.verified else UNVERIFIED},
        "createdAt": {"S": iso_utc(now)},
    }


def _profile_from_item(item: Item) -> UserProfile:
    return UserProfile(
        user_id=item["userId"]["S"],
        username=item["username"]["S"],
        display_name=item.get("displayName", {}).get("S", item["username"]["S"]),
        verified=item.get("verification", {}).get("S") == APPROVED,
    )
