"""A stand-in for Rekognition's ``DetectFaces``, locally: moto has none.

It speaks the real JSON protocol on its own port, so the screener's boto3 client, the adapter
and the policy run unchanged (only ``AWS_ENDPOINT_URL_REKOGNITION`` differs). It reads the
object from the local S3 and answers like Rekognition: ``InvalidImageFormatException`` for what
is not a JPEG or PNG, else one clear, frontal face. It does not look at faces: screening's rules
are tested on real-shaped answers; here a person trying Sotto gets their selfie into the
moderators' queue.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JSON_TYPE = "application/x-amz-json-1.1"
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")

ONE_CLEAR_FACE: dict[str, Any] = {
    "BoundingBox": {"Width": 0.42, "Height": 0.53, "Left": 0.29, "Top": 0.18},
    "Landmarks": [],
    "Pose": {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0},
    "Quality": {"Brightness": 70.0, "Sharpness": 80.0},
    "Confidence": 99.9,
    "EyesOpen": {"Value": True, "Confidence": 99.0},
    "Sunglasses": {"Value": False, "Confidence": 99.0},
    "FaceOccluded": {"Value": False, "Confidence": 99.0},
}


def rekognition_app(s3: S3Client) -> web.Application:
    app = web.Application()
    app.router.add_post("/", functools.partial(_serve, s3))
    return app


async def _serve(s3: S3Client, request: web.Request) -> web.Response:
    operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
    if operation != "DetectFaces":
        return _error("UnknownOperationException", f"{operation} is not served locally", 400)
    body = json.loads(await request.text() or "{}")
    location = body.get("Image", {}).get("S3Object", {})
    try:
        head = await asyncio.to_thread(_first_bytes, s3, location["Bucket"], location["Name"])
    except (KeyError, s3.exceptions.NoSuchKey):
        return _error("InvalidS3ObjectException", "Unable to get object metadata from S3.", 400)
    if not head.startswith(IMAGE_SIGNATURES):
        return _error("InvalidImageFormatException", "Request has unsupported image format", 400)
    return web.json_response({"FaceDetails": [ONE_CLEAR_FACE]}, content_type=JSON_TYPE)


def _first_bytes(s3: S3Client, bucket: str, key: str) -> bytes:
    body = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-15")["Body"]
    try:
        return body.read()
    finally:
        body.close()


def _error(kind: str, message: str, status: int) -> web.Response:
    return web.json_response(
        {"__type": kind, "Message": message},
        status=status,
        content_type=JSON_TYPE,
        headers={"x-amzn-ErrorType": kind},
    )
