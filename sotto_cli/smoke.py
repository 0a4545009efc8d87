"""``sotto smoke``: the smoke test of a deployed stage (or of ``make dev``), from outside, as
the apps use it: two existing, verified users sign in with Cognito, the first sends the second
a one-second voice message, the second hears it live with a playable clip and finds it again
with ``sync``, and the HTTP API answers the second's ``GET /verification``.

    sotto smoke --ws-url wss://<api>.execute-api.<region>.amazonaws.com/prod \\
        --client-id <app client id> --http-api https://<api>.execute-api.<region>.amazonaws.com \\
        --sender alice:<password> --recipient bob:<password>

Each step prints one line; the first failure stops it with a non-zero exit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from sotto_cli.audio import tone_wav
from sotto_cli.client import SottoClient, download, sign_in, upload
from sotto_cli.config import ClientConfig
from sotto_cli.errors import CliError

STEP_SECONDS = 30


@dataclass(frozen=True)
class Account:
    username: str
    password: str

    @classmethod
    def parse(cls, text: str) -> Account:
        username, separator, password = text.partition(":")
        if not separator or not username or not password:
            raise CliError("config", "Give accounts as user:password.")
        return cls(username, password)


async def smoke(
    config: ClientConfig,
    http_api: str,
    sender: Account,
    recipient: Account,
    say: Callable[[str], None] = print,
) -> None:
    started = time.monotonic()
    sender_token = sign_in(config, sender.username, sender.password)
    recipient_token = sign_in(config, recipient.username, recipient.password)
    say(f"ok  signed in as {sender.username} and {recipient.username}")
    alice = await SottoClient.connect(config.ws_url, sender_token)
    bob = await SottoClient.connect(config.ws_url, recipient_token)
    try:
        found = await alice.request("lookupUser", username=recipient.username)
        recipient_id = str(found["userId"])
        say("ok  connected both; found the recipient")
        audio = tone_wav(1.0)
        grant = await alice.request("upload", contentType="audio/wav", size=len(audio))
        await asyncio.to_thread(upload, grant, audio, "audio/wav", "smoke.wav")
        marker = str(uuid.uuid4())
        ack = await alice.request(
            "send", clientMessageId=marker, clipId=grant["clipId"], to=recipient_id
        )
        say(f"ok  sent seq {ack['seq']} in {ack['conversationId']}")
        heard = await asyncio.wait_for(_a_playable_message(bob, ack["seq"]), STEP_SECONDS)
        clip = await asyncio.to_thread(download, str(heard["clip"]["url"]))
        say(f"ok  heard it live: {heard['clip'].get('durationMs')} ms, {len(clip)} bytes of Opus")
        synced = await bob.request(
            "sync", conversationId=ack["conversationId"], afterSeq=int(ack["seq"]) - 1
        )
        if ack["seq"] not in [m.get("seq") for m in synced.get("messages", [])]:
            raise CliError("smoke_failed", "sync did not return the message.")
        say("ok  sync returns it")
    finally:
        await alice.close()
        await bob.close()
    status = await asyncio.to_thread(_verification_status, http_api, recipient_token)
    say(f"ok  HTTP API: verification {status.get('state')}")
    say(f"smoke test passed in {time.monotonic() - started:.1f} s")


async def _a_playable_message(client: SottoClient, seq: int) -> dict[str, Any]:
    async for event in client.events():
        playable = (event.get("clip") or {}).get("url")
        if event.get("type") == "message" and event.get("seq") == seq and playable:
            return event
    raise CliError("smoke_failed", "The connection closed before the message arrived.")


def _verification_status(http_api: str, token: str) -> dict[str, Any]:
    answer = requests.get(
        f"{http_api.rstrip('/')}/verification",
        headers={"Authorization": f"Bearer {token}"},
        timeout=STEP_SECONDS,
    )
    if answer.status_code != 200:  # noqa: PLR2004
        raise CliError("smoke_failed", f"GET /verification answered {answer.status_code}.")
    body: dict[str, Any] = answer.json()
    return body
