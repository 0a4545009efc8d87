"""Metrics and traces, as CloudWatch and X-Ray take them from Lambda and from the fan-out
service (Powertools):

- **metrics** are CloudWatch EMF lines in the log (namespace ``Sotto``, dimension ``service``:
  ``POWERTOOLS_SERVICE_NAME``): counts and timings that the alarms and the dashboard in
  stack/monitoring.yml read. Handlers flush them at the end of each invocation
  (``common.handler``), the fan-out service every minute; with ``POWERTOOLS_METRICS_DISABLED``
  (the local stack) nothing is printed.
- **traces**: each invocation is a subsegment named after its route, and the tracer patches
  boto3 and the HTTP clients, so each AWS call is a subsegment within it. It only runs in
  Lambda with active tracing; elsewhere it is off by itself.

Never tokens, bodies or ids of people: metric values are numbers, annotations route names.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

NAMESPACE = "Sotto"

# The names the alarms and the dashboard use.
MESSAGES_SENT = "MessagesSent"
DELIVERIES = "Deliveries"
GONE_CONNECTIONS = "GoneConnections"
FANOUT_LAG = "FanoutLag"
CLIP_PROCESSING_TIME = "ClipProcessingTime"
PUSHES = "Pushes"
# A verification step's outcome (a case's new state) -> its metric.
VERIFICATION_OUTCOMES = {
    "approved": "VerificationsApproved",
    "rejected": "VerificationsRejected",
    "retry": "SelfieRetries",
    "pending_review": "SelfiesToReview",
}

_metrics = Metrics(namespace=NAMESPACE)
_tracer = Tracer()
# Powertools' metric set is not thread-safe; a Lambda container runs one invocation at a time,
# but the local gateway runs many handlers on threads of one process.
_lock = threading.Lock()
_pending = False  # flushing nothing makes Powertools warn


def count(name: str, value: float = 1) -> None:
    if value:
        _add(name, MetricUnit.Count, value)


def milliseconds(name: str, value: float) -> None:
    _add(name, MetricUnit.Milliseconds, max(0.0, value))


def _add(name: str, unit: MetricUnit, value: float) -> None:
    """Record one value; nothing at all while metrics are disabled (the local stack's fan-out
    runs for hours and never flushes)."""
    global _pending  # noqa: PLW0603 (one metric set per process, as Powertools keeps it)
    if is_metrics_disabled():
        return
    with _lock:
        _metrics.add_metric(name=name, unit=unit, value=value)
        _pending = True


def flush() -> None:
    """Print what was recorded as one EMF line (up to 100 metrics each), then start afresh;
    with metrics disabled, only start afresh."""
    global _pending  # noqa: PLW0603
    with _lock:
        if not _pending:
            return
        _pending = False
        if is_metrics_disabled():
            _metrics.clear_metrics()
        else:
            _metrics.flush_metrics()


@contextlib.contextmanager
def invocation(route: str) -> Iterator[None]:
    """Around one handler invocation: a trace subsegment named and annotated after the route
    (the AWS calls inside it are its children), and the metrics flushed whatever happens."""
    try:
        if _tracer.disabled:
            yield
        else:
            with _tracer.provider.in_subsegment(name=f"## {route}") as subsegment:
                subsegment.put_annotation(key="route", value=route)
                yield
    finally:
        flush()
