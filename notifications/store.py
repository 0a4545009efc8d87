"""The devices table: a user's devices, mutes, do-not-disturb and welcome, under the user's id.

One partition per user, so everything a push depends on is one query. Sort keys:
``device#<deviceId>``, ``mute#<conversationId>``, ``dnd``, ``welcome``. Device items carry
``endpointArn``, indexed by ``byEndpoint`` (sparse: only devices have it), so the holder of an
endpoint is found when a phone changes hands.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chat.dynamo import Item, is_condition_failure, put_new
from common.clock import iso_utc, parse_iso_utc
from notifications.model import Device, Pause, Platform, Preferences, Recipient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_ENDPOINT_INDEX = "byEndpoint"
DEVICE = "device#"
MUTE = "mute#"
DND = "dnd"
WELCOME = "welcome"
WELCOME_PENDING = "pending"
WELCOME_SENT = "sent"


class DeviceStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def recipient(self, user_id: str) -> Recipient:
        """Devices, mutes, do-not-disturb and the welcome state, in one (paginated) query."""
        devices: list[Device] = []
        muted: dict[str, Pause] = {}
        dnd: Pause | None = None
        welcome_pending = False
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="userId = :u",
            ExpressionAttributeValues={":u": {"S": user_id}},
            ConsistentRead=True,
        )
        for item in (item for page in pages for item in page.get("Items", [])):
            sk = item["sk"]["S"]
            if sk.startswith(DEVICE):
                devices.append(_device_from_item(item))
            elif sk.startswith(MUTE):
                muted[sk.removeprefix(MUTE)] = _pause_from_item(item)
            elif sk == DND:
                dnd = _pause_from_item(item)
            elif sk == WELCOME:
                welcome_pending = item.get("status", {}).get("S") == WELCOME_PENDING
        return Recipient(user_id, tuple(devices), Preferences(muted, dnd), welcome_pending)

    def get_device(self, user_id: str, device_id: str) -> Device | None:
        item = self._client.get_item(
            TableName=self._table, Key=_key(user_id, DEVICE + device_id), ConsistentRead=True
        ).get("Item")
        return _device_from_item(item) if item else None

    def put_device(self, device: Device) -> None:
        self._client.put_item(TableName=self._table, Item=_device_item(device))

    def delete_device(self, user_id: str, device_id: str) -> Device | None:
        old = self._client.delete_item(
            TableName=self._table, Key=_key(user_id, DEVICE + device_id), ReturnValues="ALL_OLD"
        ).get("Attributes")
        return _device_from_item(old) if old else None

    def holders_of(self, endpoint_arn: str) -> list[tuple[str, str]]:
        """(user id, device id) of every device record that uses this endpoint."""
        items = self._client.query(
            TableName=self._table,
            IndexName=BY_ENDPOINT_INDEX,
            KeyConditionExpression="endpointArn = :e",
            ExpressionAttributeValues={":e": {"S": endpoint_arn}},
        ).get("Items", [])
        return [(i["userId"]["S"], i["sk"]["S"].removeprefix(DEVICE)) for i in items]

    def set_mute(self, user_id: str, conversation_id: str, pause: Pause | None) -> None:
        """``None`` unmutes."""
        self._set_pause(user_id, MUTE + conversation_id, pause)

    def set_do_not_disturb(self, user_id: str, pause: Pause | None) -> None:
        """``None`` turns it off."""
        self._set_pause(user_id, DND, pause)

    def expect_welcome(self, user_id: str, now: datetime) -> bool:
        """Note that this user is owed a welcome; False when it was noted (or sent) before."""
        item: Item = {
            **_key(user_id, WELCOME),
            "status": {"S": WELCOME_PENDING},
            "at": {"S": iso_utc(now)},
        }
        return put_new(self._client, self._table, item, "userId")

    def claim_welcome(self, user_id: str, now: datetime) -> bool:
        """Take the pending welcome for sending; exactly one caller ever gets True."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(user_id, WELCOME),
                UpdateExpression="SET #s = :sent, sentAt = :now",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":sent": {"S": WELCOME_SENT},
                    ":pending": {"S": WELCOME_PENDING},
                    ":now": {"S": iso_utc(now)},
                },
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def _set_pause(self, user_id: str, sk: str, pause: Pause | None) -> None:
        if pause is None:
            self._client.delete_item(TableName=self._table, Key=_key(user_id, sk))
            return
        item = _key(user_id, sk)
        if pause.until is not None:
            item["until"] = {"S": iso_utc(pause.until)}
        self._client.put_item(TableName=self._table, Item=item)


def _key(user_id: str, sk: str) -> Item:
    return {"userId": {"S": user_id}, "sk": {"S": sk}}


def _device_item(device: Device) -> Item:
    return {
        **_key(device.user_id, DEVICE + device.device_id),
        "platform": {"S": device.platform.value},
        "token": {"S": device.token},
        "appVersion": {"S": device.app_version},
        "endpointArn": {"S": device.endpoint_arn},
        "registeredAt": {"S": iso_utc(device.registered_at)},
    }


def _device_from_item(item: Item) -> Device:
    return Device(
        user_id=item["userId"]["S"],
        device_id=item["sk"]["S"].removeprefix(DEVICE),
        platform=Platform(item["platform"]["S"]),
        token=item["token"]["S"],
        app_version=item.get("appVersion", {}).get("S", ""),
        endpoint_arn=item["endpointArn"]["S"],
        registered_at=parse_iso_utc(item["registeredAt"]["S"]),
    )


def _pause_from_item(item: Item) -> Pause:
    until = item.get("until", {}).get("S")
    return Pause(parse_iso_utc(until) if until else None)
