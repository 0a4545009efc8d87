"""A small Sotto client: Cognito sign-in, requests with replies, events, clip upload."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sotto_cli.config import ClientConfig
from sotto_cli.errors import CliError

REPLY_TIMEOUT_SECONDS = 30
KEEPALIVE_SECONDS = 300  # API Gateway drops connections idle for 10 minutes


def sign_in(config: ClientConfig, username: str, password: str) -> str:
    """An ID token from Cognito's own API, exactly as a phone gets one."""
    cognito = boto3.client(
        "cognito-idp",
        region_name=config.region,
        endpoint_url=config.cognito_endpoint,
        aws_access_key_id="unused",  # InitiateAuth is unsigned; boto3 wants something
        aws_secret_access_key="unused",  # noqa: S106
    )
    try:
        result = cognito.initiate_auth(
            ClientId=config.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except ClientError as error:
        raise CliError("sign_in_failed", error.response["Error"].get("Message", "")) from None
    token = result.get("AuthenticationResult", {}).get("IdToken")
    if not token:
        raise CliError("sign_in_failed", "Cognito asked for a challenge this client cannot answer.")
    return token


class ServerError(CliError):
    """An ``error`` frame from the server."""


class SottoClient:
    """Replies are matched to requests by ``requestId``; everything else is an event."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self.close_reason = ""

    @classmethod
    async def connect(cls, ws_url: str, token: str) -> SottoClient:
        try:
            socket = await connect(f"{ws_url}?token={token}", open_timeout=15, compression=None)
        except InvalidStatus as refused:
            body = _json(bytes(refused.response.body))
            raise CliError(
                str(body.get("code", refused.response.status_code)),
                str(body.get("message", "The server refused the connection.")),
            ) from None
        except OSError as error:
            raise CliError("unreachable", f"Cannot reach {ws_url}: {error}") from None
        return cls(socket)

    async def request(self, action: str, **fields: Any) -> dict[str, Any]:
        request_id = f"r{next(self._ids)}"
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = reply
        try:
            await self._socket.send(
                json.dumps({"action": action, "requestId": request_id, **fields})
            )
            frame = await asyncio.wait_for(reply, REPLY_TIMEOUT_SECONDS)
        except ConnectionClosed:
            raise CliError("disconnected", "The connection closed.") from None
        except TimeoutError:
            raise CliError(
                "timeout", f"No answer to {action} in {REPLY_TIMEOUT_SECONDS}s."
            ) from None
        finally:
            self._waiting.pop(request_id, None)
        if frame.get("type") == "error":
            raise ServerError(str(frame.get("code")), str(frame.get("message", "")))
        return frame

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Frames that answer no request (messages, and errors without a request id)."""
        keepalive = asyncio.create_task(self._keep_alive())
        try:
            while (event := await self._events.get()) is not None:
                yield event
        finally:
            keepalive.cancel()

    async def close(self) -> None:
        await self._socket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                frame = _json(raw)
                waiter = self._waiting.get(str(frame.get("requestId")))
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                else:
                    await self._events.put(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_reason = (
                f"{self._socket.close_code} {self._socket.close_reason or ''}".strip()
            )
            await self._events.put(None)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            with contextlib.suppress(CliError):
                await self.request("ping")


def upload(grant: Mapping[str, Any], data: bytes, content_type: str, filename: str) -> None:
    """Send the file with the presigned POST's fields; the file field goes last, as S3 wants."""
    response = requests.post(
        str(grant["url"]),
        data=dict(grant["fields"]),
        files={"file": (filename, data, content_type)},
        timeout=60,
    )
    if response.status_code >= 300:  # noqa: PLR2004
        raise CliError(
            "upload_failed", f"Storage answered {response.status_code}: {response.text[:200]}"
        )


def download(url: str) -> bytes:
    response = requests.get(url, timeout=60)
    if response.status_code != 200:  # noqa: PLR2004
        raise CliError("download_failed", f"Storage answered {response.status_code}.")
    return response.content


def _json(raw: str | bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
