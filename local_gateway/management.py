"""API Gateway's ``@connections`` management API, served for the gateway's own sockets.

boto3's ``apigatewaymanagementapi`` client can call it. Unknown and closed connections
answer 410 ``GoneException``, as AWS does (and as moto never does).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from common.clock import iso_utc
from local_gateway.delivery import SocketWriter
from local_gateway.registry import ConnectionRegistry, LiveConnection

REGISTRY = web.AppKey("registry", ConnectionRegistry)
WRITER = web.AppKey("writer", SocketWriter)
MAX_BYTES = web.AppKey("max_bytes", int)


def management_app(
    registry: ConnectionRegistry, writer: SocketWriter, stage: str, max_bytes: int
) -> web.Application:
    app = web.Application(client_max_size=max_bytes + 1024)
    app[REGISTRY] = registry
    app[WRITER] = writer
    app[MAX_BYTES] = max_bytes
    for prefix in ("", f"/{stage}"):
        path = prefix + "/@connections/{connection_id}"
        app.router.add_post(path, post_to_connection)
        app.router.add_get(path, get_connection)
        app.router.add_delete(path, delete_connection)
    return app


def _error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message}, status=status, headers={"x-amzn-ErrorType": error_type}
    )


def _gone() -> web.Response:
    return _error(410, "GoneException", "")


def _live(request: web.Request) -> LiveConnection | None:
    return request.app[REGISTRY].get(request.match_info["connection_id"])


async def post_to_connection(request: web.Request) -> web.Response:
    live = _live(request)
    if live is None:
        return _gone()
    data = await request.read()
    if len(data) > request.app[MAX_BYTES]:
        return _error(413, "PayloadTooLargeException", "Payload too large")
    # Never waits for the client: one that stopped reading is closed (1013) and is then gone.
    if not request.app[WRITER].write([live], _as_frame(data)):
        return _gone()
    request.app[REGISTRY].touch(live)
    return web.Response(status=200)


async def get_connection(request: web.Request) -> web.Response:
    live = _live(request)
    if live is None:
        return _gone()
    info: dict[str, Any] = {
        "connectedAt": iso_utc(live.info.connected_at),
        "identity": {"sourceIp": live.info.source_ip, "userAgent": live.info.user_agent},
        "lastActiveAt": iso_utc(live.last_active_at),
    }
    return web.json_response(info)


async def delete_connection(request: web.Request) -> web.Response:
    live = _live(request)
    if live is None:
        return _gone()
    await live.socket.close(1000, "Closed by the server")
    return web.Response(status=204)


def _as_frame(data: bytes) -> str | bytes:
    """API Gateway sends text frames for UTF-8 payloads, which is all Sotto posts."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data
