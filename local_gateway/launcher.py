"""One command runs all of Sotto on a laptop: moto's server for AWS, Redis (real when
``REDIS_URL`` is set, else fakeredis over TCP), the local gateway and the fan-out subscriber.

Handlers run in this process exactly as Lambda runs them; they find their resources through the
same environment variables that ``serverless.yml`` sets in AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import threading
from collections.abc import MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web
from fakeredis import TcpFakeServer
from moto.server import ThreadedMotoServer

import sotto_cli
import verification
from chat.bus import FanoutSubscriber, fanout_channel
from chat.deps import load as load_chat
from common import runtime
from common.clients import Clients
from common.settings import Settings
from connections.deps import load as load_connections
from local_gateway.delivery import GatewayDelivery
from local_gateway.http_api import HttpApi, StaticSite
from local_gateway.invoker import LambdaInvoker
from local_gateway.limits import GatewayLimits
from local_gateway.provision import (
    QUEUE_VISIBILITY_SECONDS,
    DemoUser,
    UserPool,
    ensure_demo_users,
    ensure_platform_applications,
    provision,
)
from local_gateway.queues import SqsEventSource
from local_gateway.rekognition import rekognition_app
from local_gateway.routes import (
    AUTHORIZER,
    HTTP_ROUTES,
    QUEUE_FUNCTIONS,
    SCHEDULED_FUNCTIONS,
    STREAM_FUNCTIONS,
    load_function,
    load_routes,
)
from local_gateway.schedules import ScheduleSource
from local_gateway.server import GatewayConfig, LocalGateway
from local_gateway.streams import DynamoDbStreamEventSource

log = logging.getLogger("sotto.launcher")

# The moderators' console: static files that ship with the verification package.
CONSOLE_DIRECTORY = Path(verification.__file__).parent / "console"
# The web client: static files that ship with the clients' package.
WEB_CLIENT_DIRECTORY = Path(sotto_cli.__file__).parent / "web"

# moto accepts any credentials; boto3 only needs some to sign with.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sotto-local", "AWS_SECRET_ACCESS_KEY": "sotto-local"}


class PortInUse(RuntimeError):
    pass


@dataclass(frozen=True)
class StackInfo:
    """What a client needs to use the stack; written to the info file and printed."""

    ws_url: str
    management_endpoint: str
    http_api_url: str
    aws_endpoint: str
    region: str
    user_pool_id: str
    client_id: str
    redis_url: str
    fake_redis: bool
    analytics_bucket: str = ""
    demo_users: list[DemoUser] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class LocalStack:
    """Starts and stops the whole local stack inside the running event loop."""

    def __init__(self, env: MutableMapping[str, str]) -> None:
        self._env = env
        self._settings = Settings.from_env(env)
        self._moto: ThreadedMotoServer | None = None
        self._fake_redis: TcpFakeServer | None = None
        self._gateway: LocalGateway | None = None
        self._http_api: HttpApi | None = None
        self._http_api_runner: web.AppRunner | None = None
        self._rekognition_runner: web.AppRunner | None = None
        self._subscriber_task: asyncio.Task[None] | None = None
        self._queue_tasks: list[asyncio.Task[None]] = []
        # Queue- and stream-triggered functions run as Lambda would, each batch within its timeout.
        self._queue_invoker = LambdaInvoker(QUEUE_VISIBILITY_SECONDS - 10, concurrency=4)

    @property
    def gateway(self) -> LocalGateway:
        assert self._gateway is not None, "start() first"
        return self._gateway

    async def start(self) -> StackInfo:
        """AWS and Redis first, then resources, then the gateway: handlers find all they need
        in the environment by the time the first socket connects."""
        settings = self._settings
        _check_free(settings.gateway_host, settings.gateway_ws_port, "SOTTO_GATEWAY_WS_PORT")
        _check_free(settings.gateway_host, settings.gateway_http_port, "SOTTO_GATEWAY_HTTP_PORT")
        _check_free(settings.gateway_host, settings.gateway_api_port, "SOTTO_GATEWAY_API_PORT")
        aws_endpoint = settings.endpoint_url or self._start_moto()
        redis_url = settings.redis_url or self._start_fake_redis()
        self._export(AWS_ENDPOINT_URL=aws_endpoint, REDIS_URL=redis_url, AWS_REGION=settings.region)
        clients = Clients(Settings.from_env(self._env))
        if "rekognition" not in settings.service_endpoints:  # unless one was given
            self._export(AWS_ENDPOINT_URL_REKOGNITION=await self._start_rekognition(clients))
        pool = await asyncio.to_thread(provision, clients)
        self._export(**await asyncio.to_thread(ensure_platform_applications, clients))
        users = await asyncio.to_thread(ensure_demo_users, clients, pool)

        self._gateway = self._new_gateway()
        management = await self._gateway.start_http()
        self._export(
            SOTTO_COGNITO_USER_POOL_ID=pool.pool_id,
            SOTTO_COGNITO_CLIENT_ID=pool.client_id,
            SOTTO_MANAGEMENT_ENDPOINT=management,
        )
        await self._start_subscriber(redis_url)
        await self._start_queue_consumers(clients)
        await self._start_stream_consumers(clients)
        self._start_schedules()
        ws_url = await self._gateway.start_websocket()
        # Nobody connects before start() returns the URLs: the pages' origins are allowed in time.
        http_api_url = await self._start_http_api(pool, ws_url, users)
        return StackInfo(
            ws_url=ws_url,
            management_endpoint=management,
            http_api_url=http_api_url,
            aws_endpoint=aws_endpoint,
            region=settings.region,
            user_pool_id=pool.pool_id,
            client_id=pool.client_id,
            redis_url=redis_url,
            fake_redis=not settings.redis_url,
            analytics_bucket=settings.analytics_bucket,
            demo_users=users,
        )

    def _export(self, **values: str) -> None:
        """Hand settings to the handlers the way Lambda does: through the environment."""
        for key, value in LOCAL_CREDENTIALS.items():
            self._env.setdefault(key, value)
        # No EMF lines among the console's: metrics are for CloudWatch.
        self._env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        self._env.update(values)
        runtime.reset()  # the next handler reads the environment afresh

    def _new_gateway(self) -> LocalGateway:
        settings = self._settings
        config = GatewayConfig(
            host=settings.gateway_host,
            ws_port=settings.gateway_ws_port,
            http_port=settings.gateway_http_port,
            stage=settings.stage,
            region=settings.region,
            limits=GatewayLimits(
                idle_timeout_seconds=settings.idle_timeout_seconds,
                max_lifetime_seconds=settings.max_connection_seconds,
                max_outbound_buffer_bytes=settings.max_outbound_buffer_bytes,
            ),
        )
        return LocalGateway(config, routes=load_routes(), authorizer=load_function(AUTHORIZER))

    async def stop(self) -> None:
        for task in [
            *self._queue_tasks,
            *([self._subscriber_task] if self._subscriber_task else []),
        ]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queue_invoker.close()
        for runner in (self._http_api_runner, self._rekognition_runner):
            if runner is not None:
                await runner.cleanup()
        if self._http_api is not None:
            self._http_api.close()
        if self._gateway is not None:
            await self._gateway.stop()
        runtime.reset()
        if self._fake_redis is not None:
            self._fake_redis.shutdown()
            self._fake_redis.server_close()
        if self._moto is not None:
            self._moto.stop()

    async def _start_rekognition(self, clients: Clients) -> str:
        """moto has no DetectFaces: a stand-in speaking its protocol (see its module)."""
        self._rekognition_runner = web.AppRunner(rekognition_app(clients.s3), access_log=None)
        await self._rekognition_runner.setup()
        host = self._settings.gateway_host
        await web.TCPSite(self._rekognition_runner, host, 0).start()
        return f"http://{host}:{self._rekognition_runner.addresses[0][1]}"

    async def _start_http_api(self, pool: UserPool, ws_url: str, users: list[DemoUser]) -> str:
        """The HTTP API, its JWT authorizer verifying tokens as the WebSocket authorizer does,
        and beside it the moderators' console and the web client (same origin: the pages call
        the API directly), whose origin the WebSocket API then allows."""
        verifier = load_connections().verifier
        settings = Settings.from_env(self._env)
        cognito = {
            "cognitoEndpoint": settings.endpoint_for("cognito-idp")
            or f"https://cognito-idp.{settings.region}.amazonaws.com/",
            "clientId": pool.client_id,
            "region": settings.region,
            "apiBase": "",
        }
        console = StaticSite(prefix="/console", directory=CONSOLE_DIRECTORY, config=cognito)
        web_client = StaticSite(
            prefix="/app",
            directory=WEB_CLIENT_DIRECTORY,
            config={**cognito, **web_client_extras(ws_url, users)},
        )
        self._http_api = HttpApi(
            load_routes(HTTP_ROUTES), verifier.verified_claims, sites=(console, web_client)
        )
        self._http_api_runner = web.AppRunner(self._http_api.app(), access_log=None)
        await self._http_api_runner.setup()
        host = self._settings.gateway_host
        await web.TCPSite(self._http_api_runner, host, self._settings.gateway_api_port).start()
        url = f"http://{host}:{self._http_api_runner.addresses[0][1]}"
        self._export(SOTTO_ALLOWED_ORIGINS=with_page_origins(settings.allowed_origins, url))
        return url

    async def _start_subscriber(self, redis_url: str) -> None:
        chat = load_chat()
        fanout = chat.fanout(GatewayDelivery(self.gateway.registry, self.gateway.writer))
        subscriber = FanoutSubscriber(
            connect=lambda: aioredis.from_url(redis_url),
            channel=fanout_channel(self._settings.redis_namespace),
            handle=fanout.fan_out,
            after_outage=lambda: asyncio.to_thread(chat.connections.distrust_index),
        )
        self._subscriber_task = asyncio.create_task(subscriber.run(), name="fanout-subscriber")
        await asyncio.wait_for(subscriber.wait_subscribed(), timeout=10)

    async def _start_queue_consumers(self, clients: Clients) -> None:
        """What serverless.yml wires as SQS event sources, polled from moto's queues."""
        for setting, function in QUEUE_FUNCTIONS.items():
            name = getattr(self._settings, setting)
            url = (await asyncio.to_thread(clients.sqs.get_queue_url, QueueName=name))["QueueUrl"]
            source = SqsEventSource(
                clients.sqs,
                url,
                load_function(function),
                self._queue_invoker,
                region=self._settings.region,
            )
            self._queue_tasks.append(asyncio.create_task(source.run(), name=f"queue:{name}"))

    async def _start_stream_consumers(self, clients: Clients) -> None:
        """What serverless.yml wires as DynamoDB stream event sources."""
        for function, settings in STREAM_FUNCTIONS.items():
            for setting in settings:
                table = getattr(self._settings, setting)
                described = await asyncio.to_thread(
                    clients.dynamodb.describe_table, TableName=table
                )
                source = DynamoDbStreamEventSource(
                    clients.dynamodb_streams,
                    described["Table"]["LatestStreamArn"],
                    load_function(function),
                    self._queue_invoker,
                    region=self._settings.region,
                )
                name = f"stream:{table}:{function}"
                self._queue_tasks.append(asyncio.create_task(source.run(), name=name))

    def _start_schedules(self) -> None:
        """What serverless.yml wires as EventBridge schedules, at their local pace."""
        for function, schedule in SCHEDULED_FUNCTIONS.items():
            source = ScheduleSource(
                function.rsplit(".", 1)[-1],
                load_function(function),
                self._queue_invoker,
                every_seconds=schedule.local_seconds,
                region=self._settings.region,
            )
            name = f"schedule:{function}"
            self._queue_tasks.append(asyncio.create_task(source.run(), name=name))

    def _start_moto(self) -> str:
        host, port = self._settings.gateway_host, self._settings.local_aws_port
        _check_free(host, port, "SOTTO_LOCAL_AWS_PORT")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._moto.start()
        bound_host, bound_port = self._moto.get_host_and_port()
        return f"http://{bound_host}:{bound_port}"

    def _start_fake_redis(self) -> str:
        server = TcpFakeServer((self._settings.gateway_host, 0))
        server.daemon_threads = True
        server.block_on_close = False
        threading.Thread(target=server.serve_forever, daemon=True, name="fakeredis").start()
        self._fake_redis = server
        return f"redis://{self._settings.gateway_host}:{server.server_address[1]}"


