"""Answers on a laptop: the exported Parquet files, copied from S3 (or from the local stack's
moto bucket) into a folder, and DuckDB over them with one view per event type named as the
Redshift table is, so a saved query runs unchanged on both."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from analytics.export import ParquetExporter
from analytics.layout import EVENTS_PREFIX, PartitionFile, type_prefix
from analytics.schema import EVENTS, EventSchema

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Progress = Callable[[Iterable[Any]], Iterable[Any]]


def _no_progress(items: Iterable[Any]) -> Iterable[Any]:
    return items


@dataclass(frozen=True)
class SyncReport:
    downloaded: int
    removed: int
    files: int


def sync_exports(
    s3: S3Client, bucket: str, folder: Path, progress: Progress = _no_progress
) -> SyncReport:
    """Make ``folder`` hold exactly the bucket's export files: fetch what is new or changed,
    drop what compaction has since replaced."""
    remote: dict[str, tuple[PartitionFile, int]] = {
        f.key: (f, size) for f, size in ParquetExporter(s3, bucket).files(EVENTS_PREFIX)
    }
    local = {p.relative_to(folder).as_posix(): p for p in folder.glob("events/**/*.parquet")}
    wanted = [
        key
        for key, (_, size) in sorted(remote.items())
        if key not in local or local[key].stat().st_size != size
    ]
    for key in progress(wanted):
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        s3.download_file(bucket, key, str(partial))
        partial.replace(target)
    stale = [path for key, path in local.items() if key not in remote]
    for path in stale:
        path.unlink()
    return SyncReport(downloaded=len(wanted), removed=len(stale), files=len(remote))


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


class LocalWarehouse:
    """DuckDB in memory over a folder laid out as the bucket is (``events/event=.../dt=...``)."""

    def __init__(self, folder: Path) -> None:
        self._connection = duckdb.connect(":memory:")
        # Days are UTC days, as in Redshift, whatever the laptop's zone.
        self._connection.execute("SET TimeZone = 'UTC'")
        for schema in EVENTS:
            self._define(schema, sorted((folder / type_prefix(schema.name)).glob("*/*.parquet")))

    def query(self, sql: str) -> QueryResult:
        cursor = self._connection.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        return QueryResult(columns, [tuple(row) for row in cursor.fetchall()])

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> LocalWarehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _define(self, schema: EventSchema, files: Sequence[Path]) -> None:
        name = schema.name
        if not files:  # no events of this type yet: an empty table of the right shape
            empty = pa.Table.from_pylist([], schema=schema.arrow_schema())
            self._connection.register(f"{name}_empty", empty)
            self._connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {name}_empty")  # noqa: S608 (a schema name)
            return
        columns = ", ".join(schema.column_names)
        listed = ", ".join(_sql_text(str(path)) for path in files)
        # One row per event_id, as the Redshift load keeps it: until a day is compacted, an
        # event written twice (a batch re-delivered in other boundaries) is in two files.
        source = f"read_parquet([{listed}])"
        dedup = "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY occurred_at) = 1"
        view = f"CREATE VIEW {name} AS SELECT {columns} FROM {source} {dedup}"  # noqa: S608 (schema names, quoted paths)
        self._connection.execute(view)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str  # the comment's first line
    sql: str


def saved_queries() -> list[SavedQuery]:
    """The shipped queries (``analytics/queries/*.sql``), the same SQL Redshift runs."""
    folder = resources.files("analytics") / "queries"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            sql = entry.read_text()
            title = sql.splitlines()[0].removeprefix("--").strip()
            found.append(SavedQuery(entry.name.removesuffix(".sql"), title, sql))
    return found


def saved_query(name: str) -> SavedQuery:
    for query in saved_queries():
        if query.name == name:
            return query
    raise KeyError(name)
