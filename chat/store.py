"""Conversations, members, messages and user profiles in DynamoDB. The only I/O of these."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chat.model import Ack, Message, UserProfile
from common.clock import iso_utc, parse_iso_utc
from common.errors import Conflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

Item = dict[str, "AttributeValueTypeDef"]

META = "#meta"
MEMBER_PREFIX = "member#"
BY_USER_INDEX = "byUser"
BY_USERNAME_INDEX = "byUsername"
_FAILED = "ConditionalCheckFailed"


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def _is_cancelled_transaction(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "TransactionCanceledException"


class ConversationStore:
    """A conversation item (``#meta``) and one item per member, indexed by user."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def ensure_direct(self, conversation_id: str, members: tuple[str, str], now: datetime) -> None:
        """Create the 1:1 conversation unless it exists; racing creators end with one."""
        conversation: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "conversationId": {"S": conversation_id},
                    "sk": {"S": META},
                    "kind": {"S": "direct"},
                    "createdAt": {"S": iso_utc(now)},
                },
                "ConditionExpression": "attribute_not_exists(conversationId)",
            }
        }
        member_puts: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": _member_item(conversation_id, m, now)}}
            for m in members
        ]
        try:
            self._client.transact_write_items(TransactItems=[conversation, *member_puts])
        except ClientError as error:
            if not _is_cancelled_transaction(error) or _cancellation_codes(error)[:1] != [_FAILED]:
                raise

    def is_member(self, conversation_id: str, user_id: str) -> bool:
        item = self._client.get_item(
            TableName=self._table,
            Key={"conversationId": {"S": conversation_id}, "sk": {"S": MEMBER_PREFIX + user_id}},
            ConsistentRead=True,
            ProjectionExpression="userId",
        ).get("Item")
        return item is not None

    def member_ids(self, conversation_id: str) -> list[str]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="conversationId = :c AND begins_with(sk, :m)",
            ExpressionAttributeValues={":c": {"S": conversation_id}, ":m": {"S": MEMBER_PREFIX}},
            ProjectionExpression="userId",
        )
        return [item["userId"]["S"] for page in pages for item in page.get("Items", [])]


def _member_item(conversation_id: str, user_id: str, now: datetime) -> Item:
    return {
        "conversationId": {"S": conversation_id},
        "sk": {"S": MEMBER_PREFIX + user_id},
        "userId": {"S": user_id},
        "role": {"S": "member"},
        "joinedAt": {"S": iso_utc(now)},
    }


class MessageStore:
    """Messages keyed by (conversation, seq).

    Seq numbers and idempotency live here too, so one transaction decides both: the head item
    (seq 0) holds ``lastSeq``, and ``dedup#<sender>#<clientMessageId>`` (seq 0) remembers the
    ack of every message ever accepted. A racing sender makes the head's condition fail and
    retries with the next seq; a racing retry makes the dedup condition fail and gets the ack
    the winner stored. Seqs therefore have no gaps and no message is stored twice.
    """

    HEAD_SEQ = 0
    MAX_ATTEMPTS = 8
    _DEDUP_ITEM = 2  # position of the dedup Put in the transaction

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
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
                if not _is_cancelled_transaction(error):
                    raise
                codes = _cancellation_codes(error)
                if len(codes) > self._DEDUP_ITEM and codes[self._DEDUP_ITEM] == _FAILED:
                    earlier = self.find_ack(draft.sender_id, draft.client_message_id)
                    if earlier is not None:
                        return earlier, False
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

    def get(self, conversation_id: str, seq: int) -> Message | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"conversationId": {"S": conversation_id}, "seq": {"N": str(seq)}},
            ConsistentRead=True,
        ).get("Item")
        return _message_from_item(item) if item else None

    def withdraw(self, conversation_id: str, seq: int, reason: str) -> Message | None:
        """Keep the message (and its seq) but mark it withdrawn: its clip was rejected.
        Returns the withdrawn message, or None if there is no such message."""
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key={"conversationId": {"S": conversation_id}, "seq": {"N": str(seq)}},
                UpdateExpression="SET withdrawn = :yes, withdrawReason = :why",
                ConditionExpression="attribute_exists(messageId)",
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":why": {"S": reason}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return _message_from_item(item)

    def _last_seq(self, conversation_id: str) -> int:
        item = self._client.get_item(
            TableName=self._table,
            Key={"conversationId": {"S": conversation_id}, "seq": {"N": str(self.HEAD_SEQ)}},
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
                    "Key": {
                        "conversationId": {"S": message.conversation_id},
                        "seq": {"N": str(self.HEAD_SEQ)},
                    },
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
        ]


def _dedup_key(sender_id: str, client_message_id: str) -> Item:
    return {
        "conversationId": {"S": f"dedup#{sender_id}#{client_message_id}"},
        "seq": {"N": str(MessageStore.HEAD_SEQ)},
    }


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
    )


class UserDirectory:
    """User profiles: by id, and by user name through the ``byUsername`` index."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, profile: UserProfile, now: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "userId": {"S": profile.user_id},
                "username": {"S": profile.username},
                "displayName": {"S": profile.display_name},
                "createdAt": {"S": iso_utc(now)},
            },
        )

    def get(self, user_id: str) -> UserProfile | None:
        item = self._client.get_item(
            TableName=self._table, Key={"userId": {"S": user_id}}, ConsistentRead=True
        ).get("Item")
        return _profile_from_item(item) if item else None

    def by_username(self, username: str) -> UserProfile | None:
        items = self._client.query(
            TableName=self._table,
            IndexName=BY_USERNAME_INDEX,
            KeyConditionExpression="username = :u",
            ExpressionAttributeValues={":u": {"S": username}},
            Limit=1,
        ).get("Items", [])
        return _profile_from_item(items[0]) if items else None


def _profile_from_item(item: Item) -> UserProfile:
    return UserProfile(
        user_id=item["userId"]["S"],
        username=item["username"]["S"],
        display_name=item.get("displayName", {}).get("S", item["username"]["S"]),
    )
