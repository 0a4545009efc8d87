"""A person who signs up with Cognito (as the app does) may connect at once, but chats only once
a moderator approved them: until then every chat action answers ``not_verified``."""

from __future__ import annotations

import asyncio

import pytest

from sotto_cli.client import ServerError, SottoClient, sign_in
from tests.e2e.clients import PASSWORD, signed_up
from tests.e2e.conftest import Stack


def test_a_new_user_connects_but_may_not_chat_before_approval(stack: Stack) -> None:
    username = signed_up(stack)
    alice = stack.user("alice")["user_id"]

    async def scenario() -> None:
        token = await asyncio.to_thread(sign_in, stack.config, username, PASSWORD)
        client = await SottoClient.connect(stack.config.ws_url, token)
        try:
            assert (await client.request("ping"))["type"] == "pong"
            for action, fields in [
                ("upload", {"contentType": "audio/wav", "size": 1000}),
                ("send", {"clientMessageId": "m1", "clipId": "c_x", "to": alice}),
                ("conversations", {}),
            ]:
                with pytest.raises(ServerError) as refused:
                    await client.request(action, **fields)
                assert refused.value.code == "not_verified"
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    profile = stack.clients.dynamodb.get_item(
        TableName=stack.clients.settings.users_table,
        Key={"userId": {"S": _user_id(stack, username)}},
    )["Item"]
    assert (profile["username"]["S"], profile["verification"]["S"]) == (username, "unverified")


def _user_id(stack: Stack, username: str) -> str:
    attributes = stack.clients.cognito.admin_get_user(
        UserPoolId=stack.info["user_pool_id"], Username=username
    )["UserAttributes"]
    return next(a["Value"] for a in attributes if a["Name"] == "sub")
