"""Each function's role grants what its code uses and nothing beyond: every statement in the
packaged roles is accounted for by stack/access.yml (traced from each handler's stores, with
file and line), and everything access.yml lists is granted. Besides that only the framework's
baseline: the function's own log group, the network interfaces of functions in the VPC,
X-Ray traces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.unit.stack import ROOT, STAGES, as_list, function_by_handler, logical_of, statements

EVERYTHING: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "stack" / "access.yml").read_text())
ACCESS = {h: e for h, e in EVERYTHING.items() if not e["trigger"].startswith("ECS")}  # functions
BASELINE = re.compile(r"logs:(CreateLogStream|CreateLogGroup|PutLogEvents|TagResource)|xray:\w+")
VPC_BASELINE = re.compile(r"ec2:\w*NetworkInterfaces?|ec2:(Assign|Unassign)PrivateIpAddresses")
TABLES = {
    "ConnectionsTable": "connections_table",
    "UsersTable": "users_table",
    "ConversationsTable": "conversations_table",
    "MessagesTable": "messages_table",
    "ClipsTable": "clips_table",
    "BlocksTable": "blocks_table",
    "ReportsTable": "reports_table",
    "DevicesTable": "devices_table",
    "VerificationsTable": "verifications_table",
    "AuditTable": "audit_table",
}
QUEUES = {
    "ClipUploadsQueue": "uploads_queue",
    "PushQueue": "push_queue",
    "SelfieUploadsQueue": "selfie_uploads_queue",
    "ClipUploadsDeadLetters": "uploads_queue-dlq",
    "PushDeadLetters": "push_queue-dlq",
    "SelfieUploadsDeadLetters": "selfie_uploads_queue-dlq",
}
BUCKETS = {"clips": "clips_bucket", "selfies": "selfies_bucket", "analytics": "analytics_bucket"}


def granted(stage: str, handler: str) -> Iterator[tuple[str, Any]]:
    """(action, resource) of every Allow in the function's role, the baseline left out."""
    _, function = function_by_handler(stage, handler)
    role = logical_of(function["Role"])
    for statement in statements(stage, role):
        if statement["Effect"] == "Deny":
            continue
        for action in as_list(statement["Action"]):
            if BASELINE.fullmatch(action) or VPC_BASELINE.fullmatch(action):
                continue
            for resource in as_list(statement["Resource"]):
                yield action, resource


def _names(entry: dict[str, Any], service: str, target: str) -> list[str]:
    listed = (entry.get(service) or {}).get(target) or []
    return [a.split("->")[-1] for a in listed]


def _dynamodb(entry: dict[str, Any], name: str, resource: Any, stage: str) -> bool:
    index = re.search(r"\$\{(\w+)\.Arn\}/index/(\w+)", repr(resource))
    if index:
        return name in _names(entry, "dynamodb", f"{TABLES[index[1]]}/index/{index[2]}")
    table = TABLES[logical_of(resource)]
    if resource["Fn::GetAtt"][1] == "StreamArn":
        return name in (entry.get("event_source") or {}).get(f"{table}/stream/*", [])
    return name in _names(entry, "dynamodb", table)


def _sqs(entry: dict[str, Any], name: str, resource: Any, stage: str) -> bool:
    queue = logical_of(resource)
    sources = entry.get("event_source") or {}
    if queue == "AnalyticsFailuresQueue":
        return any(name in v for k, v in sources.items() if k.startswith(queue))
    setting = QUEUES[queue]
    return name in _names(entry, "sqs", setting) or name in sources.get(setting, [])


def _s3(entry: dict[str, Any], name: str, resource: Any, stage: str) -> bool:
    match = re.fullmatch(rf"arn:aws:s3:::sotto-{stage}-(\w+)(?:/(.*))?", str(resource))
    assert match, resource
    spec = (entry.get("s3") or {}).get(BUCKETS[match[1]]) or {}
    if match[2] is None:  # the bucket itself
        return name == "ListBucket" and "ListBucket" in spec
    return match[2] in as_list(spec.get(name) or [])


def _management_api(entry: dict[str, Any], name: str, resource: Any, stage: str) -> bool:
    return name == "ManageConnections" and bool(entry.get("management_api"))


def _listed(service: str) -> Any:
    def check(entry: dict[str, Any], name: str, resource: Any, stage: str) -> bool:
        return name in (entry.get(service) or [])

    return check


