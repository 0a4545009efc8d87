"""Blocks and reports in DynamoDB: the only I/O of these."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chat.dynamo import Item, is_condition_failure
from chat.model import Report
from common.clock import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_BLOCKED_INDEX = "byBlocked"
BY_STATUS_INDEX = "byStatus"
OPEN = "open"


class BlockStore:
    """``(blockerId, blockedId)`` items; the ``byBlocked`` index answers "who blocked X"."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def block(self, blocker_id: str, blocked_id: str, now: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **self._key(blocker_id, blocked_id),
                "createdAt": {"S": iso_utc(now)},
            },
        )

    def unblock(self, blocker_id: str, blocked_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(blocker_id, blocked_id))

    def has_blocked(self, blocker_id: str, blocked_id: str) -> bool:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(blocker_id, blocked_id), ConsistentRead=True
        ).get("Item")
        return item is not None

    def blocked_by(self, blocker_id: str) -> set[str]:
        """Everyone ``blocker_id`` has blocked."""
        return self._query("blockerId", blocker_id, "blockedId")

    def blockers_of(self, blocked_id: str) -> set[str]:
        """Everyone who has blocked ``blocked_id``."""
        return self._query("blockedId", blocked_id, "blockerId", index=BY_BLOCKED_INDEX)

    def _query(self, key: str, value: str, wanted: str, index: str | None = None) -> set[str]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            **({"IndexName": index} if index else {}),  # type: ignore[arg-type]
            KeyConditionExpression=f"{key} = :v",
            ExpressionAttributeValues={":v": {"S": value}},
        )
        return {item[wanted]["S"] for page in pages for item in page.get("Items", [])}

    @staticmethod
    def _key(blocker_id: str, blocked_id: str) -> Item:
        return {"blockerId": {"S": blocker_id}, "blockedId": {"S": blocked_id}}


class ReportStore:
    """Reported messages, open until a moderator settles them (index ``byStatus``)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, report: Report) -> bool:
        """Store the report; False when the same user already reported the same message."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_report_item(report),
                ConditionExpression="attribute_not_exists(reportId)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def open_reports(self, limit: int = 100) -> list[Item]:
        """The oldest open reports first: the moderators' queue."""
        return self._client.query(
            TableName=self._table,
            IndexName=BY_STATUS_INDEX,
            KeyConditionExpression="#status = :open",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":open": {"S": OPEN}},
            Limit=limit,
        ).get("Items", [])


def _report_item(report: Report) -> Item:
    return {
        "reportId": {"S": report.report_id},
        "reporterId": {"S": report.reporter_id},
        "conversationId": {"S": report.conversation_id},
        "seq": {"N": str(report.seq)},
        "messageId": {"S": report.message_id},
        "senderId": {"S": report.sender_id},
        "clipId": {"S": report.clip_id},
        "reason": {"S": report.reason},
        "status": {"S": OPEN},
        "createdAt": {"S": iso_utc(report.created_at)},
    }
