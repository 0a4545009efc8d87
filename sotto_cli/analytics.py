"""``sotto analytics``: answers from the exports on a laptop, and the jobs around them.

sotto analytics query "SELECT COUNT(*) FROM message_sent"     (or --saved daily_active_users)
sotto analytics report [--out .sotto/report]
sotto analytics compact [--day 2026-12-01]
sotto analytics load --day 2026-12-01 --database ... --role-arn ... (Redshift Data API)

Against the local stack by default (its info file names moto's endpoint and the bucket);
against AWS with --bucket and your usual AWS credentials.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import duckdb
from tqdm import tqdm

from analytics.export import ParquetExporter
from analytics.local import LocalWarehouse, QueryResult, saved_queries, saved_query, sync_exports
from analytics.redshift import command as redshift_command
from analytics.report import render_report
from analytics.schema import names
from sotto_cli.config import DEFAULT_INFO_FILE, read_info
from sotto_cli.errors import CliError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

DEFAULT_DATA = Path(".sotto/analytics")
DEFAULT_REPORT = Path(".sotto/report")
LOCAL_KEY = "sotto-local"  # moto takes any credentials


@dataclass(frozen=True)
class Source:
    """Where the exports are: a bucket, and moto's endpoint when it is the local stack."""

    bucket: str
    endpoint: str | None
    region: str

    def s3(self) -> S3Client:
        return self._session().client("s3", endpoint_url=self.endpoint)

    def client(self, service: str) -> Any:
        return self._session().client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def _session(self) -> boto3.Session:
        if self.endpoint:
            return boto3.Session(
                region_name=self.region,
                aws_access_key_id=LOCAL_KEY,
                aws_secret_access_key=LOCAL_KEY,
            )
        return boto3.Session(region_name=self.region)


def add_commands(commands: Any) -> None:
    analytics = commands.add_parser("analytics", help="query the exports, report, compact, load")
    actions = analytics.add_subparsers(dest="analytics_command", required=True)
    query = actions.add_parser("query", help="run SQL with DuckDB over the exports")
    what = query.add_mutually_exclusive_group(required=True)
    what.add_argument("sql", nargs="?", help="the SQL (tables are named after event types)")
    what.add_argument("--saved", choices=[q.name for q in saved_queries()], help="a saved query")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report = actions.add_parser("report", help="an HTML report with plots")
    report.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    compact = actions.add_parser("compact", help="fold a day's export files into one each")
    compact.add_argument("--day", type=date.fromisoformat, help="default: yesterday (UTC)")
    load = actions.add_parser("load", help="load a day into Redshift (Redshift Data API)")
    redshift_command.add_arguments(load)
    for action in (query, report, compact):  # load has its own, required --bucket
        action.add_argument("--bucket", help="the analytics bucket (default: the local stack's)")
    for action in (query, report, compact, load):
        action.add_argument("--region")
        action.add_argument("--info-file", type=Path, default=DEFAULT_INFO_FILE)
        action.add_argument("--endpoint-url", help=argparse.SUPPRESS)
    for action in (query, report):
        action.add_argument("--data", type=Path, help=f"local copy (default {DEFAULT_DATA}/)")
        action.add_argument(
            "--offline", action="store_true", help="use the local copy as it is, fetch nothing"
        )


def run(args: argparse.Namespace) -> int:
    source = _source(args)
    command = args.analytics_command
    if command == "compact":
        return compact(source, args.day or (datetime.now(UTC) - timedelta(days=1)).date())
    if command == "load":
        return redshift_command.run(
            args, source.s3(), source.client("redshift-data"), progress=_bar("loading")
        )
    warehouse = _warehouse(source, args)
    with warehouse:
        if command == "report":
            generated = datetime.now(UTC)
            report = render_report(
                warehouse, args.out, generated_at=generated, progress=_bar("plots")
            )
            print(f"report written to {report.index}")
            return 0
        sql = saved_query(args.saved).sql if args.saved else str(args.sql)
        try:
            result = warehouse.query(sql)
        except duckdb.Error as error:
            raise CliError("bad_query", str(error).splitlines()[0]) from None
        print_result(result, args.format)
        return 0


def compact(source: Source, day: date) -> int:
    exporter = ParquetExporter(source.s3(), source.bucket)
    written = exporter.compact(day, names(), progress=_bar(f"compacting {day}"))
    for done in written:
        print(f"{done.key}: {done.rows} row(s)")
    if not written:
        print(f"nothing to compact for {day}")
    return 0


def _source(args: argparse.Namespace) -> Source:
    info = read_info(args.info_file)
    bucket = args.bucket or os.environ.get("SOTTO_ANALYTICS_BUCKET") or info.get("analytics_bucket")
    if not bucket:
        raise CliError(
            "config",
            f"No analytics bucket: give --bucket, or run `make dev` ({args.info_file} names it).",
        )
    # The local stack's moto endpoint only when its bucket is the one asked for.
    local = info.get("aws_endpoint") if bucket == info.get("analytics_bucket") else None
    endpoint = args.endpoint_url or local
    region = args.region or os.environ.get("AWS_REGION") or info.get("region") or "us-east-1"
    return Source(bucket=bucket, endpoint=endpoint, region=region)


def _warehouse(source: Source, args: argparse.Namespace) -> LocalWarehouse:
    folder = args.data or DEFAULT_DATA / source.bucket
    if not args.offline:
        report = sync_exports(source.s3(), source.bucket, folder, progress=_bar("downloading"))
        print(
            f"{report.files} export file(s) in {folder} "
            f"({report.downloaded} fetched, {report.removed} removed)",
            file=sys.stderr,
        )
    return LocalWarehouse(folder)


def _bar(description: str) -> Any:
    """A progress bar on a terminal, nothing otherwise (tqdm decides: ``disable=None``)."""

    def wrap(items: Iterable[T]) -> Iterable[T]:
        listed = list(items)
        return tqdm(listed, desc=description, unit="file", disable=None, file=sys.stderr)

    return wrap


def print_result(result: QueryResult, style: str) -> None:
    if style == "json":
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        print(json.dumps(rows, default=str, indent=2))
    elif style == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        print(format_table(result.columns, result.rows))


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(columns), *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