def _kms(entry: dict[str, Any], name: str, resource: Any, stage: str) -> bool:
    return logical_of(resource) == "DataKey" and any(
        name in actions for actions in (entry.get("kms") or {}).values()
    )


CHECKS = {
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "s3": _s3,
    "execute-api": _management_api,
    "sns": _listed("sns"),
    "rekognition": _listed("rekognition"),
    "kms": _kms,
}


def accounted_for(entry: dict[str, Any], action: str, resource: Any, stage: str) -> bool:
    service, name = action.split(":", 1)
    check = CHECKS.get(service)
    return check is not None and check(entry, name, resource, stage)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("handler", sorted(ACCESS))
def test_the_role_grants_only_what_the_code_uses(stage: str, handler: str) -> None:
    entry = ACCESS[handler]
    for action, resource in granted(stage, handler):
        assert accounted_for(entry, action, resource, stage), (action, resource)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("handler", sorted(ACCESS))
def test_the_role_grants_everything_the_code_uses(stage: str, handler: str) -> None:
    entry = ACCESS[handler]
    actions = {action for action, _ in granted(stage, handler)}
    expected = {
        f"dynamodb:{a}" for t in entry.get("dynamodb") or {} for a in _names(entry, "dynamodb", t)
    }
    expected |= {f"sqs:{a}" for q in entry.get("sqs") or {} for a in _names(entry, "sqs", q)}
    expected |= {f"s3:{a}" for spec in (entry.get("s3") or {}).values() for a in spec}
    expected |= {f"{s}:{a}" for s in ("sns", "rekognition") for a in entry.get(s) or []}
    expected |= {f"kms:{a}" for acts in (entry.get("kms") or {}).values() for a in acts}
    if entry.get("management_api"):
        expected.add("execute-api:ManageConnections")
    assert expected <= actions, expected - actions


@pytest.mark.parametrize("stage", STAGES)
def test_no_statement_grants_a_wildcard_action(stage: str) -> None:
    for handler in ACCESS:
        for action, _ in granted(stage, handler):
            assert "*" not in action, (handler, action)


@pytest.mark.parametrize("stage", STAGES)
def test_functions_that_send_redis_commands_run_in_the_vpc_and_no_others(stage: str) -> None:
    for handler, entry in ACCESS.items():
        _, function = function_by_handler(stage, handler)
        assert ("VpcConfig" in function) == bool(entry["redis"]), handler


AUDIT_WRITES_DENIED = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}


@pytest.mark.parametrize("stage", STAGES)
def test_no_role_may_rewrite_or_delete_the_audit_trail(stage: str) -> None:
    """Issue 6: audit entries are append-only; an explicit Deny beats any Allow."""
    for handler in ACCESS:
        _, function = function_by_handler(stage, handler)
        denies = [
            s
            for s in statements(stage, logical_of(function["Role"]))
            if s["Effect"] == "Deny" and logical_of(as_list(s["Resource"])[0]) == "AuditTable"
        ]
        assert denies, handler
        assert {a for s in denies for a in as_list(s["Action"])} == AUDIT_WRITES_DENIED


def _task_role_statements(stage: str) -> list[dict[str, Any]]:
    return statements(stage, "FanoutTaskRole")


@pytest.mark.parametrize("stage", STAGES)
def test_the_fan_out_tasks_role_grants_exactly_what_the_fan_out_uses(stage: str) -> None:
    entry = EVERYTHING["chat.fanout_service"]
    pairs = [
        (action, resource)
        for s in _task_role_statements(stage)
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]
    for action, resource in pairs:
        assert accounted_for(entry, action, resource, stage), (action, resource)
    expected = {f"dynamodb:{a}" for t in entry["dynamodb"] for a in _names(entry, "dynamodb", t)}
    expected |= {f"sqs:{a}" for a in entry["sqs"]["push_queue"]}
    expected |= {"execute-api:ManageConnections", "kms:Decrypt", "kms:GenerateDataKey"}
    assert expected <= {action for action, _ in pairs}
    denied = {
        a
        for s in _task_role_statements(stage)
        if s["Effect"] == "Deny"
        for a in as_list(s["Action"])
    }
    assert denied == AUDIT_WRITES_DENIED
