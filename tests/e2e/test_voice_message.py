"""Alice's clip reaches Bob over a real WebSocket, and nobody else."""

from __future__ import annotations

import asyncio
import os

import pytest
import requests

from sotto_cli.audio import tone_wav
from sotto_cli.client import ServerError, upload
from tests.e2e.clients import connect_as, next_event, say, upload_clip
from tests.e2e.conftest import Stack


def test_alices_clip_reaches_bob_and_not_carol(stack: Stack) -> None:
    async def scenario() -> None:
        alice, bob, carol = [await connect_as(stack, name) for name in ("alice", "bob", "carol")]
        audio = tone_wav(1.0)
        clip = await upload_clip(alice, audio)
        bob_id = stack.user("bob")["user_id"]
        ack = await alice.request("send", clientMessageId="e2e-1", clipId=clip, to=bob_id)
        message = await next_event(bob)
        assert message["type"] == "message"
        assert message["messageId"] == ack["messageId"] and message["seq"] == ack["seq"]
        assert message["from"] == stack.user("alice")["user_id"]
        assert message["clip"]["id"] == clip
        assert (message["clip"]["contentType"], message["clip"]["codec"]) == ("audio/ogg", "opus")
        assert abs(message["clip"]["durationMs"] - 1000) <= 60
        assert len(message["clip"]["waveform"]) == 64
        played = await asyncio.to_thread(requests.get, message["clip"]["url"], timeout=10)
        assert played.content.startswith(b"OggS")  # our encoding of her clip, not her bytes
        assert played.content != audio and len(played.content) < len(audio) // 4

        # Carol's first frame is a message meant for her: Bob's never reached her.
        to_carol = await say(alice, to=stack.user("carol")["user_id"])
        first_for_carol = await next_event(carol)
        assert first_for_carol["messageId"] == to_carol["messageId"]
        for client in (alice, bob, carol):
            await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_the_senders_other_devices_get_the_message_but_not_the_sending_one(stack: Stack) -> None:
    async def scenario() -> None:
        phone, laptop = await connect_as(stack, "alice"), await connect_as(stack, "alice")
        bob = await connect_as(stack, "bob")
        ack = await say(phone, to=stack.user("bob")["user_id"])
        assert (await next_event(laptop))["messageId"] == ack["messageId"]
        assert (await next_event(bob))["messageId"] == ack["messageId"]
        # the phone's next frame answers its next request: no copy of its own message came first
        pong = await phone.request("ping")
        assert pong["type"] == "pong"
        for client in (phone, laptop, bob):
            await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_retried_send_is_acked_again_and_delivered_once(stack: Stack) -> None:
    async def scenario() -> None:
        alice, bob = await connect_as(stack, "alice"), await connect_as(stack, "bob")
        clip = await upload_clip(alice)
        target = {
            "clipId": clip,
            "to": stack.user("bob")["user_id"],
            "clientMessageId": "retry-e2e",
        }
        first = await alice.request("send", **target)
        second = await alice.request("send", **target)
        assert (first["messageId"], first["seq"]) == (second["messageId"], second["seq"])
        assert (await next_event(bob))["messageId"] == first["messageId"]
        after = await say(alice, to=stack.user("bob")["user_id"])
        assert (await next_event(bob))["messageId"] == after["messageId"]  # no duplicate between
        history = await bob.request("sync", conversationId=first["conversationId"], afterSeq=0)
        ids = [m["messageId"] for m in history["messages"]]
        assert ids.count(first["messageId"]) == 1 and after["messageId"] in ids
        await alice.close()
        await bob.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_bad_file_gets_the_sender_an_error_and_bob_nothing(stack: Stack) -> None:
    async def scenario() -> None:
        alice, bob = await connect_as(stack, "alice"), await connect_as(stack, "bob")
        bob_id = stack.user("bob")["user_id"]
        junk = os.urandom(4096)
        grant = await alice.request("upload", contentType="audio/ogg", size=len(junk))
        await asyncio.to_thread(upload, grant, junk, "audio/ogg", "clip.ogg")
        try:
            ack = await alice.request(
                "send", clientMessageId="junk-1", clipId=grant["clipId"], to=bob_id
            )
        except ServerError as early:  # a warm stack may reject the clip before the send
            refused_early = early.code
            ack = None
        else:
            refused_early = "clip_rejected"
        assert refused_early == "clip_rejected"
        if ack is not None:
            notice = await next_event(alice, seconds=30)
            assert (notice["type"], notice["code"], notice["reason"]) == (
                "error",
                "clip_rejected",
                "not_audio",
            )
            assert (notice["messageId"], notice["clipId"]) == (ack["messageId"], grant["clipId"])
        after = await say(alice, to=bob_id)
        first_for_bob = await next_event(bob, seconds=30)
        assert first_for_bob["messageId"] == after["messageId"]  # the junk never reached him
        if ack is not None:
            history = await bob.request(
                "sync", conversationId=ack["conversationId"], afterSeq=ack["seq"] - 1
            )
            assert history["messages"][0]["withdrawn"] is True
        with pytest.raises(
            ServerError
        ) as refused:  # sending the rejected clip again is refused at once
            await alice.request("send", clientMessageId="junk-2", clipId=grant["clipId"], to=bob_id)
        assert refused.value.code == "clip_rejected"
        await alice.close()
        await bob.close()

    asyncio.run(asyncio.wait_for(scenario(), 90))
