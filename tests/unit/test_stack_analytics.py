"""The packaged stack's analytics: the exporter retries a stream batch whole and parks what
it gives up on; one drainer empties the live log; the archiving rules are the ones
analytics/archive.py applies locally; Redshift's role reads the exports and nothing else."""

from __future__ import annotations

import re
from typing import Any

import pytest

from analytics.archive import clips_rule, exports_rules
from common.settings import Settings
from tests.unit.stack import (
    STAGES,
    as_list,
    by_name,
    function_by_handler,
    logical_of,
    resources,
    statements,
    template,
)


@pytest.mark.parametrize("stage", STAGES)
def test_the_exporter_retries_a_batch_whole_and_parks_what_it_gives_up_on(stage: str) -> None:
    exporter, _ = function_by_handler(stage, "analytics.handlers.export_changes")
    mappings = [
        props
        for _, props in resources(stage, "AWS::Lambda::EventSourceMapping")
        if logical_of(props["FunctionName"]) == exporter
    ]
    assert len(mappings) == 5
    for mapping in mappings:
        assert mapping["BisectBatchOnFunctionError"] is False  # a batch is one file
        assert mapping["MaximumBatchingWindowInSeconds"] == 60
        assert mapping["BatchSize"] == 1000
        destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
        assert logical_of(destination) == "AnalyticsFailuresQueue"


@pytest.mark.parametrize("stage", STAGES)
def test_one_drainer_empties_the_live_log(stage: str) -> None:
    _, drainer = function_by_handler(stage, "analytics.handlers.export_live_events")
    assert drainer["ReservedConcurrentExecutions"] == 1


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


@pytest.mark.parametrize("stage", STAGES)
def test_archiving_rules_are_the_ones_applied_locally(stage: str) -> None:
    settings = Settings.from_env({"SOTTO_STAGE": stage})
    _, clips = by_name(stage, "AWS::S3::Bucket", "BucketName", settings.clips_bucket)
    _, exports = by_name(stage, "AWS::S3::Bucket", "BucketName", settings.analytics_bucket)
    assert clips["LifecycleConfiguration"]["Rules"] == [
        _as_cloudformation(clips_rule(settings.clip_archive_days))
    ]
    assert exports["LifecycleConfiguration"]["Rules"] == [
        _as_cloudformation(rule) for rule in exports_rules()
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_redshift_may_read_the_exports_and_the_catalog_and_nothing_more(stage: str) -> None:
    role = template(stage)["Resources"]["RedshiftLoadRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert "redshift.amazonaws.com" in trust["Principal"]["Service"]
    granted = statements(stage, "RedshiftLoadRole")
    actions = {a for s in granted for a in as_list(s["Action"])}
    assert all(re.fullmatch(r"s3:(Get|List)\w+|kms:Decrypt|glue:\w+", a) for a in actions), actions
    s3_resources = [r for s in granted if s["Action"] == "s3:GetObject" for r in s["Resource"]]
    assert s3_resources == [
        {"Fn::Sub": "${AnalyticsBucket.Arn}/events/*"},
        {"Fn::Sub": "${AnalyticsBucket.Arn}/manifests/*"},
    ]
    assert template(stage)["Outputs"]["RedshiftLoadRoleArn"]
