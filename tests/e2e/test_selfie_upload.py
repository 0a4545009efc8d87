"""The HTTP API as ``make dev`` serves it: a signed-in user asks ``POST /selfie`` for an upload
and puts a JPEG into the private selfies bucket; API Gateway's refusals for no token, and the
route's own for a bad request."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import requests

from sotto_cli.client import SottoClient, sign_in
from tests.e2e.clients import PASSWORD, next_event, signed_up
from tests.e2e.conftest import Stack

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2000 + b"\xff\xd9"


def post(stack: Stack, token: str | None, body: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{stack.info['http_api_url']}/selfie", json=body, headers=headers, timeout=30
    )


def test_a_signed_in_user_uploads_a_selfie_to_the_private_bucket(stack: Stack) -> None:
    username = signed_up(stack)
    token = sign_in(stack.config, username, PASSWORD)
    answer = post(stack, token, {"contentType": "image/jpeg", "size": len(JPEG)})
    assert answer.status_code == 200, answer.text
    grant = answer.json()
    assert grant["fields"]["key"].startswith("selfies/")
    uploaded = requests.post(
        grant["url"],
        data=grant["fields"],
        files={"file": ("me.jpg", JPEG, "image/jpeg")},
        timeout=30,
    )
    assert uploaded.status_code in (200, 201, 204), uploaded.text
    stored = stack.clients.s3.head_object(
        Bucket=stack.clients.settings.selfies_bucket, Key=grant["fields"]["key"]
    )
    assert stored["ContentLength"] == len(JPEG)


def test_the_http_api_refuses_what_it_should(stack: Stack) -> None:
    no_token = post(stack, None, {"contentType": "image/jpeg", "size": 10})
    assert (no_token.status_code, no_token.json()) == (401, {"message": "Unauthorized"})
    forged = post(stack, "not.a.token", {"contentType": "image/jpeg", "size": 10})
    assert forged.status_code == 401
    token = sign_in(stack.config, signed_up(stack), PASSWORD)
    gif = post(stack, token, {"contentType": "image/gif", "size": 10})
    assert (gif.status_code, gif.json()["code"], gif.json()["field"]) == (
        400,
        "bad_request",
        "contentType",
    )
    huge = post(stack, token, {"contentType": "image/png", "size": 50 * 1024 * 1024})
    assert (huge.status_code, huge.json()["code"]) == (413, "too_large")
    not_json = requests.post(
        f"{stack.info['http_api_url']}/selfie",
        data="{",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert (not_json.status_code, not_json.json()["code"]) == (400, "bad_request")


def test_an_uploaded_selfie_is_screened_into_the_moderators_queue(stack: Stack) -> None:
    """Locally Rekognition is a stand-in that sees one clear face in any JPEG or PNG (moto has
    no DetectFaces); the screener, its adapter and the policy are the ones AWS runs."""
    username = signed_up(stack)
    token = sign_in(stack.config, username, PASSWORD)
    grant = post(stack, token, {"contentType": "image/jpeg", "size": len(JPEG)}).json()
    uploaded = requests.post(
        grant["url"],
        data=grant["fields"],
        files={"file": ("me.jpg", JPEG, "image/jpeg")},
        timeout=30,
    )
    assert uploaded.status_code in (200, 201, 204)
    user_id = grant["fields"]["key"].split("/")[1]
    cases = stack.clients.settings.verifications_table
    deadline = time.monotonic() + 30
    state = None
    while time.monotonic() < deadline:
        item = stack.clients.dynamodb.get_item(
            TableName=cases, Key={"userId": {"S": user_id}}, ConsistentRead=True
        ).get("Item", {})
        state = item.get("state", {}).get("S")
        if state == "pending_review":
            break
        time.sleep(0.2)
    assert state == "pending_review"
    assert post(stack, token, {"contentType": "image/jpeg", "size": 10}).json()["code"] == (
        "invalid_state"
    )  # a moderator has the case now

    # Mona, a moderator, finds the case, looks at the selfie and approves; now the user chats.
    mona = stack.user("mona")
    mona_token = sign_in(stack.config, mona["username"], mona["password"])
    api = stack.info["http_api_url"]
    as_mona = {"Authorization": f"Bearer {mona_token}"}
    queue = requests.get(f"{api}/moderation/cases?limit=100", headers=as_mona, timeout=30).json()
    assert user_id in [c["userId"] for c in queue["cases"]]
    case = requests.get(f"{api}/moderation/cases/{user_id}", headers=as_mona, timeout=30).json()
    assert requests.get(case["selfieUrl"], timeout=30).content == JPEG
    as_user = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{api}/moderation/cases", headers=as_user, timeout=30).status_code == 403

    async def approved_while_connected() -> tuple[dict[str, Any], dict[str, Any]]:
        client = await SottoClient.connect(stack.config.ws_url, token)
        try:
            decided = await asyncio.to_thread(
                requests.post,
                f"{api}/moderation/cases/{user_id}/decision",
                json={"version": case["version"], "approve": True},
                headers=as_mona,
                timeout=30,
            )
            assert (decided.status_code, decided.json()["state"]) == (200, "approved")
            told = await next_event(client, seconds=20, types=("verification",))
            return told, await client.request("conversations")
        finally:
            await client.close()

    told, listed = asyncio.run(asyncio.wait_for(approved_while_connected(), 40))
    assert (told["state"], listed["type"]) == ("approved", "conversations")