def _check_free(host: str, port: int, key: str) -> None:
    """Fail with the setting to change rather than hang or print a bind traceback."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUse(f"{host}:{port} is in use; set {key} to another port") from None


def web_client_extras(ws_url: str, users: Sequence[DemoUser]) -> dict[str, object]:
    """What the web client's config.json has locally beyond Cognito and the HTTP API: the
    WebSocket URL, the demo users to sign in as, and that moto confirms any sign-up code."""
    return {
        "wsUrl": ws_url,
        "demoUsers": [
            {"username": u.username, "displayName": u.display_name, "password": u.password}
            for u in users
            if not u.groups  # the moderator has the console
        ],
        "anyConfirmationCode": True,
    }


def with_page_origins(configured: str | None, page_url: str) -> str:
    """``SOTTO_ALLOWED_ORIGINS`` with the local pages' origin (also as ``localhost``) added:
    browsers send ``Origin``, and the web client must be able to connect."""
    origins = [o for o in (configured or "").split(",") if o.strip()]
    origins.append(page_url)
    if "://127.0.0.1:" in page_url:
        origins.append(page_url.replace("://127.0.0.1:", "://localhost:"))
    return ",".join(origins)


def banner(info: StackInfo, info_file: Path | None) -> str:
    users = "\n".join(
        f"    {u.username:<8} password {u.password:<14} user id {u.user_id}"
        + (f"   ({', '.join(u.groups)})" if u.groups else "")
        for u in info.demo_users
    )
    by_name = {u.username: u for u in info.demo_users}
    alice, bob = (
        by_name.get("alice", DemoUser("alice", "", "?")),
        by_name.get("bob", DemoUser("bob", "", "?")),
    )
    return f"""
