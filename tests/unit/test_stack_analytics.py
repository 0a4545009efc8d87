"""serverless.yml's analytics wiring, read as plain YAML: the exporters are the functions the
local stack runs, on the same tables' streams and schedules; the archiving rules are the ones
analytics/archive.py applies locally; Redshift's role reads the exports and nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics.archive import clips_rule, exports_rules
from common.settings import Settings
from local_gateway.routes import SCHEDULED_FUNCTIONS, STREAM_FUNCTIONS, load_function

ROOT = Path(__file__).resolve().parents[2]
STAGE = "dev"
DAYS = 90


def _stack() -> dict[str, Any]:
    text = (ROOT / "serverless.yml").read_text()
    text = text.replace("${sls:stage}", STAGE).replace("${param:clipArchiveDays}", str(DAYS))
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


STACK = _stack()
RESOURCES: dict[str, Any] = STACK["resources"]["Resources"]
FUNCTIONS: dict[str, Any] = STACK["functions"]
SETTINGS = Settings.from_env({"SOTTO_STAGE": STAGE})


def _handler_path(function: dict[str, Any]) -> str:
    """``analytics/handlers.export_changes`` -> ``analytics.handlers.export_changes``."""
    return str(function["handler"]).replace("/", ".")


def _function(handler: str) -> dict[str, Any]:
    [found] = [f for f in FUNCTIONS.values() if _handler_path(f) == handler]
    return found


def _table_resource(setting: str) -> dict[str, Any]:
    name = getattr(SETTINGS, setting)
    [found] = [
        r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::DynamoDB::Table" and r["Properties"]["TableName"] == name
    ]
    return found


def _bucket(name: str) -> tuple[str, dict[str, Any]]:
    [found] = [
        (logical, r["Properties"])
        for logical, r in RESOURCES.items()
        if r["Type"] == "AWS::S3::Bucket" and r["Properties"]["BucketName"] == name
    ]
    return found


def test_every_function_handler_loads() -> None:
    for function in FUNCTIONS.values():
        assert callable(load_function(_handler_path(function))), function["handler"]


def test_the_exporter_reads_the_same_tables_streams_as_locally() -> None:
    handler = "analytics.handlers.export_changes"
    streams = [e["stream"] for e in _function(handler)["events"]]
    logical = {s["arn"]["Fn::GetAtt"][0] for s in streams}
    tables = {RESOURCES[name]["Properties"]["TableName"] for name in logical}
    assert tables == {getattr(SETTINGS, s) for s in STREAM_FUNCTIONS[handler]}
    for stream in streams:
        assert stream["type"] == "dynamodb"
        assert stream["bisectBatchOnFunctionError"] is False  # a batch is one file: retry it whole
        assert "onFailure" in stream["destinations"]
    for setting in STREAM_FUNCTIONS[handler]:
        table = _table_resource(setting)
        assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


@pytest.mark.parametrize("handler", sorted(SCHEDULED_FUNCTIONS))
def test_scheduled_functions_run_on_the_schedules_the_local_stack_names(handler: str) -> None:
    [event] = _function(handler)["events"]
    assert event["schedule"] == SCHEDULED_FUNCTIONS[handler].expression


def test_the_single_drainer_of_the_live_log() -> None:
    assert _function("analytics.handlers.export_live_events")["reservedConcurrency"] == 1


def _as_cloudformation(rule: dict[str, Any]) -> dict[str, Any]:
    """An S3 API lifecycle rule (archive.py) in CloudFormation's spelling."""
    converted: dict[str, Any] = {
        "Id": rule["ID"],
        "Prefix": rule["Filter"]["Prefix"],
        "Status": rule["Status"],
    }
    if "Transitions" in rule:
        converted["Transitions"] = [
            {"StorageClass": t["StorageClass"], "TransitionInDays": t["Days"]}
            for t in rule["Transitions"]
        ]
    if "Expiration" in rule:
        converted["ExpirationInDays"] = rule["Expiration"]["Days"]
    return converted


def test_archiving_rules_are_the_ones_applied_locally() -> None:
    _, clips = _bucket(SETTINGS.clips_bucket)
    _, exports = _bucket(SETTINGS.analytics_bucket)
    assert clips["LifecycleConfiguration"]["Rules"] == [_as_cloudformation(clips_rule(DAYS))]
    assert exports["LifecycleConfiguration"]["Rules"] == [
        _as_cloudformation(rule) for rule in exports_rules()
    ]
    assert STACK["params"]["default"]["clipArchiveDays"] == SETTINGS.clip_archive_days


@pytest.mark.parametrize("setting", ["clips_bucket", "analytics_bucket"])
def test_buckets_block_public_access_and_refuse_plain_http(setting: str) -> None:
    logical, bucket = _bucket(getattr(SETTINGS, setting))
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": logical}
    ]
    assert [
        s
        for statements in policies
        for s in statements
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]


def _statements(role: str) -> list[dict[str, Any]]:
    policies = RESOURCES[role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_redshift_may_read_the_exports_and_the_catalog_and_nothing_more() -> None:
    role = RESOURCES["RedshiftLoadRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert "redshift.amazonaws.com" in trust["Principal"]["Service"]
    actions = {a for s in _statements("RedshiftLoadRole") for a in _actions(s)}
    assert all(re.fullmatch(r"s3:(Get|List)\w+|kms:Decrypt|glue:\w+", a) for a in actions), actions
    assert not any(a.startswith("s3:Put") or a.startswith("s3:Delete") for a in actions)
    assert STACK["resources"]["Outputs"]["RedshiftLoadRoleArn"]


def test_each_exporter_role_grants_only_what_its_code_calls() -> None:
    """Stream reads for the stream exporter, puts under events/ for every exporter, deletes
    only for the compaction; no wildcard actions."""
    expected = {
        "AnalyticsExportChangesRole": {
            "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
            "dynamodb:ListStreams", "s3:PutObject", "sqs:SendMessage", "kms:Decrypt",
            "kms:GenerateDataKey",
        },
        "AnalyticsLiveRole": {
            "s3:PutObject", "sqs:GetQueueUrl", "sqs:GetQueueAttributes", "kms:Decrypt",
            "kms:GenerateDataKey",
        },
        "AnalyticsCompactRole": {
            "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "kms:Decrypt",
            "kms:GenerateDataKey",
        },
    }  # fmt: skip
    for role, actions in expected.items():
        assert {a for s in _statements(role) for a in _actions(s)} == actions, role
    for function in FUNCTIONS.values():
        assert function["role"] in expected


def _compiled(stage: str) -> dict[str, Any]:
    """The CloudFormation `make stack` (scripts/check-stack) packaged for ``stage``."""
    path = ROOT / ".stack" / stage / "cloudformation-template-update-stack.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make stack` (make test runs it first)")
    compiled: dict[str, Any] = json.loads(path.read_text())
    return compiled


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_packaged_stack_names_each_stages_resources_and_importable_handlers(
    stage: str,
) -> None:
    resources = _compiled(stage)["Resources"]
    handlers = [
        r["Properties"]["Handler"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    assert len(handlers) == len(FUNCTIONS)
    for handler in handlers:
        assert callable(load_function(handler.replace("/", "."))), handler
    settings = Settings.from_env({"SOTTO_STAGE": stage})
    buckets = {
        r["Properties"].get("BucketName"): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::S3::Bucket"
    }
    assert {settings.clips_bucket, settings.analytics_bucket} <= set(buckets)
    clips = buckets[settings.clips_bucket]
    [rule] = clips["LifecycleConfiguration"]["Rules"]
    assert rule == _as_cloudformation(clips_rule(settings.clip_archive_days))
