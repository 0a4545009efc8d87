"""Cases and their audit trail in DynamoDB: the only I/O of these.

Every change of a case is one transaction: the case, conditioned on the version that was read
(so two moderators cannot both decide it), and its audit entry, conditioned on not existing
(entries are written once and never changed). The store offers no way to update or delete an
audit entry; ``serverless.yml`` denies those calls to every role as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chat.dynamo import Item, failed_at, is_cancelled_transaction, put_new
from common.clock import iso_utc, parse_iso_utc
from common.errors import NotFound
from verification.errors import CaseChanged
from verification.model import AuditEntry, Case, CaseState, RetryReason, Screening

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

BY_STATE_INDEX = "byState"  # state + submittedAt: the moderators' queue, oldest first
_CASE_ITEM, _AUDIT_ITEM = 0, 1  # positions in the change transaction


class AuditEntryExists(Exception):
    """An audit entry with this key was written before: entries are never overwritten."""


class CaseStore:
    def __init__(
        self, client: DynamoDBClient, cases_table: str, audit_table: str, users_table: str
    ) -> None:
        self._client = client
        self._cases = cases_table
        self._audit = audit_table
        self._users = users_table

    def get(self, user_id: str) -> Case | None:
        item = self._client.get_item(
            TableName=self._cases, Key={"userId": {"S": user_id}}, ConsistentRead=True
        ).get("Item")
        return _case_from_item(item) if item else None

    def open(self, case: Case) -> bool:
        """Start a user's case; False when they have one already."""
        return put_new(self._client, self._cases, _case_item(case), "userId")

    def case_of(self, user_id: str, now: datetime) -> Case:
        """The user's case, opened (unverified) if they have none yet."""
        case = self.get(user_id)
        if case is not None:
            return case
        fresh = Case(user_id, CaseState.UNVERIFIED, now)
        if self.open(fresh):
            return fresh
        raced = self.get(user_id)  # opened meanwhile by a concurrent request
        assert raced is not None
        return raced

    def change(self, case: Case, read_version: int, entry: AuditEntry | None = None) -> None:
        """Store ``case`` if it is still at ``read_version``, with its audit entry and, for a
        decision, the verification state on the user's profile, atomically. Raises CaseChanged when another
        change came first, AuditEntryExists on a rewrite, NotFound for a user with no profile."""
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._cases,
                    "Item": _case_item(case),
                    "ConditionExpression": "version = :read",
                    "ExpressionAttributeValues": {":read": {"N": str(read_version)}},
                }
            }
        ]
        if entry is not None:
            items.append(self._append(entry))
        if case.state.final:
            items.append(self._profile_state(case.user_id, case.state))
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not is_cancelled_transaction(error):
                raise
            if failed_at(error, _CASE_ITEM):
                raise CaseChanged() from error
            if entry is not None and failed_at(error, _AUDIT_ITEM):
                raise AuditEntryExists(entry.user_id) from error
            raise NotFound("That user has no profile.") from error

    def queue(
        self, limit: int, after: tuple[datetime, str] | None = None
    ) -> tuple[list[Case], tuple[datetime, str] | None]:
        """Cases waiting for a moderator, oldest first; and where the next page starts."""
        request: dict[str, object] = {}
        if after is not None:
            at, user_id = after
            request["ExclusiveStartKey"] = {
                "userId": {"S": user_id},
                "state": {"S": CaseState.PENDING_REVIEW.value},
                "submittedAt": {"S": iso_utc(at)},
            }
        response = self._client.query(
            TableName=self._cases,
            IndexName=BY_STATE_INDEX,
            KeyConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":pending": {"S": CaseState.PENDING_REVIEW.value}},
            ScanIndexForward=True,
            Limit=limit,
            **request,  # type: ignore[arg-type]
        )
        cases = [_case_from_item(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        following = (parse_iso_utc(last["submittedAt"]["S"]), last["userId"]["S"]) if last else None
        return cases, following

    def history(self, user_id: str) -> list[AuditEntry]:
        """The case's audit trail, oldest first."""
        pages = self._client.get_paginator("query").paginate(
            TableName=self._audit,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ConsistentRead=True,
        )
        return [_entry_from_item(item) for page in pages for item in page.get("Items", [])]

    def _profile_state(self, user_id: str, state: CaseState) -> TransactWriteItemTypeDef:
        """The profile's verification state, which the chat gate reads: written with the
        decision, in the same transaction."""
        return {
            "Update": {
                "TableName": self._users,
                "Key": {"userId": {"S": user_id}},
                "UpdateExpression": "SET verification = :state",
                "ConditionExpression": "attribute_exists(userId)",
                "ExpressionAttributeValues": {":state": {"S": state.value}},
            }
        }

    def _append(self, entry: AuditEntry) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._audit,
                "Item": _entry_item(entry),
                "ConditionExpression": "attribute_not_exists(userId)",
            }
        }


