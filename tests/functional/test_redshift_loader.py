"""The Redshift loader against moto's S3 (real exports, real manifests) and the Redshift Data
API answered behind a real boto3 client.

moto 5 cannot stand in for the Data API here: it has no BatchExecuteStatement, and its
statements never leave STARTED. So ``FakeRedshiftData`` answers the calls, hooked into a real
client's ``before-call`` event: botocore still validates every request against the service
model (parameter names and types), and the fake decides only what Redshift would report
(a statement's status and error). It is a test double for statuses, not for our SQL, which is
parsed and run in tests/unit/test_redshift_sql.py.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from analytics.export import ParquetExporter
from analytics.layout import manifest_key
from analytics.model import AnalyticsEvent
from analytics.pseudonym import Pseudonyms
from analytics.redshift import command
from analytics.redshift.loader import (
    EXTERNAL_TABLES_SQL,
    InvalidTarget,
    RedshiftLoader,
    RedshiftLoadFailed,
    RedshiftRequestRejected,
    RedshiftTarget,
    RedshiftTimedOut,
    copy_statements,
    manifest,
    partition_sql,
    schema_statements,
)
from analytics.schema import names

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_s3 import S3Client

BUCKET = "sotto-test-analytics"
ROLE = "arn:aws:iam::123456789012:role/sotto-copy"
DAY = date(2025, 1, 31)
CLUSTER = RedshiftTarget(database="sotto", cluster_identifier="analytics", db_user="loader")
pseudonyms = Pseudonyms("test-key")


@dataclass
class Statement:
    id: str
    operation: str
    sqls: list[str]
    params: dict[str, Any]
    polls: int = 0


@dataclass
class FakeRedshiftData:
    running_polls: int = 1  # how many times a statement is still STARTED before it ends
    never_finish: bool = False
    failing: dict[str, tuple[str, str]] = field(default_factory=dict)  # SQL start: (status, error)
    reject: tuple[str, str] | None = None  # (code, message) for every submission
    external_tables: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def client(self) -> RedshiftDataAPIServiceClient:
        client: RedshiftDataAPIServiceClient = boto3.client(
            "redshift-data", region_name="us-east-1"
        )
        # A before-call handler that returns a response ends the call there (the stubs type
        # handlers as returning None).
        client.meta.events.register("before-call.redshift-data", self._answer)  # type: ignore[arg-type]
        return client

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, Any]:
        body = json.loads(params["body"] or b"{}")
        if model.name in ("BatchExecuteStatement", "ExecuteStatement") and self.reject:
            code, message = self.reject
            return _response(400), {"Error": {"Code": code, "Message": message}}
        answer = getattr(self, f"_{model.name}")
        return _response(200), answer(body)

    def _BatchExecuteStatement(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._submit("batch", body.pop("Sqls"), body)

    def _ExecuteStatement(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self._submit("single", [body.pop("Sql")], body)

    def _submit(self, operation: str, sqls: list[str], params: dict[str, Any]) -> dict[str, Any]:
        statement = Statement(str(uuid.uuid4()), operation, sqls, params)
        self.statements.append(statement)
        return {"Id": statement.id, "Database": params.get("Database")}

    def _DescribeStatement(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        statement = self._find(body["Id"])
        statement.polls += 1
        if self.never_finish or statement.polls <= self.running_polls:
            return {"Id": statement.id, "Status": "STARTED"}
        for start, (status, error) in self.failing.items():
            failed = [sql for sql in statement.sqls if sql.startswith(start)]
            if failed:
                sub = [{"Id": f"{statement.id}:1", "Status": status, "QueryString": failed[0]}]
                return {"Id": statement.id, "Status": status, "Error": error, "SubStatements": sub}
        return {"Id": statement.id, "Status": "FINISHED"}

    def _CancelStatement(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        self.cancelled.append(body["Id"])
        return {"Status": True}

    def _GetStatementResult(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        assert self._find(body["Id"]).sqls == [EXTERNAL_TABLES_SQL]
        records = [[{"stringValue": name}] for name in self.external_tables]
        return {"Records": records, "ColumnMetadata": [], "TotalNumRows": len(records)}

    def _find(self, statement_id: str) -> Statement:
        return next(s for s in self.statements if s.id == statement_id)


def _response(status: int) -> AWSResponse:
    return AWSResponse(
        "https://redshift-data.us-east-1.amazonaws.com/", status, HTTPHeaders(), None
    )


class FakeClock:
    """Time that passes only when the loader sleeps: polling is tested without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[S3Client]:
    with mock_aws():
        client: S3Client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def redshift() -> FakeRedshiftData:
    return FakeRedshiftData()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_loader(
    s3: S3Client,
    redshift: FakeRedshiftData,
    clock: FakeClock,
    target: RedshiftTarget = CLUSTER,
    timeout_seconds: float = 60.0,
) -> RedshiftLoader:
    return RedshiftLoader(
        redshift.client(),
        s3,
        BUCKET,
        target,
        ROLE,
        poll_seconds=0.5,
        timeout_seconds=timeout_seconds,
        sleep=clock.sleep,
        clock=clock,
    )


