"""Bad, expired and forged tokens are refused at the handshake, and nothing is stored."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from sotto_cli.client import sign_in
from tests.e2e.clients import answer
from tests.e2e.conftest import Stack


def moto_signing_key() -> Any:
    """The private key moto signs its Cognito tokens with (its JWKS publishes the public half)."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json"), algorithm="RS256").key


def claims(stack: Stack, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": stack.user("alice")["user_id"],
        "iss": f"https://cognito-idp.{stack.info['region']}.amazonaws.com/{stack.info['user_pool_id']}",
        "aud": stack.info["client_id"],
        "token_use": "id",
        "cognito:username": "alice",
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }


def moto_token(stack: Stack, **overrides: Any) -> str:
    """A token signed as moto's Cognito signs them: valid unless ``overrides`` spoil a claim."""
    return jwt.encode(
        claims(stack, **overrides), moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"}
    )


def stored_connections(stack: Stack) -> int:
    return int(
        stack.clients.dynamodb.scan(TableName=stack.clients.settings.connections_table)["Count"]
    )


async def refused(stack: Stack, query: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refusal:
        await connect(f"{stack.info['ws_url']}{query}")
    response = refusal.value.response
    return response.status_code, json.loads(response.body)


def test_every_bad_token_gets_401_with_a_json_body_and_stores_nothing(stack: Stack) -> None:
    before = stored_connections(stack)
    genuine = claims(stack)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    tokens = {
        "missing": "",
        "garbage": "?token=not-a-jwt",
        "expired": "?token=" + moto_token(stack, iat=now - 7200, exp=now - 3600),
        "forged": "?token="
        + jwt.encode(genuine, forger, algorithm="RS256", headers={"kid": "dummy"}),
        "other app": "?token=" + moto_token(stack, aud="another-app"),
        "other pool": "?token="
        + moto_token(stack, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
    }

    async def scenario() -> None:
        for name, query in tokens.items():
            status, body = await refused(stack, query)
            assert status == 401, name
            assert body["code"] == "unauthorized" and body["message"], name

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert stored_connections(stack) == before


def test_a_genuine_token_signed_the_same_way_is_accepted(stack: Stack) -> None:
    """The refusals above are about the claims and keys, not about hand-made tokens."""
    token = jwt.encode(
        claims(stack), moto_signing_key(), algorithm="RS256", headers={"kid": "dummy"}
    )

    async def scenario() -> None:
        async with connect(f"{stack.info['ws_url']}?token={token}") as socket:
            await socket.send('{"action":"ping","requestId":"p"}')
            assert await answer(socket, request_id="p") == {"type": "pong", "requestId": "p"}

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_an_access_token_from_cognito_is_accepted_too(stack: Stack) -> None:
    user = stack.user("bob")
    assert sign_in(stack.config, user["username"], user["password"])  # ID token path is the CLI's

    async def scenario() -> None:
        cognito = boto3.client(
            "cognito-idp", endpoint_url=stack.info["aws_endpoint"], region_name=stack.info["region"]
        )
        result = await asyncio.to_thread(
            cognito.initiate_auth,
            ClientId=stack.info["client_id"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "bob", "PASSWORD": user["password"]},
        )
        access = result["AuthenticationResult"]["AccessToken"]
        async with connect(f"{stack.info['ws_url']}?token={access}") as socket:
            await socket.send('{"action":"ping"}')
            assert (await answer(socket))["type"] == "pong"

    asyncio.run(asyncio.wait_for(scenario(), 30))
