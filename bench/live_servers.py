"""Server processes for the live-path benchmark (``bench/live.py``), each its own process.

    python -m bench.live_servers moto                        moto's server, timing each request
    python -m bench.live_servers baseline <redis-url> <ch>   bare websockets + Redis subscriber

Both print ``ready <port>`` and then obey lines on stdin:

- moto: ``stats`` prints one JSON line, ``{operation: [requests, seconds, 5xx answers, slowest]}``
  since the last ``stats`` (the seconds are moto's own time to answer, measured around its
  WSGI app), and
  ``quit``. The stack is pointed at this moto with ``AWS_ENDPOINT_URL``, so moto's CPU is
  counted apart from the stack's.
- baseline: ``count`` prints ``count <open connections>``, and ``quit``.
- both: ``cpu`` prints ``cpu <seconds>``, the process's CPU time to the microsecond (psutil's
  clock ticks are too coarse for the baseline's few milliseconds a round). Whatever is published
  on the channel is passed to ``websockets.broadcast()`` for every open connection.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from websockets.asyncio.server import ServerConnection, broadcast, serve
from werkzeug.serving import make_server

from local_gateway.limits import GatewayLimits

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


class TimedApp:
    """WSGI middleware around moto's app: counts requests and moto's time, by operation
    (DynamoDB operations also by table and index)."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._stats: dict[str, list[float]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        key = operation(environ)
        statuses: list[str] = []

        def record_status(status: str, *args: Any) -> Any:
            statuses.append(status)
            return start_response(status, *args)

        started = time.perf_counter()
        result = self._app(environ, record_status)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter() - started
        with self._lock:
            entry = self._stats.setdefault(key, [0, 0.0, 0, 0.0])
            entry[0] += 1
            entry[1] += elapsed
            entry[2] += any(status.startswith("5") for status in statuses)
            entry[3] = max(entry[3], elapsed)
        return [body]

    def take(self) -> dict[str, list[float]]:
        with self._lock:
            stats, self._stats = self._stats, {}
        return stats


def operation(environ: dict[str, Any]) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target.startswith("DynamoDB_"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return f"dynamodb {target.split('.', 1)[1]} {dynamodb_tables(body)}"
    if target:
        return f"{target.split('.', 1)[0]} {target.rsplit('.', 1)[-1]}"
    found = SERVICE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return f"{found.group(1) if found else 'unsigned'} {environ.get('REQUEST_METHOD', '')}"


def dynamodb_tables(body: bytes) -> str:
    """``table`` or ``table/index`` (stage prefix dropped); several for transactions and batches."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return "?"
    names: set[str] = set()
    if "TableName" in request:
        index = request.get("IndexName")
        names.add(str(request["TableName"]) + (f"/{index}" if index else ""))
    for item in request.get("TransactItems", []):
        names.update(str(part.get("TableName", "?")) for part in item.values())
    names.update(str(table) for table in request.get("RequestItems", {}))
    return "+".join(sorted(name.rsplit("-", 1)[-1] for name in names))


def moto() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # as the launcher does
    app = TimedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="moto").start()
    print(f"ready {server.server_address[1]}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "stats":
            print(json.dumps(app.take()), flush=True)
        elif command == "cpu":
            print(f"cpu {time.process_time():.6f}", flush=True)
        elif command == "quit":
            break
    server.shutdown()


async def baseline(redis_url: str, channel: str) -> None:
    """A bare websockets server (compression off, API Gateway's frame limits) whose Redis
    subscriber broadcasts every published payload to every open connection."""
    connections: set[ServerConnection] = set()

    async def handler(socket: ServerConnection) -> None:
        connections.add(socket)
        try:
            await socket.wait_closed()
        finally:
            connections.discard(socket)

    subscribed = asyncio.Event()

    async def subscribe() -> None:
        client = aioredis.from_url(redis_url)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(channel)
                subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        data = message["data"]
                        broadcast(connections, data.decode() if isinstance(data, bytes) else data)
        finally:
            await client.aclose()

    limits = GatewayLimits()
    max_size = (limits.max_message_bytes, limits.max_frame_bytes)
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=max_size) as server:
        subscriber = asyncio.create_task(subscribe())
        await asyncio.wait_for(subscribed.wait(), 10)
        print(f"ready {next(iter(server.sockets)).getsockname()[1]}", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            command = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if command == "count":
                print(f"count {len(connections)}", flush=True)
            elif command == "cpu":
                print(f"cpu {time.process_time():.6f}", flush=True)
            elif command in ("quit", ""):
                break
        subscriber.cancel()


if __name__ == "__main__":
    if sys.argv[1] == "moto":
        moto()
    else:
        asyncio.run(baseline(sys.argv[2], sys.argv[3]))
