"""Where exports live in the analytics bucket: Hive-style partitions by event type and day,
``events/event=<type>/dt=YYYY-MM-DD/<file>.parquet``, so that DuckDB, Redshift COPY and
Redshift Spectrum all read the same files."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

EVENTS_PREFIX = "events/"
MANIFESTS_PREFIX = "manifests/"
PART = "part"  # written per batch
COMPACTED = "compacted"  # one per partition after the daily compaction

_KEY = re.compile(
    r"^events/event=(?P<type>[a-z_]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?P<kind>part|compacted)-(?P<digest>[0-9a-f]{32})\.parquet$"
)


@dataclass(frozen=True)
class PartitionFile:
    key: str
    event_type: str
    day: date
    compacted: bool


def partition_prefix(event_type: str, day: date) -> str:
    return f"{EVENTS_PREFIX}event={event_type}/dt={day.isoformat()}/"


def type_prefix(event_type: str) -> str:
    return f"{EVENTS_PREFIX}event={event_type}/"


def file_key(event_type: str, day: date, event_ids: Iterable[str], *, compacted: bool) -> str:
    """Named after what it holds: the same events always make the same key, so writing a
    re-delivered batch again replaces the file instead of adding a second copy."""
    digest = hashlib.sha256("\n".join(sorted(event_ids)).encode()).hexdigest()[:32]
    kind = COMPACTED if compacted else PART
    return f"{partition_prefix(event_type, day)}{kind}-{digest}.parquet"


def parse_key(key: str) -> PartitionFile | None:
    """The partition a key belongs to; None for anything that is not an export file."""
    match = _KEY.match(key)
    if match is None:
        return None
    return PartitionFile(
        key=key,
        event_type=match["type"],
        day=date.fromisoformat(match["day"]),
        compacted=match["kind"] == COMPACTED,
    )


def manifest_key(event_type: str, day: date) -> str:
    return f"{MANIFESTS_PREFIX}{event_type}/{day.isoformat()}.manifest"
