"""Pushes end to end, against the stack as ``make dev`` runs it: Bob's phone is registered with
the shipped ``sotto device`` command, Bob is offline, Alice sends three clips; Bob's device gets
one coalesced push (read back from what moto's SNS took for his endpoint) and the welcome;
then Bob connects and syncs all three."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sotto_cli.main import _stand_in_token
from tests.e2e.clients import connect_as, upload_clip
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_cli import credentials, sotto

WINDOW_SECONDS = 3


@pytest.fixture
def push_stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(
        tmp_path, "e2e-push", SOTTO_PUSH_COALESCE_SECONDS=str(WINDOW_SECONDS)
    ) as started:
        yield started


def pushes_to(stack: Stack, token: str) -> list[dict[str, Any]]:
    """What SNS (moto) accepted for the endpoint of this device token, oldest first."""
    data = requests.get(f"{stack.info['aws_endpoint']}/moto-api/data.json", timeout=10).json()
    endpoints = [e for e in data["sns"]["PlatformEndpoint"] if e["token"] == token]
    return [json.loads(m) for e in endpoints for m in e["messages"].values()]


def wait_for_pushes(stack: Stack, token: str, count: int, seconds: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = pushes_to(stack, token)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"expected {count} push(es), SNS took {pushes_to(stack, token)}")


def clip_is_ready(stack: Stack, clip_id: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        item = stack.clients.dynamodb.get_item(
            TableName=stack.clients.settings.clips_table, Key={"clipId": {"S": clip_id}}
        ).get("Item", {})
        if item.get("status", {}).get("S") == "ready":
            return
        time.sleep(0.1)
    raise AssertionError(f"clip {clip_id} never became ready")


def test_an_offline_member_gets_one_coalesced_push_then_syncs_all_three(
    push_stack: Stack,
) -> None:
    stack = push_stack
    registered = subprocess.run(
        sotto(stack, "device", *credentials(stack, "bob")),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert registered.returncode == 0, registered.stderr
    assert "device cli-bob (ios) registered for bob" in registered.stdout
    token = _stand_in_token("bob", "cli-bob", "ios")
    # Bob is new to this stack: his first device gets the welcome.
    [welcome] = wait_for_pushes(stack, token, 1, seconds=20)
    assert json.loads(welcome["APNS"])["kind"] == "welcome"

    async def alice_sends_three() -> list[dict[str, Any]]:
        alice = await connect_as(stack, "alice")
        try:
            clip = await upload_clip(alice)
            await asyncio.to_thread(clip_is_ready, stack, clip)
            bob_id = stack.user("bob")["user_id"]
            return [
                await alice.request(
                    "send", clientMessageId=str(uuid.uuid4()), clipId=clip, to=bob_id
                )
                for _ in range(3)
            ]
        finally:
            await alice.close()

    acks = asyncio.run(asyncio.wait_for(alice_sends_three(), 60))
    assert [a["seq"] for a in acks] == [1, 2, 3]

    pushes = wait_for_pushes(stack, token, 2, seconds=20)
    time.sleep(WINDOW_SECONDS + 2)  # long enough for a second window's push, were there one
    pushes = pushes_to(stack, token)
    assert len(pushes) == 2, pushes
    body = json.loads(pushes[1]["APNS"])
    assert body["aps"]["alert"]["title"] == "Alice"
    assert body["aps"]["alert"]["body"].startswith("3 voice messages from Alice")
    assert body["aps"]["badge"] == 3
    assert (body["conversationId"], body["seq"]) == (acks[0]["conversationId"], 3)
    assert json.loads(pushes[1]["GCM"])["fcmV1Message"]["message"]["data"]["seq"] == "3"

    async def bob_syncs() -> dict[str, Any]:
        bob = await connect_as(stack, "bob")
        try:
            return await bob.request("sync", conversationId=body["conversationId"], afterSeq=0)
        finally:
            await bob.close()

    synced = asyncio.run(asyncio.wait_for(bob_syncs(), 30))
    assert [m["seq"] for m in synced["messages"]] == [1, 2, 3]
    assert [m["messageId"] for m in synced["messages"]] == [a["messageId"] for a in acks]
    # The console shows the push, naming who got it, on which device, and what it said.
    log = (stack.info_file.parent / "stack.log").read_text()
    assert "push to Bob on ios device cli-bob: Alice: 3 voice messages from Alice" in log
    assert token not in log  # tokens are never logged
