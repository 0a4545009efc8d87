"""Invokes handler functions as Lambda would: a thread each, a context, a timeout."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from common.logs import get_logger
from local_gateway.routes import LambdaFunction

log = get_logger("gateway")


class FakeLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(
        self,
        function_name: str,
        request_id: str,
        deadline: float,
        monotonic: Callable[[], float],
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = 256
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = deadline
        self._monotonic = monotonic

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    response: dict[str, Any] | None
    error: str | None = None  # Lambda's errorMessage when the function raised
    timed_out: bool = False


class LambdaInvoker:
    def __init__(
        self,
        timeout_seconds: float,
        concurrency: int = 32,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lambda")

    async def invoke(
        self, function: LambdaFunction, event: Mapping[str, Any], request_id: str
    ) -> Invocation:
        name = getattr(function, "__name__", "handler")
        context = FakeLambdaContext(
            name, request_id, self._monotonic() + self._timeout, self._monotonic
        )
        call = functools.partial(function, event, context)
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        try:
            response = await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            log.warning("%s timed out after %.0fs", name, self._timeout)
            return Invocation(None, error="Task timed out", timed_out=True)
        except Exception as exc:  # a function that raises is a failed invocation, as in Lambda
            if str(exc) != "Unauthorized":
                log.error("%s raised %s: %s", name, type(exc).__name__, exc)
            return Invocation(None, error=str(exc))
        return Invocation(response if isinstance(response, dict) else {})

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
