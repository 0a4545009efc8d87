"""S3 helpers every package's store shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
