"""The local API Gateway: a ``websockets`` server that calls the same handlers AWS calls.

``$connect`` runs the authorizer and the connect handler before the handshake completes, so a
refusal is an HTTP status with a JSON body. Messages are routed on ``action``; replies are
route responses; frames, messages, idle time and lifetime are limited as in API Gateway.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from common.clock import Clock, SystemClock
from common.events import (
    CONNECT_ROUTE,
    DISCONNECT_ROUTE,
    ConnectionInfo,
    authorizer_context,
    authorizer_request_event,
    connect_event,
    disconnect_event,
    message_event,
)
from common.logs import get_logger
from local_gateway.delivery import SocketWriter, close_within
from local_gateway.invoker import Invocation, LambdaInvoker
from local_gateway.limits import GOING_AWAY, UNSUPPORTED_DATA, GatewayLimits, next_deadline, overdue
from local_gateway.management import management_app
from local_gateway.registry import ConnectionRegistry, LiveConnection
from local_gateway.routes import LambdaFunction, select_route

log = get_logger("gateway")

# The authorizer's identity source, route.request.querystring.token (a name, not a secret).
TOKEN_SOURCE = "token"  # noqa: S105
REFUSAL_CODES = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}
SUCCESS = range(200, 300)


def new_api_gateway_id() -> str:
    """Ids shaped like API Gateway's connection and request ids (``BFaT_fALIAMCKug=``)."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


@dataclass(frozen=True)
class GatewayConfig:
    host: str
    ws_port: int
    http_port: int
    stage: str
    region: str
    limits: GatewayLimits
    api_id: str = "local"