def message_sent(n: int, at: datetime) -> AnalyticsEvent:
    return AnalyticsEvent(
        "message_sent",
        {
            "event_id": pseudonyms.event("message_sent", "c1", n),
            "occurred_at": at,
            "conversation_pid": pseudonyms.conversation("c1"),
            "conversation_kind": "direct",
            "seq": n,
            "sender_pid": pseudonyms.user("alice"),
            "clip_pid": pseudonyms.clip(f"clip-{n}"),
        },
    )


def push_sent(at: datetime) -> AnalyticsEvent:
    return AnalyticsEvent(
        "push_sent",
        {
            "event_id": pseudonyms.event("push_sent", "bob", 1),
            "occurred_at": at,
            "user_pid": pseudonyms.user("bob"),
            "platform": "android",
            "kind": "message",
            "messages": 1,
        },
    )


@pytest.fixture
def exported(s3: S3Client) -> list[str]:
    """Two batches of message_sent for DAY (one event in both), a push, and a message the day
    after: the keys of DAY's message_sent files."""
    noon = datetime(2025, 1, 31, 12, tzinfo=UTC)
    exporter = ParquetExporter(s3, BUCKET)
    first = exporter.write([message_sent(1, noon), message_sent(2, noon), push_sent(noon)])
    second = exporter.write([message_sent(2, noon), message_sent(3, noon)])
    exporter.write([message_sent(4, noon + timedelta(days=1))])
    return sorted(w.key for w in [*first, *second] if "event=message_sent/" in w.key)


def test_load_day_writes_a_manifest_per_type_and_runs_its_copy_as_one_batch(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock, exported: list[str]
) -> None:
    report = make_loader(s3, redshift, clock).load_day(DAY)

    assert [item.event_type for item in report.loaded] == ["message_sent", "push_sent"]
    assert report.skipped == tuple(t for t in names() if t not in {"message_sent", "push_sent"})
    loaded = report.loaded[0]
    assert loaded.files == 2
    sizes = [s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] for key in exported]
    assert loaded.bytes == sum(sizes)

    key = manifest_key("message_sent", DAY)
    written = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert written == {
        "entries": [
            {"url": f"s3://{BUCKET}/{k}", "mandatory": True, "meta": {"content_length": size}}
            for k, size in zip(exported, sizes, strict=True)
        ]
    }

    first = redshift.statements[0]
    assert first.operation == "batch"
    assert first.sqls == copy_statements("message_sent", f"s3://{BUCKET}/{key}", ROLE)
    assert first.params["ClusterIdentifier"] == "analytics"
    assert first.params["DbUser"] == "loader"
    assert first.params["Database"] == "sotto"
    assert loaded.statement_id == first.id
    assert [s.operation for s in redshift.statements] == ["batch", "batch"]
    assert clock.sleeps == [0.5, 0.5]  # one STARTED answer per statement, then FINISHED


def test_loading_only_some_types(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock, exported: list[str]
) -> None:
    report = make_loader(s3, redshift, clock).load_day(DAY, ["push_sent", "clip_rejected"])
    assert [item.event_type for item in report.loaded] == ["push_sent"]
    assert report.skipped == ("clip_rejected",)
    assert len(redshift.statements) == 1


