"""Daily loads into Redshift through the Redshift Data API (no driver, no open port): for each
event type, a manifest listing the day's Parquet files, then one batch of statements that
COPYs them into a staging table and swaps the day's rows in (``copy.sql``).

A batch runs as one transaction, so a failed load changes nothing, and loading a day again
replaces its rows: a rerun after a failure, a timeout or a late export is always safe. Run it
after the day's compaction, which removes files: a manifest naming a file compaction has
since deleted fails its COPY (every entry is mandatory), and the rerun picks up the new file.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from botocore.exceptions import ClientError

from analytics.export import ParquetExporter
from analytics.layout import manifest_key, partition_prefix
from analytics.redshift.ddl import (
    SPECTRUM_SCHEMA,
    external_table_sql,
    spectrum_schema_sql,
    split_statements,
    sql_text,
)
from analytics.schema import names, schema_of
from common.logs import get_logger

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_redshift_data.type_defs import DescribeStatementResponseTypeDef
    from mypy_boto3_s3 import S3Client

log = get_logger("analytics.redshift")

MAX_BATCH = 40  # statements in one BatchExecuteStatement
EXTERNAL_TABLES_SQL = "SELECT tablename FROM svv_external_tables WHERE schemaname = 'spectrum'"
Progress = Callable[[Iterable[str]], Iterable[str]]


def no_progress(items: Iterable[str]) -> Iterable[str]:
    return items


class RedshiftError(Exception):
    """Base of the loader's errors; ``code`` is stable, for scripts and tests."""

    code: ClassVar[str] = "redshift_error"


class InvalidTarget(RedshiftError, ValueError):
    code = "invalid_target"


class RedshiftRequestRejected(RedshiftError):
    """The Data API refused a request (no such cluster, no permission, too many statements)."""

    code = "request_rejected"


class RedshiftLoadFailed(RedshiftError):
    """A statement ended FAILED or ABORTED; ``error`` is Redshift's own text."""

    code = "statement_failed"

    def __init__(self, what: str, statement_id: str, status: str, error: str) -> None:
        super().__init__(f"{what}: {status}: {error or 'no error text'} (statement {statement_id})")
        self.statement_id = statement_id
        self.status = status
        self.error = error


class RedshiftTimedOut(RedshiftError):
    """A statement was still running at the deadline; it has been asked to cancel. The loads
    are idempotent, so running the same load again is safe either way."""

    code = "statement_timed_out"


class ConnectionParams(TypedDict, total=False):
    Database: str
    ClusterIdentifier: str
    DbUser: str
    SecretArn: str
    WorkgroupName: str


@dataclass(frozen=True)
class RedshiftTarget:
    """Where statements run: a provisioned cluster (with temporary credentials for
    ``db_user``, or a Secrets Manager secret) or a Serverless workgroup (with the caller's
    IAM identity, or a secret)."""

    database: str
    cluster_identifier: str | None = None
    db_user: str | None = None
    workgroup_name: str | None = None
    secret_arn: str | None = None

    def __post_init__(self) -> None:
        if not self.database:
            raise InvalidTarget("a database is required")
        if bool(self.cluster_identifier) == bool(self.workgroup_name):
            raise InvalidTarget("give exactly one of a cluster identifier or a workgroup name")
        if self.cluster_identifier and bool(self.db_user) == bool(self.secret_arn):
            raise InvalidTarget("a provisioned cluster needs exactly one of db_user or secret_arn")
        if self.workgroup_name and self.db_user:
            raise InvalidTarget("db_user is for provisioned clusters; a workgroup takes secret_arn")

    def params(self) -> ConnectionParams:
        params: ConnectionParams = {"Database": self.database}
        if self.cluster_identifier:
            params["ClusterIdentifier"] = self.cluster_identifier
        if self.workgroup_name:
            params["WorkgroupName"] = self.workgroup_name
        if self.db_user:
            params["DbUser"] = self.db_user
        if self.secret_arn:
            params["SecretArn"] = self.secret_arn
        return params


