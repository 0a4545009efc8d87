"""The private selfies bucket: the only code that touches selfie objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.s3 import presigned_upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def selfie_key(user_id: str, selfie_id: str) -> str:
    """Each user's selfies under their own prefix; the presigned POST pins the whole key."""
    return f"selfies/{user_id}/{selfie_id}"


class SelfieFiles:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def upload_grant(
        self, key: str, content_type: str, max_bytes: int, ttl_seconds: int
    ) -> tuple[str, dict[str, str]]:
        return presigned_upload(
            self._client,
            self._bucket,
            key,
            content_type=content_type,
            max_bytes=max_bytes,
            ttl_seconds=ttl_seconds,
        )
