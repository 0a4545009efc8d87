"""Injected time and ids, so that TTLs, ordering and expiry are testable."""

from __future__ import annotations

import base64
import itertools
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as the protocol writes times."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class IdFactory(Protocol):
    def new(self, prefix: str) -> str:
        """A fresh id that starts with ``prefix`` and an underscore."""
        ...


class RandomIds:
    """Time-ordered, unguessable ids: 48 bits of milliseconds then 80 random bits, base32."""

    def new(self, prefix: str) -> str:
        millis = time.time_ns() // 1_000_000
        raw = millis.to_bytes(6, "big") + os.urandom(10)
        return f"{prefix}_{base64.b32encode(raw).decode().rstrip('=').lower()}"


class SequentialIds:
    """Predictable ids for tests."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def new(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter):06d}"