Sotto is running locally.

  WebSocket API      {info.ws_url}?token=<Cognito ID or access token>
  @connections API   {info.management_endpoint}
  HTTP API           {info.http_api_url}   (Authorization: Bearer <token>)
  Web client         {info.http_api_url}/app/   (sign in as alice in one window, bob in another)
  Moderation console {info.http_api_url}/console/   (sign in as a moderator)
  AWS endpoint       {info.aws_endpoint}   (moto; region {info.region})
  Redis              {"fakeredis at " if info.fake_redis else ""}{info.redis_url}
  Cognito user pool  {info.user_pool_id}
  Cognito app client {info.client_id}   (sign in with USER_PASSWORD_AUTH)
  Analytics exports  s3://{info.analytics_bucket}/events/   (sotto analytics query|report)

  Demo users:
{users}

  Try it, in two more terminals:
    .venv/bin/sotto listen --user {bob.username} --password {bob.password}
    .venv/bin/sotto say --user {alice.username} --password {alice.password} --to {bob.username} --tone 2
  (or: sotto say ... --to bob path/to/clip.wav)
    .venv/bin/sotto analytics report   (then open .sotto/report/index.html)
{f"  Client settings written to {info_file}" if info_file else ""}
Press Ctrl+C to stop.
"""


async def serve(env: MutableMapping[str, str], info_file: Path | None) -> None:
    """Run until SIGINT or SIGTERM."""
    stack = LocalStack(env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        info = await stack.start()
        if info_file is not None:
            info_file.parent.mkdir(parents=True, exist_ok=True)
            # Whole or not at all: a client polling for the file never reads half of it.
            partial = info_file.with_name(info_file.name + ".partial")
            partial.write_text(info.to_json())
            partial.replace(info_file)
        print(banner(info, info_file), flush=True)
        await stop.wait()
    finally:
        await stack.stop()
        if info_file is not None:
            info_file.unlink(missing_ok=True)