class LocalGateway:
    def __init__(
        self,
        config: GatewayConfig,
        routes: Mapping[str, LambdaFunction],
        authorizer: LambdaFunction,
        clock: Clock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock or SystemClock()
        self.registry = ConnectionRegistry(self._clock, monotonic)
        self.writer = SocketWriter(config.limits)
        self._routes = dict(routes)
        self._authorizer = authorizer
        self._monotonic = monotonic
        self._invoker = LambdaInvoker(
            config.limits.integration_timeout_seconds, monotonic=monotonic
        )
        self._accepted: dict[ServerConnection, tuple[ConnectionInfo, dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ws_server: Server | None = None
        self._http_runner: web.AppRunner | None = None
        self.ws_url = ""
        self.management_endpoint = ""

    # ---- lifecycle ------------------------------------------------------------------------

    async def start_http(self) -> str:
        """Serve ``@connections``; returns the management endpoint (``http://host:port/stage``)."""
        limits = self.config.limits
        app = management_app(
            self.registry, self.writer, self.config.stage, limits.max_message_bytes
        )
        self._http_runner = web.AppRunner(app, access_log=None)
        await self._http_runner.setup()
        site = web.TCPSite(self._http_runner, self.config.host, self.config.http_port)
        await site.start()
        port = self._http_runner.addresses[0][1]
        self.management_endpoint = f"http://{self.config.host}:{port}/{self.config.stage}"
        return self.management_endpoint

    async def start_websocket(self) -> str:
        limits = self.config.limits
        self._ws_server = await serve(
            self._session,
            self.config.host,
            self.config.ws_port,
            process_request=self._handshake,
            max_size=(limits.max_message_bytes, limits.max_frame_bytes),
            compression=None,
            close_timeout=limits.close_timeout_seconds,
        )
        port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self.ws_url = f"ws://{self.config.host}:{port}/{self.config.stage}"
        return self.ws_url

    async def stop(self) -> None:
        if self._ws_server is not None:
            self._ws_server.close(close_connections=False)
            timeout = self.config.limits.close_timeout_seconds
            sockets = self._ws_server.connections  # a client that stopped reading must not hold us
            await asyncio.gather(*(close_within(s, GOING_AWAY, "", timeout) for s in sockets))
            await self._ws_server.wait_closed()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self.writer.wait_closed()
        if self._http_runner is not None:
            await self._http_runner.cleanup()
        self._invoker.close()

    # ---- $connect ---------------------------------------------------------------------------

    async def _handshake(self, socket: ServerConnection, request: Request) -> Response | None:
        info = self._connection_info(socket, request)
        if not info.query.get(TOKEN_SOURCE):
            # API Gateway answers 401 itself when the identity source is missing.
            return _refusal(socket, 401, "A token query parameter is required.")
        context_or_refusal = await self._authorize(socket, info)
        if isinstance(context_or_refusal, Response):
            return context_or_refusal
        refusal = await self._run_connect(socket, info, context_or_refusal)
        if refusal is not None:
            return refusal
        self._accepted[socket] = (info, context_or_refusal)
        self._spawn(self._await_disconnect(socket, info, context_or_refusal))
        return None

    def _connection_info(self, socket: ServerConnection, request: Request) -> ConnectionInfo:
        address = socket.remote_address
        host = request.headers.get("Host") or f"{self.config.host}:{self.config.ws_port}"
        return ConnectionInfo(
            connection_id=new_api_gateway_id(),
            api_id=self.config.api_id,
            stage=self.config.stage,
            domain_name=host,
            source_ip=str(address[0]) if address else "",
            connected_at=self._clock.now(),
            region=self.config.region,
            user_agent=request.headers.get("User-Agent", ""),
            headers={k: v for k, v in request.headers.raw_items() if k.lower() != "cookie"},
            query=dict(parse_qsl(urlsplit(request.path).query)),
        )

    async def _authorize(
        self, socket: ServerConnection, info: ConnectionInfo
    ) -> dict[str, Any] | Response:
        request_id = new_api_gateway_id()
        event = authorizer_request_event(info, request_id=request_id, now=self._clock.now())
        outcome = await self._invoker.invoke(self._authorizer, event, request_id)
        if outcome.error == "Unauthorized":
            return _refusal(socket, 401, "Unauthorized")
        if outcome.response is None:
            return _refusal(socket, 500, "The authorizer failed.", code="internal_error")
        policy = outcome.response
        statements = policy.get("policyDocument", {}).get("Statement", [])
        if not statements or any(s.get("Effect") != "Allow" for s in statements):
            return _refusal(socket, 403, "Forbidden")
        return authorizer_context(str(policy.get("principalId", "")), policy.get("context") or {})

    async def _run_connect(
        self, socket: ServerConnection, info: ConnectionInfo, authorizer: dict[str, Any]
    ) -> Response | None:
        request_id = new_api_gateway_id()
        event = connect_event(
            info, request_id=request_id, now=self._clock.now(), authorizer=authorizer
        )
        outcome = await self._invoker.invoke(self._routes[CONNECT_ROUTE], event, request_id)
        if outcome.response is None:
            return _refusal(socket, 500, "The connect handler failed.", code="internal_error")
        status = int(outcome.response.get("statusCode", 200))
        if status in SUCCESS:
            return None
        body = _json_object(outcome.response.get("body"))
        return _refusal(socket, status, str(body.get("message", "Refused")), code=body.get("code"))

    # ---- messages ---------------------------------------------------------------------------

    async def _session(self, socket: ServerConnection) -> None:
        info, authorizer = self._accepted.pop(socket)
        now = self._monotonic()
        live = LiveConnection(
            info,
            socket,
            authorizer,
            opened_at=now,
            last_active=now,
            last_active_at=info.connected_at,
        )
        self.registry.add(live)
        watchdog = asyncio.create_task(self._watch(live))
        slots = asyncio.Semaphore(self.config.limits.max_in_flight_per_connection)
        try:
            async for message in socket:
                if isinstance(message, bytes):
                    await socket.close(UNSUPPORTED_DATA, "Binary frames are not supported")
                    break
                self.registry.touch(live)
                await slots.acquire()
                task = self._spawn(self._dispatch(live, message))
                task.add_done_callback(lambda _: slots.release())
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()

    async def _dispatch(self, live: LiveConnection, body: str) -> None:
        route = select_route(body, self._routes)
        request_id = new_api_gateway_id()
        event = message_event(
            live.info,
            route_key=route,
            body=body,
            request_id=request_id,
            message_id=new_api_gateway_id(),
            now=self._clock.now(),
            authorizer=live.authorizer,
        )
        outcome = await self._invoker.invoke(self._routes[route], event, request_id)
        frame = _route_response(outcome, live.info.connection_id, request_id)
        if frame and self.writer.write([live], frame):
            self.registry.touch(live)

    async def _watch(self, live: LiveConnection) -> None:
        limits = self.config.limits
        while True:
            reason = overdue(limits, live.opened_at, live.last_active, self._monotonic())
            if reason is not None:
                await close_within(live.socket, GOING_AWAY, reason, limits.close_timeout_seconds)
                return
            wait = next_deadline(limits, live.opened_at, live.last_active) - self._monotonic()
            await asyncio.sleep(max(wait, 0.01))

    # ---- $disconnect ------------------------------------------------------------------------

    async def _await_disconnect(
        self, socket: ServerConnection, info: ConnectionInfo, authorizer: dict[str, Any]
    ) -> None:
        await socket.wait_closed()
        self._accepted.pop(socket, None)  # the handshake may have failed after $connect
        self.registry.remove(info.connection_id)
        request_id = new_api_gateway_id()
        event = disconnect_event(
            info,
            request_id=request_id,
            now=self._clock.now(),
            status_code=socket.close_code or 1006,
            reason=socket.close_reason or "",
            authorizer=authorizer,
        )
        await self._invoker.invoke(self._routes[DISCONNECT_ROUTE], event, request_id)

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _refusal(
    socket: ServerConnection, status: int, message: str, code: str | None = None
) -> Response:
    body = json.dumps({"code": code or REFUSAL_CODES.get(status, "refused"), "message": message})
    response = socket.respond(status, body)
    del response.headers["Content-Type"]  # Headers append on assignment
    response.headers["Content-Type"] = "application/json"
    return response


def _route_response(outcome: Invocation, connection_id: str, request_id: str) -> str | None:
    """What API Gateway sends back to the caller after the integration answered."""
    if outcome.timed_out:
        message = "Endpoint request timed out"
    elif outcome.response is None:
        message = "Internal server error"
    else:
        body = outcome.response.get("body")
        return body if isinstance(body, str) and body else None
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})


def _json_object(raw: object) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
