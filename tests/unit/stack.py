"""The CloudFormation that `make stack` packaged from serverless.yml, for the wiring tests."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("dev", "prod")


@functools.cache
def template(stage: str) -> dict[str, Any]:
    path = ROOT / ".stack" / stage / "cloudformation-template-update-stack.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make stack` (make test runs it first)")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def resources(stage: str, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of every resource of one CloudFormation type."""
    for logical, resource in template(stage)["Resources"].items():
        if resource["Type"] == kind:
            yield logical, resource.get("Properties", {})


def functions(stage: str) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of each Lambda function."""
    return dict(resources(stage, "AWS::Lambda::Function"))


def handler_of(function: dict[str, Any]) -> str:
    """``analytics/handlers.export_changes`` -> ``analytics.handlers.export_changes``."""
    return str(function["Handler"]).replace("/", ".")


def function_by_handler(stage: str, handler: str) -> tuple[str, dict[str, Any]]:
    [found] = [(k, f) for k, f in functions(stage).items() if handler_of(f) == handler]
    return found


def by_name(stage: str, kind: str, key: str, name: str) -> tuple[str, dict[str, Any]]:
    """The resource of ``kind`` whose ``key`` property is ``name``."""
    [found] = [(k, p) for k, p in resources(stage, kind) if p.get(key) == name]
    return found


def logical_of(reference: Any) -> str:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(reference, dict) and "Ref" in reference:
        return str(reference["Ref"])
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return str(reference["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {reference!r}")


def statements(stage: str, role: str) -> list[dict[str, Any]]:
    properties = template(stage)["Resources"][role]["Properties"]
    return [s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
