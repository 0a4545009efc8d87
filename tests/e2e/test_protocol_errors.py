"""Bad requests get error frames with their codes, and the connection stays usable."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from sotto_cli.client import ServerError
from tests.e2e.clients import answer, connect_as, raw_socket, say, upload_clip
from tests.e2e.conftest import Stack


def test_each_kind_of_bad_request_has_its_code_and_the_socket_survives(stack: Stack) -> None:
    async def scenario() -> None:
        alice, carol = await connect_as(stack, "alice"), await connect_as(stack, "carol")
        bob_id = stack.user("bob")["user_id"]
        conversation = (await say(alice, to=bob_id))["conversationId"]
        alices_clip = await upload_clip(alice)
        carols_clip = await upload_clip(carol)
        cases = [
            (alice, "dance", {}, "unknown_action"),
            (
                alice,
                "send",
                {"clipId": alices_clip, "to": bob_id},
                "bad_request",
            ),  # no clientMessageId
            (alice, "upload", {"contentType": "audio/ogg", "size": "big"}, "bad_request"),
            (alice, "upload", {"contentType": "video/mp4", "size": 10}, "bad_request"),
            (
                carol,
                "send",
                {"clientMessageId": "x1", "clipId": carols_clip, "conversationId": conversation},
                "forbidden",
            ),
            (
                carol,
                "send",
                {"clientMessageId": "x2", "clipId": alices_clip, "to": bob_id},
                "forbidden",
            ),
            (carol, "sync", {"conversationId": conversation, "afterSeq": 0}, "forbidden"),
            (
                alice,
                "send",
                {"clientMessageId": "x3", "clipId": "c_nope", "to": bob_id},
                "not_found",
            ),
            (alice, "lookupUser", {"username": "nobody"}, "not_found"),
        ]
        for client, action, fields, code in cases:
            with pytest.raises(ServerError) as error:
                await client.request(action, **fields)
            assert error.value.code == code, (action, fields)
        assert (await alice.request("ping"))["type"] == "pong"
        assert (await carol.request("ping"))["type"] == "pong"
        await alice.close()
        await carol.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_malformed_json_is_a_bad_request_and_the_socket_survives(stack: Stack) -> None:
    async def scenario() -> None:
        async with raw_socket(stack, "alice") as socket:
            await socket.send("{this is not json")
            assert (await answer(socket))["code"] == "bad_request"
            await socket.send('{"action":"ping","requestId":"after"}')
            assert await answer(socket, request_id="after") == {
                "type": "pong",
                "requestId": "after",
            }

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_message_over_128_kb_closes_the_socket_with_1009(stack: Stack) -> None:
    async def scenario() -> None:
        async with raw_socket(stack, "alice") as socket:
            body = json.dumps({"action": "ping", "pad": "x" * (129 * 1024)})
            await socket.send([body[i : i + 30000] for i in range(0, len(body), 30000)])
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_frame_over_32_kb_closes_the_socket_with_1009(stack: Stack) -> None:
    async def scenario() -> None:
        async with raw_socket(stack, "alice") as socket:
            await socket.send(json.dumps({"action": "ping", "pad": "x" * (33 * 1024)}))
            with pytest.raises(ConnectionClosed) as closed:
                await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    asyncio.run(asyncio.wait_for(scenario(), 30))
