"""The local stand-in for Rekognition speaks the real protocol: the screener's adapter, through
boto3, gets one clear face for a JPEG or PNG and ``InvalidImageFormatException`` otherwise."""

from __future__ import annotations

import asyncio

import aiohttp
import boto3
import pytest
from aiohttp.test_utils import TestServer

from common.clients import Clients
from local_gateway.rekognition import rekognition_app
from verification.model import CaseState
from verification.policy import screen
from verification.rekognition import FaceDetector, UnreadableImage


def detect_all(aws: Clients, keys: list[str]) -> list[object]:
    async def scenario() -> list[object]:
        server = TestServer(rekognition_app(aws.s3), host="127.0.0.1")
        await server.start_server()
        try:
            client = boto3.client(
                "rekognition", region_name="us-east-1", endpoint_url=str(server.make_url(""))
            )
            detector = FaceDetector(client)
            results: list[object] = []
            for key in keys:
                try:
                    results.append(
                        await asyncio.to_thread(detector.detect, aws.settings.selfies_bucket, key)
                    )
                except UnreadableImage as error:
                    results.append(error)
            return results
        finally:
            await server.close()

    return asyncio.run(scenario())


def test_the_stand_in_answers_like_rekognition(aws: Clients) -> None:
    bucket = aws.settings.selfies_bucket
    aws.s3.put_object(Bucket=bucket, Key="selfies/u/a.jpg", Body=b"\xff\xd8\xff\xe0" + b"0" * 64)
    aws.s3.put_object(Bucket=bucket, Key="selfies/u/b.png", Body=b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    aws.s3.put_object(Bucket=bucket, Key="selfies/u/c.gif", Body=b"GIF89a" + b"0" * 64)
    jpeg, png, gif, missing = detect_all(
        aws, ["selfies/u/a.jpg", "selfies/u/b.png", "selfies/u/c.gif", "selfies/u/none"]
    )
    for faces in (jpeg, png):
        assert isinstance(faces, list)
        assert screen(faces).state is CaseState.PENDING_REVIEW
    assert isinstance(gif, UnreadableImage) and str(gif) == "InvalidImageFormatException"
    assert isinstance(missing, UnreadableImage) and str(missing) == "InvalidS3ObjectException"


@pytest.mark.parametrize("target", ["RekognitionService.CompareFaces"])
def test_other_operations_are_refused(aws: Clients, target: str) -> None:
    async def scenario() -> int:
        server = TestServer(rekognition_app(aws.s3), host="127.0.0.1")
        await server.start_server()
        try:
            async with aiohttp.ClientSession() as session:
                response = await session.post(
                    server.make_url("/"), data="{}", headers={"X-Amz-Target": target}
                )
                return response.status
        finally:
            await server.close()

    assert asyncio.run(scenario()) == 400