def manifest(bucket: str, files: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """A COPY manifest for ``(key, size)`` pairs. Every entry is mandatory (a missing file fails
    the load instead of silently loading less) and states its size: COPY of Parquet through a
    manifest requires ``meta.content_length``."""
    return {
        "entries": [
            {"url": f"s3://{bucket}/{key}", "mandatory": True, "meta": {"content_length": size}}
            for key, size in files
        ]
    }


def _template(name: str) -> str:
    return (resources.files("analytics.redshift") / name).read_text()


def copy_statements(table: str, manifest_url: str, role_arn: str) -> list[str]:
    """``copy.sql`` for one event type, split into its statements. The column list comes from
    ``analytics.schema``, and only known tables are accepted, so nothing from outside reaches
    the SQL unquoted."""
    schema = schema_of(table)
    sql = _template("copy.sql").format(
        table=schema.name,
        columns=", ".join(schema.column_names),
        manifest_url=_in_quotes(manifest_url),
        role_arn=_in_quotes(role_arn),
    )
    return split_statements(sql)


def schema_statements() -> list[str]:
    return split_statements(_template("schema.sql"))


def partition_sql(bucket: str, event_type: str, day: date) -> str:
    location = f"s3://{bucket}/{partition_prefix(schema_of(event_type).name, day)}"
    return (
        f"ALTER TABLE {SPECTRUM_SCHEMA}.{event_type} ADD IF NOT EXISTS "
        f"PARTITION (dt = {sql_text(day.isoformat())}) LOCATION {sql_text(location)}"
    )


def _in_quotes(value: str) -> str:
    """A value for a template's ``'{...}'``: the quotes are in the template."""
    return sql_text(value)[1:-1]


@dataclass(frozen=True)
class LoadedType:
    event_type: str
    files: int
    bytes: int
    statement_id: str


@dataclass(frozen=True)
class LoadReport:
    day: date
    loaded: tuple[LoadedType, ...]
    skipped: tuple[str, ...]  # no files for the day


class RedshiftLoader:
    def __init__(
        self,
        redshift_data: RedshiftDataAPIServiceClient,
        s3: S3Client,
        bucket: str,
        target: RedshiftTarget,
        role_arn: str,
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redshift = redshift_data
        self._s3 = s3
        self._bucket = bucket
        self._target = target
        self._role_arn = role_arn
        self._poll_seconds = poll_seconds
        self._timeout_seconds = timeout_seconds
        self._sleep = sleep
        self._clock = clock

    def ensure_schema(self) -> None:
        """The analytics schema and its tables (``schema.sql``), created where missing."""
        statements = schema_statements()
        for start in range(0, len(statements), MAX_BATCH):
            self._run_batch(statements[start : start + MAX_BATCH], "schema")

    def load_day(
        self,
        day: date,
        event_types: Sequence[str] | None = None,
        progress: Progress = no_progress,
    ) -> LoadReport:
        """Each type's files for ``day`` into its table; types without files are skipped."""
        loaded: list[LoadedType] = []
        skipped: list[str] = []
        exporter = ParquetExporter(self._s3, self._bucket)
        for event_type in progress(list(names() if event_types is None else event_types)):
            files = sorted(
                (f.key, size) for f, size in exporter.files(partition_prefix(event_type, day))
            )
            if not files:
                skipped.append(event_type)
                continue
            loaded.append(self._load_partition(event_type, day, files))
        return LoadReport(day, tuple(loaded), tuple(skipped))

    def ensure_spectrum(self, catalog_database: str) -> list[str]:
        """The external schema and whichever external tables are missing (CREATE EXTERNAL TABLE
        has no IF NOT EXISTS); returns the tables created."""
        schema_sql = spectrum_schema_sql().format(
            catalog_database=_in_quotes(catalog_database), role_arn=_in_quotes(self._role_arn)
        )
        self._run_one(_only_statement(schema_sql), "external schema")
        existing = set(self._external_tables())
        created = []
        for event_type in names():
            if event_type not in existing:
                sql = external_table_sql(schema_of(event_type)).format(
                    bucket=_in_quotes(self._bucket)
                )
                self._run_one(_only_statement(sql), f"external table {event_type}")
                created.append(event_type)
        return created

    def add_spectrum_partitions(self, day: date, event_types: Sequence[str]) -> None:
        """Register the day's folder of each type with Spectrum. One statement each: ALTER
        TABLE on an external table cannot run inside a transaction, which a batch is."""
        for event_type in event_types:
            self._run_one(partition_sql(self._bucket, event_type, day), f"partition {event_type}")

    def _load_partition(
        self, event_type: str, day: date, files: Sequence[tuple[str, int]]
    ) -> LoadedType:
        key = manifest_key(event_type, day)
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(manifest(self._bucket, files), indent=1).encode(),
            ContentType="application/json",
        )
        statements = copy_statements(event_type, f"s3://{self._bucket}/{key}", self._role_arn)
        statement_id = self._run_batch(statements, f"load {event_type} {day}")
        log.info("loaded %s %s: %d file(s)", event_type, day, len(files))
        return LoadedType(event_type, len(files), sum(size for _, size in files), statement_id)

    def _external_tables(self) -> list[str]:
        statement_id = self._run_one(EXTERNAL_TABLES_SQL, "list external tables")
        tables: list[str] = []
        paginator = self._redshift.get_paginator("get_statement_result")
        for page in paginator.paginate(Id=statement_id):
            tables.extend(record[0].get("stringValue", "") for record in page["Records"])
        return tables

    def _run_batch(self, statements: Sequence[str], what: str) -> str:
        try:
            submitted = self._redshift.batch_execute_statement(
                Sqls=list(statements), StatementName=_name(what), **self._target.params()
            )
        except ClientError as error:
            raise _rejected(what, error) from error
        self._wait(submitted["Id"], what)
        return submitted["Id"]

    def _run_one(self, sql: str, what: str) -> str:
        try:
            submitted = self._redshift.execute_statement(
                Sql=sql, StatementName=_name(what), **self._target.params()
            )
        except ClientError as error:
            raise _rejected(what, error) from error
        self._wait(submitted["Id"], what)
        return submitted["Id"]

    def _wait(self, statement_id: str, what: str) -> DescribeStatementResponseTypeDef:
        deadline = self._clock() + self._timeout_seconds
        while True:
            described = self._redshift.describe_statement(Id=statement_id)
            status = described["Status"]
            if status == "FINISHED":
                return described
            if status in ("FAILED", "ABORTED"):
                raise RedshiftLoadFailed(what, statement_id, status, _error_text(described))
            if self._clock() >= deadline:
                self._cancel(statement_id)
                raise RedshiftTimedOut(
                    f"{what}: still {status} after {self._timeout_seconds:g}s "
                    f"(statement {statement_id}, cancelled)"
                )
            self._sleep(self._poll_seconds)

    def _cancel(self, statement_id: str) -> None:
        # When it ended meanwhile, cancelling is refused; the load is idempotent, so a rerun is
        # safe either way.
        with contextlib.suppress(self._redshift.exceptions.ValidationException):
            self._redshift.cancel_statement(Id=statement_id)


def _error_text(described: DescribeStatementResponseTypeDef) -> str:
    """The statement's error; for a batch, the failing sub-statement's when the top has none."""
    if described.get("Error"):
        return described["Error"]
    for sub in described.get("SubStatements", []):
        if sub.get("Error"):
            return f"{sub.get('QueryString', '')[:80]}: {sub['Error']}"
    return ""


def _rejected(what: str, error: ClientError) -> RedshiftRequestRejected:
    details = error.response.get("Error", {})
    return RedshiftRequestRejected(
        f"{what}: {details.get('Code', 'error')}: {details.get('Message', '')}"
    )


def _name(what: str) -> str:
    """A statement name to find it by in the console and in SYS_QUERY_HISTORY."""
    return f"sotto {what}"[:500]


def _only_statement(sql: str) -> str:
    (statement,) = split_statements(sql)
    return statement
