"""API Gateway's HTTP API, locally: the route table's routes, the JWT authorizer that AWS runs
for them (Cognito tokens in ``Authorization: Bearer``), and Lambda proxy integrations with the
payload 2.0 event built by ``common.http_events``. Refusals look like API Gateway's own."""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from common.clock import Clock, SystemClock
from common.errors import Unauthorized
from common.http_events import HttpRequest, http_api_event
from common.logs import get_logger
from local_gateway.invoker import Invocation, LambdaInvoker
from local_gateway.routes import LambdaFunction

log = get_logger("http-api")

INTEGRATION_TIMEOUT_SECONDS = 30  # an HTTP API's limit for a Lambda integration
MAX_BODY_BYTES = 10 * 1024 * 1024  # an HTTP API's payload limit

# A bearer token -> its verified claims, or Unauthorized (the JWT authorizer's job).
Authorize = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class StaticSite:
    """Files served under ``prefix`` (in AWS: a bucket behind CloudFront), with a generated
    ``config.json`` that tells the page where Cognito and the API are."""

    prefix: str
    directory: Path
    config: Mapping[str, Any]


class HttpApi:
    def __init__(
        self,
        routes: Mapping[str, LambdaFunction],
        authorize: Authorize,
        *,
        api_id: str = "local",
        clock: Clock | None = None,
        sites: Sequence[StaticSite] = (),
    ) -> None:
        self._routes = dict(routes)
        self._authorize = authorize
        self._api_id = api_id
        self._clock = clock or SystemClock()
        self._sites = tuple(sites)
        self._invoker = LambdaInvoker(INTEGRATION_TIMEOUT_SECONDS, concurrency=8)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for route_key, function in self._routes.items():
            method, path = route_key.split(" ", 1)
            app.router.add_route(method, path, functools.partial(self._serve, route_key, function))
        for site in self._sites:
            self._add_site(app, site)
        return app

    @staticmethod
    def _add_site(app: web.Application, site: StaticSite) -> None:
        config = json.dumps(dict(site.config))

        async def config_json(request: web.Request) -> web.Response:
            return web.Response(text=config, content_type="application/json")

        async def to_index(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(f"{site.prefix}/")

        async def index(request: web.Request) -> web.FileResponse:
            return web.FileResponse(site.directory / "index.html")

        app.router.add_get(site.prefix, to_index)
        app.router.add_get(f"{site.prefix}/", index)
        app.router.add_get(f"{site.prefix}/config.json", config_json)
        app.router.add_static(f"{site.prefix}/", site.directory)

    def close(self) -> None:
        self._invoker.close()

    async def _serve(
        self, route_key: str, function: LambdaFunction, request: web.Request
    ) -> web.Response:
        try:
            claims = await asyncio.to_thread(self._authorize, bearer_token(request.headers))
        except Unauthorized as refused:
            log.info("%s refused: %s", route_key, refused.message)
            return _gateway_error(401, "Unauthorized")
        request_id = uuid.uuid4().hex
        event = http_api_event(
            HttpRequest(
                method=request.method,
                path=request.path,
                route_key=route_key,
                api_id=self._api_id,
                domain_name=request.host,
                source_ip=request.remote or "",
                headers=dict(request.headers),
                query=dict(request.query),
                path_parameters=dict(request.match_info),
                body=await request.text() if request.body_exists else None,
                claims=claims,
            ),
            request_id=request_id,
            now=self._clock.now(),
        )
        return _response(await self._invoker.invoke(function, event, request_id))


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of ``Authorization: Bearer <token>`` (or a bare token, as the JWT authorizer
    also accepts), or Unauthorized."""
    value = headers.get("Authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token:
        raise Unauthorized("An Authorization header with a token is required.")
    return token


def _response(outcome: Invocation) -> web.Response:
    """The integration's proxy response, or API Gateway's answer when there is none."""
    if outcome.response is None:
        if outcome.timed_out:
            return _gateway_error(503, "Service Unavailable")
        return _gateway_error(500, "Internal Server Error")
    response = outcome.response
    body = response.get("body", "")
    return web.Response(
        status=int(response.get("statusCode", 200)),
        headers={str(k): str(v) for k, v in (response.get("headers") or {}).items()},
        text=body if isinstance(body, str) else json.dumps(body),
    )


def _gateway_error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)
