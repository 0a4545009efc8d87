"""``sotto analytics load``: one day of exports into Redshift, and optionally Spectrum.

sotto analytics load --day 2025-01-31 --cluster-id analytics --db-user loader \\
    --database sotto --role-arn arn:aws:iam::123456789012:role/sotto-copy --bucket B
sotto analytics load --day 2025-01-31 --workgroup sotto --database sotto \\
    --role-arn ARN --bucket B --spectrum
sotto analytics load --schema-only --workgroup sotto --database sotto --role-arn ARN --bucket B

The tables are created where missing before every load, so a first run needs nothing else.
Clients are passed in: the CLI builds them, tests pass moto's and a fake Data API's.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import TYPE_CHECKING, TextIO

from analytics.redshift.loader import (
    LoadReport,
    Progress,
    RedshiftError,
    RedshiftLoader,
    RedshiftTarget,
    no_progress,
)
from analytics.schema import names

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_s3 import S3Client

DEFAULT_CATALOG_DATABASE = "sotto_analytics"
KIB = 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--day", type=_day, help="the UTC day to load, YYYY-MM-DD")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--cluster-id", dest="cluster_identifier", help="a provisioned cluster")
    where.add_argument("--workgroup", dest="workgroup_name", help="a Serverless workgroup")
    parser.add_argument("--db-user", help="a cluster's database user (temporary credentials)")
    parser.add_argument("--secret-arn", help="a Secrets Manager secret with the credentials")
    parser.add_argument("--database", required=True)
    parser.add_argument(
        "--role-arn", required=True, help="the IAM role Redshift assumes to read the bucket"
    )
    parser.add_argument("--bucket", required=True, help="the analytics bucket")
    parser.add_argument(
        "--event",
        dest="event_types",
        action="append",
        choices=names(),
        help="load only this event type (repeatable; default: all)",
    )
    parser.add_argument(
        "--schema-only", action="store_true", help="create what is missing, load nothing"
    )
    parser.add_argument(
        "--spectrum",
        action="store_true",
        help="also create the Spectrum external tables and add the day's partitions",
    )
    parser.add_argument("--catalog-database", default=DEFAULT_CATALOG_DATABASE)


def run(
    args: argparse.Namespace,
    s3: S3Client,
    redshift_data: RedshiftDataAPIServiceClient,
    out: TextIO | None = None,
    progress: Progress = no_progress,
) -> int:
    """0 when everything asked for is done; 1 when Redshift refused or failed (nothing of the
    failing type's day was changed); 2 for arguments that do not make a target."""
    out = out or sys.stdout
    if args.day is None and not args.schema_only:
        print("error: --day is required unless --schema-only is given", file=sys.stderr)
        return 2
    try:
        loader = RedshiftLoader(redshift_data, s3, args.bucket, _target(args), args.role_arn)
        _run(loader, args, out, progress)
    except RedshiftError as error:
        print(f"error: {error.code}: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    return 0


def _run(loader: RedshiftLoader, args: argparse.Namespace, out: TextIO, progress: Progress) -> None:
    loader.ensure_schema()
    if args.spectrum:
        created = loader.ensure_spectrum(args.catalog_database)
        if created:
            print(f"spectrum: created {', '.join(created)}", file=out)
    if args.schema_only:
        print("schema: up to date", file=out)
        return
    report = loader.load_day(args.day, args.event_types, progress)
    _print_report(report, out)
    if args.spectrum:
        loaded = [item.event_type for item in report.loaded]
        loader.add_spectrum_partitions(args.day, loaded)
        print(f"spectrum: {len(loaded)} partition(s) for {args.day} registered", file=out)


def _print_report(report: LoadReport, out: TextIO) -> None:
    for item in report.loaded:
        print(
            f"{item.event_type}: {item.files} file(s), {item.bytes / KIB:.1f} KiB loaded "
            f"for {report.day} (statement {item.statement_id})",
            file=out,
        )
    if report.skipped:
        print(f"no files for {report.day}: {', '.join(report.skipped)}", file=out)


def _target(args: argparse.Namespace) -> RedshiftTarget:
    return RedshiftTarget(
        database=args.database,
        cluster_identifier=args.cluster_identifier,
        db_user=args.db_user,
        workgroup_name=args.workgroup_name,
        secret_arn=args.secret_arn,
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD): {text!r}") from None