def test_a_day_without_exports_submits_nothing(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock, exported: list[str]
) -> None:
    report = make_loader(s3, redshift, clock).load_day(date(2024, 1, 1))
    assert report.loaded == ()
    assert redshift.statements == []


def test_ensure_schema_runs_schema_sql_as_one_batch(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock
) -> None:
    make_loader(s3, redshift, clock).ensure_schema()
    (statement,) = redshift.statements
    assert statement.operation == "batch"
    assert statement.sqls == schema_statements()
    assert statement.sqls[0] == "CREATE SCHEMA IF NOT EXISTS analytics"


def test_a_failed_copy_raises_with_redshifts_error(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock, exported: list[str]
) -> None:
    redshift.failing["COPY"] = ("FAILED", "Spectrum Scan Error: file has an invalid schema")
    with pytest.raises(RedshiftLoadFailed) as raised:
        make_loader(s3, redshift, clock).load_day(DAY)
    assert raised.value.code == "statement_failed"
    assert raised.value.status == "FAILED"
    assert raised.value.error == "Spectrum Scan Error: file has an invalid schema"
    assert raised.value.statement_id == redshift.statements[0].id
    assert len(redshift.statements) == 1  # the next type is not attempted


def test_an_aborted_statement_raises(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock
) -> None:
    redshift.failing["CREATE SCHEMA"] = ("ABORTED", "")
    with pytest.raises(RedshiftLoadFailed) as raised:
        make_loader(s3, redshift, clock).ensure_schema()
    assert raised.value.status == "ABORTED"


def test_a_statement_past_the_deadline_is_cancelled_and_raises(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock, exported: list[str]
) -> None:
    redshift.never_finish = True
    with pytest.raises(RedshiftTimedOut) as raised:
        make_loader(s3, redshift, clock, timeout_seconds=5).load_day(DAY)
    assert raised.value.code == "statement_timed_out"
    assert redshift.cancelled == [redshift.statements[0].id]
    assert clock.now == pytest.approx(5.0)


def test_a_rejected_request_becomes_a_loader_error(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock
) -> None:
    redshift.reject = ("ValidationException", "Cluster analytics not found.")
    with pytest.raises(RedshiftRequestRejected, match="Cluster analytics not found") as raised:
        make_loader(s3, redshift, clock).ensure_schema()
    assert raised.value.code == "request_rejected"


def test_a_serverless_workgroup_is_addressed_by_name(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock
) -> None:
    target = RedshiftTarget(database="sotto", workgroup_name="sotto")
    make_loader(s3, redshift, clock, target=target).ensure_schema()
    params = redshift.statements[0].params
    assert params.pop("ClientToken")  # botocore fills in the idempotency token
    assert params == {
        "Database": "sotto",
        "WorkgroupName": "sotto",
        "StatementName": "sotto schema",
    }


def test_spectrum_creates_only_the_missing_external_tables_one_statement_each(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock
) -> None:
    redshift.external_tables = ["user_signed_up", "message_sent"]
    created = make_loader(s3, redshift, clock).ensure_spectrum("sotto_analytics")

    assert created == [t for t in names() if t not in {"user_signed_up", "message_sent"}]
    assert {s.operation for s in redshift.statements} == {"single"}  # never in a transaction
    sqls = [s.sqls[0] for s in redshift.statements]
    assert sqls[0].startswith("CREATE EXTERNAL SCHEMA IF NOT EXISTS spectrum")
    assert "'sotto_analytics'" in sqls[0] and f"'{ROLE}'" in sqls[0]
    assert sqls[1] == EXTERNAL_TABLES_SQL
    assert [sql.split()[3] for sql in sqls[2:]] == [f"spectrum.{t}" for t in created]
    assert f"LOCATION 's3://{BUCKET}/events/event=connection_opened/'" in sqls[2]


