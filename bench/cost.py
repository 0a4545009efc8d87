"""The cost of a million voice messages on AWS, estimated from the stack's own resources.

    make stack && python -m bench.cost          (reads .stack/prod/, the packaged template)

The resources come from the packaged CloudFormation: each function's memory and architecture,
Redis's node type and count, the interface endpoints and subnets, the fan-out tasks' size and
count. What a message does with them (which functions run and for how long, how many
DynamoDB writes, S3 requests, API Gateway messages) is the profile below, read off the code
paths (stack/access.yml) with durations from the benchmarks; prices are AWS's list prices for
eu-west-1, which change: check them before relying on the figures.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE = Path(".stack/prod/cloudformation-template-update-stack.json")
HOURS_PER_MONTH = 730

# AWS list prices, eu-west-1 (USD), as published in 2025.
PRICES: Mapping[str, float] = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86_64": 0.0000166667,
    "websocket_message": 1.00 / 1e6,  # per 32 KB message, first billion
    "websocket_connection_minute": 0.25 / 1e6,
    "http_api_request": 1.11 / 1e6,
    "dynamodb_write_unit": 1.4135 / 1e6,  # on demand
    "dynamodb_read_unit": 0.283 / 1e6,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "s3_gb_month": 0.023,
    "sqs_request": 0.40 / 1e6,
    "sns_mobile_push": 0.50 / 1e6,
    "interface_endpoint_az_hour": 0.011,
    "nat_gateway_hour": 0.048,
    "fargate_vcpu_hour_arm64": 0.03238,
    "fargate_gb_hour_arm64": 0.00356,
}
REDIS_NODE_HOUR: Mapping[str, float] = {
    "cache.t4g.small": 0.036,
    "cache.r7g.large": 0.242,
}


@dataclass(frozen=True)
class Profile:
    """One voice message in a group of four (three recipients, one of them offline), each
    recipient sending `delivered` and `listened` receipts; a 10-second clip."""

    recipients: int = 3
    offline: int = 1
    # (function, invocations per message, milliseconds per invocation)
    invocations: tuple[tuple[str, float, float], ...] = (
        ("upload", 1, 40),
        ("send", 1, 80),
        ("processUploads", 1, 900),  # ffmpeg probe + loudnorm + Opus for 10 s, on arm64
        ("receipt", 6, 40),  # delivered and listened from each recipient
        ("push", 2, 120),  # the offline member's job and its coalescing flush
        ("exportChanges", 0.01, 2000),  # a batch of up to 1,000 stream records
    )
    websocket_messages: float = 2 + 2 + 2 + 12 + 6  # upload, send, live deliveries, receipts
    # (the request and its answer each), receipt events to the sender
    dynamodb_writes: float = 8 + 3 + 6 + 2  # send transaction (x2), clip states, receipts, push
    dynamodb_reads: float = 20
    s3_puts: float = 2 + 0.01  # raw upload and processed clip; an analytics file per batch
    s3_gets: float = 3 + 1  # one play per recipient, and the processor's read
    clip_bytes: float = 30_000  # 10 s of Opus at 24 kbps
    sqs_requests: float = 3 + 4  # S3's notification (send, receive, delete); push job and flush
    pushes: float = 1


def load(template: Path) -> dict[str, Any]:
    if not template.exists():
        sys.exit(f"{template} is missing: run `make stack` first")
    loaded: dict[str, Any] = json.loads(template.read_text())
    return loaded


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == kind]


def per_million(template: dict[str, Any], profile: Profile) -> dict[str, float]:
    """Dollars per million voice messages, by service."""
    functions = {
        str(f["FunctionName"]).rsplit("-", 1)[-1]: f
        for f in _resources(template, "AWS::Lambda::Function")
    }
    requests = compute = 0.0
    for name, count, milliseconds in profile.invocations:
        function = functions[name]
        gigabytes = int(function.get("MemorySize", 1024)) / 1024
        architecture = function.get("Architectures", ["x86_64"])[0]
        rate = PRICES[f"lambda_gb_second_{architecture}"]
        requests += count * PRICES["lambda_request"]
        compute += count * gigabytes * milliseconds / 1000 * rate
    million = 1e6
    return {
        "Lambda requests": requests * million,
        "Lambda compute": compute * million,
        "API Gateway WebSocket messages": profile.websocket_messages
        * PRICES["websocket_message"]
        * million,
        "DynamoDB": (
            profile.dynamodb_writes * PRICES["dynamodb_write_unit"]
            + profile.dynamodb_reads * PRICES["dynamodb_read_unit"]
        )
        * million,
        "S3 requests": (profile.s3_puts * PRICES["s3_put"] + profile.s3_gets * PRICES["s3_get"])
        * million,
        "S3 storage (a month of clips)": profile.clip_bytes * million / 1e9 * PRICES["s3_gb_month"],
        "SQS": profile.sqs_requests * PRICES["sqs_request"] * million,
        "SNS mobile push": profile.pushes * PRICES["sns_mobile_push"] * million,
    }


def per_month(template: dict[str, Any]) -> dict[str, float]:
    """What the stack costs a month before the first message."""
    [redis] = _resources(template, "AWS::ElastiCache::ReplicationGroup")
    nodes = int(redis["NumCacheClusters"]) * REDIS_NODE_HOUR[str(redis["CacheNodeType"])]
    endpoints = [
        e
        for e in _resources(template, "AWS::EC2::VPCEndpoint")
        if e["VpcEndpointType"] == "Interface"
    ]
    endpoint_azs = sum(len(e["SubnetIds"]) for e in endpoints)
    nats = len(_resources(template, "AWS::EC2::NatGateway"))
    [task] = _resources(template, "AWS::ECS::TaskDefinition")
    [service] = _resources(template, "AWS::ECS::Service")
    task_hour = (
        int(task["Cpu"]) / 1024 * PRICES["fargate_vcpu_hour_arm64"]
        + int(task["Memory"]) / 1024 * PRICES["fargate_gb_hour_arm64"]
    )
    return {
        f"ElastiCache ({redis['NumCacheClusters']} x {redis['CacheNodeType']})": nodes
        * HOURS_PER_MONTH,
        f"Interface endpoints ({len(endpoints)} in {endpoint_azs // len(endpoints)} AZs)": endpoint_azs
        * PRICES["interface_endpoint_az_hour"]
        * HOURS_PER_MONTH,
        f"NAT gateways ({nats}, for the Management API)": nats
        * PRICES["nat_gateway_hour"]
        * HOURS_PER_MONTH,
        f"Fan-out tasks ({service['DesiredCount']} on Fargate)": int(service["DesiredCount"])
        * task_hour
        * HOURS_PER_MONTH,
    }


def main() -> None:
    template = load(TEMPLATE)
    variable = per_million(template, Profile())
    fixed = per_month(template)
    print("\nPer million voice messages (group of four, one member offline, 10 s clips):")
    for item, dollars in variable.items():
        print(f"  {item:<36} ${dollars:>9,.2f}")
    print(f"  {'total':<36} ${sum(variable.values()):>9,.2f}")
    print("\nFixed, per month (the prod stage as packaged):")
    for item, dollars in fixed.items():
        print(f"  {item:<48} ${dollars:>9,.2f}")
    print(f"  {'total':<48} ${sum(fixed.values()):>9,.2f}")


if __name__ == "__main__":
    main()
