"""The private selfies bucket: the only code that touches selfie objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

from common.s3 import presigned_upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


SELFIE_KEY_PARTS = 3


def selfie_key(user_id: str, selfie_id: str) -> str:
    """Each user's selfies under their own prefix; the presigned POST pins the whole key."""
    return f"selfies/{user_id}/{selfie_id}"


class SelfieTooLarge(Exception):
    """The stored object is larger than a selfie may be (storage may not enforce the grant)."""


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

    def read(self, key: str, max_bytes: int) -> bytes:
        """The object's bytes, refusing to read more than ``max_bytes``."""
        body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"]
        try:
            data = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:
            raise SelfieTooLarge(key)
        return data

    def view_url(self, key: str, ttl_seconds: int) -> str:
        """A presigned GET for a moderator, valid for ``ttl_seconds``."""
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl_seconds
        )

    def delete(self, key: str) -> None:
        """Gone for good: selfies are not kept once they are not needed."""
        self._client.delete_object(Bucket=self._bucket, Key=key)

    @property
    def bucket(self) -> str:
        return self._bucket


def selfie_owner(key: str) -> str | None:
    """The user a selfie's key belongs to (``selfies/<user id>/<selfie id>``), else None."""
    parts = key.split("/")
    if len(parts) != SELFIE_KEY_PARTS or parts[0] != "selfies" or not all(parts[1:]):
        return None
    return parts[1]
