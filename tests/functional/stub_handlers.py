"""Stand-in Lambda functions that record what the gateway sends them."""

from __future__ import annotations

import json
import time
from typing import Any

from common.events import allow_policy

EVENTS: list[dict[str, Any]] = []
KNOWN_TOKENS = {"alice", "bob", "full"}


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append(event)
    token = (event.get("queryStringParameters") or {}).get("token")
    if token == "deny":
        policy = allow_policy("x", event["methodArn"], {})
        policy["policyDocument"]["Statement"][0]["Effect"] = "Deny"
        return policy
    if token == "explode":
        raise RuntimeError("a bug in the authorizer")
    if token not in KNOWN_TOKENS:
        raise Exception("Unauthorized")
    return allow_policy(token, event["methodArn"], {"userId": token, "username": token})


def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append(event)
    if event["requestContext"]["authorizer"]["userId"] == "full":
        body = {"code": "rate_limited", "message": "Too many connections"}
        return {"statusCode": 429, "body": json.dumps(body)}
    return {"statusCode": 200}


def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append(event)
    return {"statusCode": 200}


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append(event)
    return {"statusCode": 200, "body": event["body"]}


def default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    EVENTS.append(event)
    return {"statusCode": 200, "body": json.dumps({"type": "default"})}


def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("handler bug")


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(1.0)
    return {"statusCode": 200, "body": "late"}


def silent(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


ROUTES = {
    "$connect": connect,
    "$disconnect": disconnect,
    "$default": default,
    "echo": echo,
    "crash": crash,
    "slow": slow,
    "silent": silent,
}
