"""Parquet exports on S3: one file per event type and day for each batch handed over, and a
daily compaction that folds a day's files into one, without duplicates.

Files are named after the events they hold (``analytics.layout.file_key``): writing the same
batch twice writes the same key with the same content. Whatever else duplicates an event (a
batch re-delivered with different boundaries) is removed by ``event_id`` when the day is
compacted, and by the readers' views before then.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.layout import EVENTS_PREFIX, PartitionFile, file_key, parse_key, partition_prefix
from analytics.model import AnalyticsEvent
from analytics.schema import schema_of
from common.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = get_logger("analytics.export")

COMPRESSION: Final = "zstd"
ROW_GROUP_ROWS = 128 * 1024


def to_table(event_type: str, events: Sequence[AnalyticsEvent]) -> pa.Table:
    """The events of one type as an Arrow table of that type's schema (column order included)."""
    schema = schema_of(event_type).arrow_schema()
    columns = {name: [event.row[name] for event in events] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=COMPRESSION, row_group_size=ROW_GROUP_ROWS)
    return sink.getvalue()


def read_parquet(data: bytes, event_type: str) -> pa.Table:
    """A file's rows in the type's current schema (columns in schema order)."""
    table = pq.read_table(io.BytesIO(data))
    return table.select(schema_of(event_type).arrow_schema().names)


def without_duplicates(table: pa.Table) -> pa.Table:
    """The first row of each ``event_id``, in time order."""
    ordered = table.sort_by([("occurred_at", "ascending"), ("event_id", "ascending")])
    seen: set[str] = set()
    keep = []
    for event_id in ordered.column("event_id").to_pylist():
        keep.append(event_id not in seen)
        seen.add(str(event_id))
    return ordered.filter(pa.array(keep, type=pa.bool_()))


@dataclass(frozen=True)
class Written:
    key: str
    rows: int


class ParquetExporter:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def write(self, events: Iterable[AnalyticsEvent]) -> list[Written]:
        """One file per event type and day present in ``events``."""
        written = []
        for (event_type, day), group in sorted(_partitions(events).items()):
            unique = {event.event_id: event for event in group}
            key = file_key(event_type, day, unique, compacted=False)
            table = to_table(event_type, list(unique.values()))
            self._put(key, parquet_bytes(table))
            written.append(Written(key, table.num_rows))
        log.info("exported %d file(s)", len(written))
        return written

    def files(self, prefix: str = EVENTS_PREFIX) -> Iterator[tuple[PartitionFile, int]]:
        """Every export file under ``prefix``, with its size."""
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for listed in page.get("Contents", []):
                parsed = parse_key(listed["Key"])
                if parsed is not None:
                    yield parsed, int(listed.get("Size", 0))

    def days(self) -> list[date]:
        return sorted({f.day for f, _ in self.files()})

    def compact(
        self,
        day: date,
        event_types: Sequence[str],
        progress: Callable[[Iterable[str]], Iterable[str]] = lambda items: items,
    ) -> list[Written]:
        """Fold each of the day's partitions into one file without duplicates; a partition that
        already is one compacted file is left alone, so compacting again changes nothing."""
        written = []
        for event_type in progress(event_types):
            done = self._compact_partition(event_type, day)
            if done is not None:
                written.append(done)
        return written

    def _compact_partition(self, event_type: str, day: date) -> Written | None:
        present = [f for f, _ in self.files(partition_prefix(event_type, day))]
        if not present or (len(present) == 1 and present[0].compacted):
            return None
        inputs = [f.key for f in present]
        tables = [read_parquet(self._get(key), event_type) for key in inputs]
        table = without_duplicates(pa.concat_tables(tables))
        ids = [str(i) for i in pc.unique(table.column("event_id")).to_pylist()]
        key = file_key(event_type, day, ids, compacted=True)
        self._put(key, parquet_bytes(table))
        # Only what was read goes: a batch exported meanwhile waits for the next compaction.
        stale = [k for k in inputs if k != key]
        for start in range(0, len(stale), 1000):
            self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]]},
            )
        log.info("compacted %s %s: %d file(s), %d row(s)", event_type, day, len(inputs), len(ids))
        return Written(key, table.num_rows)

    def _put(self, key: str, body: bytes) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet"
        )

    def _get(self, key: str) -> bytes:
        return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()


def _partitions(
    events: Iterable[AnalyticsEvent],
) -> dict[tuple[str, date], list[AnalyticsEvent]]:
    grouped: dict[tuple[str, date], list[AnalyticsEvent]] = defaultdict(list)
    for event in events:
        grouped[(event.event_type, event.day)].append(event)
    return grouped
