"""Rekognition, the only code that talks to it: DetectFaces on a selfie in S3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from verification.model import Face
from verification.policy import faces_in

if TYPE_CHECKING:
    from mypy_boto3_rekognition import RekognitionClient
    from mypy_boto3_rekognition.literals import AttributeType

# What screening reads, and nothing more: never GENDER (nor ALL, which includes it).
ATTRIBUTES: list[AttributeType] = ["DEFAULT", "EYES_OPEN", "SUNGLASSES", "FACE_OCCLUDED"]


class UnreadableImage(Exception):
    """Rekognition cannot read the file as an image (not JPEG or PNG, too large, unreadable)."""


class FaceDetector:
    def __init__(self, client: RekognitionClient) -> None:
        self._client = client

    def detect(self, bucket: str, key: str) -> list[Face]:
        errors = self._client.exceptions
        try:
            response = self._client.detect_faces(
                Image={"S3Object": {"Bucket": bucket, "Name": key}}, Attributes=ATTRIBUTES
            )
        except (
            errors.InvalidImageFormatException,
            errors.ImageTooLargeException,
            errors.InvalidS3ObjectException,
        ) as error:
            raise UnreadableImage(type(error).__name__) from error
        return faces_in(response)