def test_spectrum_partitions_are_added_one_statement_each(
    s3: S3Client, redshift: FakeRedshiftData, clock: FakeClock
) -> None:
    make_loader(s3, redshift, clock).add_spectrum_partitions(DAY, ["message_sent", "push_sent"])
    assert [(s.operation, s.sqls) for s in redshift.statements] == [
        ("single", [partition_sql(BUCKET, "message_sent", DAY)]),
        ("single", [partition_sql(BUCKET, "push_sent", DAY)]),
    ]


def test_manifest_entries() -> None:
    assert manifest("b", [("events/x.parquet", 10)]) == {
        "entries": [
            {"url": "s3://b/events/x.parquet", "mandatory": True, "meta": {"content_length": 10}}
        ]
    }
    assert manifest("b", []) == {"entries": []}


@pytest.mark.parametrize(
    "fields",
    [
        {},  # neither a cluster nor a workgroup
        {"cluster_identifier": "c", "workgroup_name": "w", "db_user": "u"},
        {"cluster_identifier": "c"},  # no credentials
        {"cluster_identifier": "c", "db_user": "u", "secret_arn": "s"},
        {"workgroup_name": "w", "db_user": "u"},
    ],
)
def test_a_target_is_one_cluster_or_one_workgroup(fields: dict[str, str]) -> None:
    with pytest.raises(InvalidTarget) as raised:
        RedshiftTarget(database="sotto", **fields)
    assert raised.value.code == "invalid_target"


# The command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args(argv)


CLUSTER_ARGS = (
    "--cluster-id",
    "analytics",
    "--db-user",
    "loader",
    "--database",
    "sotto",
    "--role-arn",
    ROLE,
    "--bucket",
    BUCKET,
)


def test_the_command_loads_a_day_and_prints_a_line_per_type(
    s3: S3Client,
    redshift: FakeRedshiftData,
    exported: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    redshift.running_polls = 0  # the command polls with real sleeps: finish at once
    args = parse("--day", DAY.isoformat(), *CLUSTER_ARGS, "--spectrum")
    assert command.run(args, s3, redshift.client()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"spectrum: created {', '.join(names())}"
    assert lines[1].startswith("message_sent: 2 file(s), ")
    assert lines[2].startswith("push_sent: 1 file(s), ")
    assert lines[3].startswith(f"no files for {DAY}: user_signed_up, ")
    assert lines[4] == f"spectrum: 2 partition(s) for {DAY} registered"
    assert redshift.statements[0].sqls == schema_statements()


def test_the_command_with_schema_only_loads_nothing(
    s3: S3Client,
    redshift: FakeRedshiftData,
    exported: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    redshift.running_polls = 0
    assert command.run(parse("--schema-only", *CLUSTER_ARGS), s3, redshift.client()) == 0
    assert capsys.readouterr().out == "schema: up to date\n"
    assert [s.sqls for s in redshift.statements] == [schema_statements()]


def test_the_command_needs_a_day_to_load(
    s3: S3Client, redshift: FakeRedshiftData, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.run(parse(*CLUSTER_ARGS), s3, redshift.client()) == 2
    assert "--day is required" in capsys.readouterr().err
    assert redshift.statements == []


def test_the_command_reports_a_failure_by_its_code(
    s3: S3Client,
    redshift: FakeRedshiftData,
    exported: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    redshift.running_polls = 0
    redshift.failing["COPY"] = ("FAILED", "S3ServiceException: Access Denied")
    args = parse("--day", DAY.isoformat(), *CLUSTER_ARGS)
    assert command.run(args, s3, redshift.client()) == 1
    assert capsys.readouterr().err.startswith("error: statement_failed: load message_sent")


def test_the_command_refuses_a_cluster_without_credentials(
    s3: S3Client, redshift: FakeRedshiftData, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("--day", DAY.isoformat(), *CLUSTER_ARGS[:2], *CLUSTER_ARGS[4:])
    assert command.run(args, s3, redshift.client()) == 2
    assert capsys.readouterr().err.startswith("error: invalid_target: ")


def test_the_command_refuses_a_bad_day() -> None:
    with pytest.raises(SystemExit):
        parse("--day", "31/01/2025", *CLUSTER_ARGS)
