"""The fan-out service in AWS: a long-running process (a task on ECS Fargate, in the VPC) that
subscribes to the fan-out channel on Redis and delivers each event through API Gateway's
Management API. The same subscriber and fan-out run in the local gateway, where delivery is
the gateway's own sockets; here it is ``SignedManagementApi``.

    python -m chat.fanout_service

Settings come from the environment like every function's (``REDIS_URL``,
``SOTTO_MANAGEMENT_ENDPOINT``, ``SOTTO_STAGE``...). SIGTERM (ECS stopping the task) ends it
cleanly: the subscription is closed and the last deliveries finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import redis.asyncio as aioredis

from chat.bus import FanoutSubscriber, fanout_channel
from chat.deps import ChatDeps, load
from common.logs import configure, get_logger
from common.observability import flush
from common.runtime import process_settings

log = get_logger("fanout.service")

METRICS_SECONDS = 60


async def serve(deps: ChatDeps, stop: asyncio.Event) -> None:
    """Deliver until ``stop`` is set."""
    settings = deps.settings
    delivery = deps.management_delivery(settings.require("management_endpoint"))
    fanout = deps.fanout(delivery)
    subscriber = FanoutSubscriber(
        connect=lambda: aioredis.from_url(settings.require("redis_url")),
        channel=fanout_channel(settings.redis_namespace),
        handle=fanout.fan_out,
        after_outage=lambda: asyncio.to_thread(deps.connections.distrust_index),
    )
    task = asyncio.create_task(subscriber.run(), name="fanout-subscriber")
    metrics = asyncio.create_task(_flush_metrics_every(METRICS_SECONDS), name="metrics")
    try:
        await asyncio.wait_for(subscriber.wait_subscribed(), timeout=30)
        log.info("fan-out service subscribed; delivering to %s", delivery.endpoint)
        await stop.wait()
    finally:
        for running in (task, metrics):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        await delivery.close()
        flush()
        log.info("fan-out service stopped")


async def _flush_metrics_every(seconds: float) -> None:
    """Deliveries, gone connections and lag as EMF lines, a minute's worth at a time."""
    while True:
        await asyncio.sleep(seconds)
        flush()


async def main() -> None:
    configure(process_settings().log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(load(), stop)


if __name__ == "__main__":
    asyncio.run(main())
