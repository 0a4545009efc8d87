"""S3 helpers every package's store shares."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def presigned_upload(
    client: S3Client, bucket: str, key: str, *, content_type: str, max_bytes: int, ttl_seconds: int
) -> tuple[str, dict[str, str]]:
    """A presigned POST (url, form fields) that can write exactly ``key``, of this type, up to
    ``max_bytes``. Storage may not enforce the policy (moto does not): check after upload."""
    post = client.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=ttl_seconds,
    )
    return post["url"], post["fields"]


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int
    etag: str


def uploads_in(body: str) -> list[UploadedObject]:
    """The created objects an SQS message from S3 names (none for S3's ``s3:TestEvent``)."""
    document = json.loads(body)
    if "Records" not in document:
        return []
    return [
        UploadedObject(
            bucket=record.s3.bucket.name,
            key=unquote_plus(record.s3.get_object.key),
            size=int(record.s3.get_object.size),
            etag=record.s3.get_object.etag,
        )
        for record in S3Event(document).records
        if record.event_name.startswith("ObjectCreated")
    ]
