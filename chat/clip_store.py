"""Clip records in DynamoDB and clip files in S3. The only I/O of clips."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chat.model import (
    OPUS_CONTENT_TYPE,
    Clip,
    ClipStatus,
    PendingDelivery,
    ProcessedClip,
    UploadGrant,
)
from common.clock import epoch_seconds, iso_utc, parse_iso_utc
from common.s3 import presigned_upload

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_s3 import S3Client

Item = dict[str, "AttributeValueTypeDef"]
_BATCH_GET_LIMIT = 100
_UNFINISHED = (ClipStatus.AWAITING_UPLOAD, ClipStatus.UPLOADED, ClipStatus.PROCESSING)
PROCESSED_CACHE_CONTROL = "public, max-age=31536000, immutable"


class Claim(Enum):
    CLAIMED = "claimed"  # this processor holds the lease now
    FINISHED = "finished"  # ready or rejected already: a duplicate event
    BUSY = "busy"  # another processor holds a live lease: try again later
    UNKNOWN = "unknown"  # no such clip


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


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

    def note_upload(self, clip_id: str, etag: str, size: int, now: datetime) -> None:
        """The file arrived (awaiting_upload -> uploaded); a repeat of the event changes nothing."""
        self._update_if(
            clip_id,
            "SET #s = :uploaded, rawEtag = :e, rawSize = :z, uploadedAt = :t",
            "#s = :awaiting",
            {
                ":uploaded": {"S": ClipStatus.UPLOADED.value},
                ":awaiting": {"S": ClipStatus.AWAITING_UPLOAD.value},
                ":e": {"S": etag},
                ":z": {"N": str(size)},
                ":t": {"S": iso_utc(now)},
            },
        )

    def claim(
        self, clip_id: str, now: datetime, lease_until: datetime
    ) -> tuple[Claim, Clip | None]:
        """Take the processing lease (uploaded -> processing), or take over an expired one."""
        item = self._update_if(
            clip_id,
            "SET #s = :processing, leaseUntil = :until",
            "#s = :uploaded OR (#s = :processing AND leaseUntil < :now)",
            {
                ":processing": {"S": ClipStatus.PROCESSING.value},
                ":uploaded": {"S": ClipStatus.UPLOADED.value},
                ":until": {"N": str(epoch_seconds(lease_until))},
                ":now": {"N": str(epoch_seconds(now))},
            },
        )
        if item is not None:
            return Claim.CLAIMED, _clip_from_item(item)
        current = self.get(clip_id)
        if current is None:
            return Claim.UNKNOWN, None
        finished = current.status in (ClipStatus.READY, ClipStatus.REJECTED)
        return (Claim.FINISHED if finished else Claim.BUSY), current

    def add_pending(self, clip_id: str, pending: PendingDelivery) -> bool:
        """Remember a message to deliver when the clip is ready; False once it is finished."""
        unfinished: Item = {f":s{i}": {"S": status.value} for i, status in enumerate(_UNFINISHED)}
        applied = self._update_if(
            clip_id,
            "SET pending = list_append(if_not_exists(pending, :none), :p)",
            f"#s IN ({', '.join(unfinished)})",
            {":none": {"L": []}, ":p": {"L": [{"M": _pending_item(pending)}]}, **unfinished},
        )
        return applied is not None

    def _update_if(
        self, clip_id: str, update: str, condition: str, values: Item
    ) -> dict[str, Any] | None:
        """Apply ``update`` if ``condition`` holds: the item as it is now, or None if it did not."""
        try:
            return dict(
                self._client.update_item(
                    TableName=self._table,
                    Key={"clipId": {"S": clip_id}},
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise

    def finish(
        self, clip: Clip, processed: ProcessedClip | None, reason: str | None
    ) -> tuple[Clip, list[PendingDelivery]]:
        """processing -> ready (with ``processed``) or rejected (with ``reason``); returns the
        finished clip and the messages that were waiting for it, taken in the same write."""
        if processed is not None:
            finished = dataclasses.replace(
                clip,
                status=ClipStatus.READY,
                processed_key=processed.key,
                duration_ms=processed.duration_ms,
                waveform=processed.waveform,
            )
        else:
            finished = dataclasses.replace(clip, status=ClipStatus.REJECTED, reject_reason=reason)
        item = _clip_item(finished)
        names = {f"#{i}": name for i, name in enumerate(k for k in item if k != "clipId")}
        sets = ", ".join(f"{alias} = :{alias[1:]}" for alias in names)
        old = self._client.update_item(
            TableName=self._table,
            Key={"clipId": {"S": clip.clip_id}},
            UpdateExpression=f"SET {sets} REMOVE pending, leaseUntil",
            ConditionExpression="#s = :processing",
            ExpressionAttributeNames={**names, "#s": "status"},
            ExpressionAttributeValues={
                **{f":{alias[1:]}": item[name] for alias, name in names.items()},
                ":processing": {"S": ClipStatus.PROCESSING.value},
            },
            ReturnValues="ALL_OLD",
        )["Attributes"]
        waiting = [_pending_from_item(entry["M"]) for entry in old.get("pending", {}).get("L", [])]
        return finished, waiting

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
    if clip.processed_key is not None:
        item["processedKey"] = {"S": clip.processed_key}
    if clip.reject_reason is not None:
        item["rejectReason"] = {"S": clip.reject_reason}
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
        processed_key=item.get("processedKey", {}).get("S"),
        reject_reason=item.get("rejectReason", {}).get("S"),
    )


def _pending_item(pending: PendingDelivery) -> Item:
    return {
        "conversationId": {"S": pending.conversation_id},
        "seq": {"N": str(pending.seq)},
        "connectionId": {"S": pending.sender_connection_id},
        "apiEndpoint": {"S": pending.api_endpoint},
    }


def _pending_from_item(item: Mapping[str, Any]) -> PendingDelivery:
    return PendingDelivery(
        conversation_id=item["conversationId"]["S"],
        seq=int(item["seq"]["N"]),
        sender_connection_id=item["connectionId"]["S"],
        api_endpoint=item["apiEndpoint"]["S"],
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
        url, fields = presigned_upload(
            self._client,
            self._bucket,
            key,
            content_type=content_type,
            max_bytes=max_bytes,
            ttl_seconds=ttl_seconds,
        )
        return UploadGrant(clip_id=clip_id, url=url, fields=fields)

    def download(self, key: str, target: Path, max_bytes: int) -> int:
        """Copy the object to ``target``, refusing to read more than ``max_bytes``; its size."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        written = 0
        with target.open("wb") as out:
            for chunk in body.iter_chunks(chunk_size=256 * 1024):
                written += len(chunk)
                if written > max_bytes:
                    break
                out.write(chunk)
        body.close()
        return written

    def put_processed(self, key: str, source: Path) -> None:
        """Our encoder's output only, cacheable for ever (its key never changes content)."""
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=source.read_bytes(),
            ContentType=OPUS_CONTENT_TYPE,
            CacheControl=PROCESSED_CACHE_CONTROL,
        )

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

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
