"""Test-side helpers over the shipped client (sign-in, requests, upload)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from websockets.asyncio.client import connect

from chat.ffmpeg import find_ffmpeg
from sotto_cli.audio import tone_wav
from sotto_cli.client import SottoClient, sign_in, upload
from tests.e2e.conftest import Stack


async def connect_as(stack: Stack, name: str) -> SottoClient:
    user = stack.user(name)
    token = await asyncio.to_thread(sign_in, stack.config, user["username"], user["password"])
    return await SottoClient.connect(stack.config.ws_url, token)


def raw_socket(stack: Stack, name: str) -> connect:
    """A plain WebSocket (no client library) signed in as ``name``: for what the library
    never sends, such as malformed JSON or oversize messages."""
    user = stack.user(name)
    token = sign_in(stack.config, user["username"], user["password"])
    return connect(f"{stack.config.ws_url}?token={token}", compression=None)


async def upload_clip(client: SottoClient, data: bytes | None = None) -> str:
    audio = data if data is not None else tone_wav(0.5)
    grant = await client.request("upload", contentType="audio/wav", size=len(audio))
    await asyncio.to_thread(upload, grant, audio, "audio/wav", "clip.wav")
    return str(grant["clipId"])


async def say(client: SottoClient, **target: str) -> dict[str, Any]:
    clip = await upload_clip(client)
    return await client.request("send", clientMessageId=str(uuid.uuid4()), clipId=clip, **target)


async def next_event(
    client: SottoClient, seconds: float = 10, types: tuple[str, ...] = ("message", "error")
) -> dict[str, Any]:
    """The next event of one of ``types``; others (presence, indicators...) are skipped."""
    events = client.events()

    async def wanted() -> dict[str, Any]:
        async for event in events:
            if event.get("type") in types:
                return event
        raise AssertionError("the connection closed")

    try:
        return await asyncio.wait_for(wanted(), seconds)
    finally:
        await events.aclose()


PASSWORD = "Erin-pass-1"


def signed_up(stack: Stack) -> str:
    """A new user through Cognito's own sign-up and confirmation; their user name."""
    username = f"erin-{uuid.uuid4().hex[:8]}"
    cognito = stack.clients.cognito
    cognito.sign_up(
        ClientId=stack.info["client_id"],
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "name", "Value": "Erin"}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=stack.info["user_pool_id"], Username=username)
    return username


async def answer(socket: Any, *, request_id: str | None = None) -> dict[str, Any]:
    """The next frame that answers a request on a raw socket: the one echoing ``request_id``,
    or with none, the next ``pong`` or ``error``. Events (presence of a contact, a message)
    may come first on a shared stack and are skipped."""
    while True:
        frame: dict[str, Any] = json.loads(await socket.recv())
        if request_id is not None and frame.get("requestId") == request_id:
            return frame
        if request_id is None and frame.get("type") in ("pong", "error"):
            return frame


SELFIE_SIDE = 64  # pixels of the test selfie


def a_jpeg(folder: Path) -> Path:
    """A real JPEG (a browser must be able to show it), made by our own ffmpeg."""
    target = folder / "selfie.jpg"
    subprocess.run(
        [find_ffmpeg(None), "-v", "error", "-y", "-f", "lavfi", "-i",
         f"color=c=0xd08080:s={SELFIE_SIDE}x{SELFIE_SIDE}", "-frames:v", "1", str(target)],
        check=True,
        timeout=60,
    )  # fmt: skip
    return target


def waiting_for_review(stack: Stack, jpeg: bytes, username: str | None = None) -> tuple[str, str]:
    """A new user (or ``username``, signed up already) whose selfie is in the moderators'
    queue: (user id, their token)."""
    token = sign_in(stack.config, username or signed_up(stack), PASSWORD)
    api = stack.info["http_api_url"]
    auth = {"Authorization": f"Bearer {token}"}
    grant = requests.post(
        f"{api}/selfie", json={"contentType": "image/jpeg", "size": len(jpeg)}, headers=auth,
        timeout=30,
    ).json()  # fmt: skip
    files = {"file": ("me.jpg", jpeg, "image/jpeg")}
    assert requests.post(grant["url"], data=grant["fields"], files=files, timeout=30).ok
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = requests.get(f"{api}/verification", headers=auth, timeout=30).json()
        if status["state"] == "pending_review":
            return grant["fields"]["key"].split("/")[1], token
        time.sleep(0.2)
    raise AssertionError(f"the selfie never reached the queue: {status}")
