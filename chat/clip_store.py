"""Clip records in DynamoDB and clip files in S3. The only I/O of clips."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chat.model import Clip, ClipStatus, UploadGrant
from common.clock import iso_utc, parse_iso_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_s3 import S3Client

Item = dict[str, "AttributeValueTypeDef"]
_BATCH_GET_LIMIT = 100


class ClipStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, clip: Clip) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=_clip_item(clip),
            ConditionExpression="attribute_not_exists(clipId)",
        )

    def get(self, clip_id: str) -> Clip | None:
        item = self._client.get_item(
            TableName=self._table, Key={"clipId": {"S": clip_id}}, ConsistentRead=True
        ).get("Item")
        return _clip_from_item(item) if item else None

    def get_many(self, clip_ids: Iterable[str]) -> dict[str, Clip]:
        ids = list(dict.fromkeys(clip_ids))
        found: dict[str, Clip] = {}
        for start in range(0, len(ids), _BATCH_GET_LIMIT):
            keys = [{"clipId": {"S": cid}} for cid in ids[start : start + _BATCH_GET_LIMIT]]
            pending: Mapping[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table, []):
                    clip = _clip_from_item(item)
                    found[clip.clip_id] = clip
                pending = response.get("UnprocessedKeys") or {}
        return found


def _clip_item(clip: Clip) -> Item:
    item: Item = {
        "clipId": {"S": clip.clip_id},
        "ownerId": {"S": clip.owner_id},
        "contentType": {"S": clip.content_type},
        "declaredSize": {"N": str(clip.declared_size)},
        "status": {"S": clip.status.value},
        "createdAt": {"S": iso_utc(clip.created_at)},
        "key": {"S": clip.key},
    }
    if clip.duration_ms is not None:
        item["durationMs"] = {"N": str(clip.duration_ms)}
    if clip.waveform is not None:
        item["waveform"] = {"B": bytes(clip.waveform)}
    return item


def _clip_from_item(item: Item) -> Clip:
    waveform = item.get("waveform", {}).get("B")
    duration = item.get("durationMs", {}).get("N")
    return Clip(
        clip_id=item["clipId"]["S"],
        owner_id=item["ownerId"]["S"],
        content_type=item["contentType"]["S"],
        declared_size=int(item["declaredSize"]["N"]),
        status=ClipStatus(item["status"]["S"]),
        created_at=parse_iso_utc(item["createdAt"]["S"]),
        key=item["key"]["S"],
        duration_ms=None if duration is None else int(duration),
        waveform=None if waveform is None else tuple(bytes(waveform)),
    )


class ClipFiles:
    """Clip bytes in S3, reached by clients only through presigned, short-lived URLs."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def upload_grant(
        self, clip_id: str, key: str, content_type: str, max_bytes: int, ttl_seconds: int
    ) -> UploadGrant:
        """A presigned POST that can write exactly ``key``, of this type, up to ``max_bytes``."""
        post = self._client.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=ttl_seconds,
        )
        return UploadGrant(clip_id=clip_id, url=post["url"], fields=post["fields"])

    def stored_size(self, key: str) -> int | None:
        """The size of the stored object, or None when nothing was uploaded."""
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return int(head["ContentLength"])

    def download_url(self, key: str, ttl_seconds: int) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl_seconds
        )