def _case_item(case: Case) -> Item:
    item: Item = {
        "userId": {"S": case.user_id},
        "state": {"S": case.state.value},
        "updatedAt": {"S": iso_utc(case.updated_at)},
        "version": {"N": str(case.version)},
        "appealed": {"BOOL": case.appealed},
    }
    optional = {
        "selfieKey": case.selfie_key,
        "selfieSha256": case.selfie_sha256,
        "decidedBy": case.decided_by,
        "reason": case.reason,
        "submittedAt": iso_utc(case.submitted_at) if case.submitted_at else None,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value})
    if case.screening is not None:
        item["screening"] = {"M": _screening_item(case.screening)}
    return item


def _case_from_item(item: Item) -> Case:
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    screening = item.get("screening", {}).get("M")
    return Case(
        user_id=text["userId"],
        state=CaseState(text["state"]),
        updated_at=parse_iso_utc(text["updatedAt"]),
        version=int(item["version"]["N"]),
        selfie_key=text.get("selfieKey"),
        selfie_sha256=text.get("selfieSha256"),
        screening=_screening_from_item(screening) if screening else None,
        submitted_at=parse_iso_utc(text["submittedAt"]) if "submittedAt" in text else None,
        appealed=bool(item.get("appealed", {}).get("BOOL", False)),
        decided_by=text.get("decidedBy"),
        reason=text.get("reason"),
    )


def _screening_item(screening: Screening) -> Item:
    item: Item = {"state": {"S": screening.state.value}, "faces": {"N": str(screening.faces)}}
    if screening.reason is not None:
        item["reason"] = {"S": screening.reason.value}
    for name, value in (("brightness", screening.brightness), ("sharpness", screening.sharpness)):
        if value is not None:
            item[name] = {"N": f"{value:.2f}"}
    return item


def _screening_from_item(item: Mapping[str, Any]) -> Screening:
    def number(name: str) -> float | None:
        return float(item[name]["N"]) if name in item else None

    reason = item.get("reason", {}).get("S")
    return Screening(
        state=CaseState(item["state"]["S"]),
        reason=RetryReason(reason) if reason else None,
        faces=int(item["faces"]["N"]),
        brightness=number("brightness"),
        sharpness=number("sharpness"),
    )


def _entry_item(entry: AuditEntry) -> Item:
    item: Item = {
        "userId": {"S": entry.user_id},
        "sk": {"S": f"{entry.version:08d}"},  # one entry per version of the case, in order
        "at": {"S": iso_utc(entry.at)},
        "actor": {"S": entry.actor},
        "action": {"S": entry.action},
        "previous": {"S": entry.previous.value},
        "state": {"S": entry.state.value},
    }
    if entry.reason:
        item["reason"] = {"S": entry.reason}
    return item


def _entry_from_item(item: Item) -> AuditEntry:
    return AuditEntry(
        user_id=item["userId"]["S"],
        at=parse_iso_utc(item["at"]["S"]),
        actor=item["actor"]["S"],
        action=item["action"]["S"],
        previous=CaseState(item["previous"]["S"]),
        state=CaseState(item["state"]["S"]),
        version=int(item["sk"]["S"]),
        reason=item.get("reason", {}).get("S"),
    )
