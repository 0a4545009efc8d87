"""Structured logs with correlation ids; never tokens, bodies or presigned URLs. In Lambda and
the fan-out service each line is Powertools Logger's JSON; on the local console, short lines."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

_correlation: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "sotto_correlation", default=None
)


@contextmanager
def correlation(**ids: str) -> Iterator[None]:
    """Attach ids (connection, request, message) to every log line written inside the block."""
    token = _correlation.set({**(_correlation.get() or {}), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _correlation.reset(token)


class CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation = _correlation.get() or {}
        return True


class JsonFormatter(LambdaPowertoolsFormatter):
    """Powertools Logger's JSON line (level, location, message, timestamp, service, and the X-Ray
    trace id in Lambda), with the correlation ids as keys of their own, as CloudWatch Logs
    Insights likes it."""

    def format(self, record: logging.LogRecord) -> str:
        for key, value in record.__dict__.pop("correlation", {}).items():
            setattr(record, key, value)
        return str(super().format(record))


class ConsoleFormatter(logging.Formatter):
    """Short human lines for the local console."""

    def format(self, record: logging.LogRecord) -> str:
        ids = getattr(record, "correlation", {})
        suffix = f"  [{' '.join(f'{k}={v}' for k, v in ids.items())}]" if ids else ""
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.getMessage()}{suffix}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str, *, human: bool = False) -> None:
    """Set up the root ``sotto`` logger once (Lambda, the launcher and the fan-out service)."""
    logger = logging.getLogger("sotto")
    logger.setLevel(level)
    if any(getattr(h, "_sotto", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(ConsoleFormatter() if human else JsonFormatter())
    handler.addFilter(CorrelationFilter())
    handler._sotto = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"sotto.{name}")
