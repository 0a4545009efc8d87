"""EventBridge schedules, locally: invoke a function with a ``Scheduled Event`` every so
often (the schedule's local interval, not its AWS expression: a laptop wants answers in
seconds). A run that fails is logged and the next one comes on time, as in AWS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from common.logs import get_logger
from local_gateway.invoker import LambdaInvoker
from local_gateway.routes import LambdaFunction

log = get_logger("schedules")

LOCAL_ACCOUNT = "123456789012"


def scheduled_event(rule: str, at: datetime, region: str) -> dict[str, Any]:
    """The event an EventBridge schedule rule hands its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


class ScheduleSource:
    def __init__(
        self,
        rule: str,
        function: LambdaFunction,
        invoker: LambdaInvoker,
        *,
        every_seconds: float,
        region: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rule = rule
        self._function = function
        self._invoker = invoker
        self._every = every_seconds
        self._region = region
        self._now = now

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self.fire()

    async def fire(self) -> bool:
        """One run now; True when the function succeeded."""
        event = scheduled_event(self._rule, self._now(), self._region)
        outcome = await self._invoker.invoke(self._function, event, uuid.uuid4().hex)
        if outcome.error is not None:
            log.warning("schedule %s: the run failed: %s", self._rule, outcome.error)
            return False
        return True
