"""The documents that users read agree with the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

from analytics.schema import schema_markdown
from common.errors import SottoError
from common.events import CONNECT_ROUTE, DEFAULT_ROUTE, DISCONNECT_ROUTE
from common.settings import documented_variables
from local_gateway.limits import GatewayLimits
from local_gateway.routes import (
    COGNITO_TRIGGERS,
    HTTP_ROUTES,
    QUEUE_FUNCTIONS,
    SCHEDULED_FUNCTIONS,
    STREAM_FUNCTIONS,
    WEBSOCKET_ROUTES,
    load_function,
)

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()
README = (ROOT / "README.md").read_text()
CORE = (
    "bad_request",
    "unknown_action",
    "forbidden",
    "not_found",
    "too_large",
    "rate_limited",
    "not_verified",
    "internal_error",
)


def every_error_class() -> list[type[SottoError]]:
    found, todo = [SottoError], [SottoError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def test_every_error_code_is_documented_and_the_core_ones_exist() -> None:
    codes = {cls.code for cls in every_error_class()}
    assert set(CORE) <= codes
    documented = set(re.findall(r"^\| `(\w+)` \|", PROTOCOL, flags=re.MULTILINE))
    assert codes <= documented, codes - documented


def test_every_action_route_is_documented() -> None:
    actions = set(WEBSOCKET_ROUTES) - {CONNECT_ROUTE, DISCONNECT_ROUTE, DEFAULT_ROUTE}
    for action in actions:
        assert f"### `{action}`" in PROTOCOL, action


def test_the_documented_limits_are_the_gateways() -> None:
    limits = GatewayLimits()
    assert f"| frame size | {limits.max_frame_bytes // 1024} KB |" in PROTOCOL
    assert f"| message size | {limits.max_message_bytes // 1024} KB" in PROTOCOL
    assert f"| integration timeout | {limits.integration_timeout_seconds:.0f} s |" in PROTOCOL


def test_every_setting_is_in_the_readme_table() -> None:
    for key, _ in documented_variables():
        assert f"| `{key}` |" in README, key


def test_every_http_route_is_documented() -> None:
    for route in HTTP_ROUTES:
        assert f"### `{route}`" in PROTOCOL, route


def test_every_function_the_tables_name_exists() -> None:
    """What serverless.yml will name: every handler path resolves to a function."""
    for table in (
        WEBSOCKET_ROUTES,
        HTTP_ROUTES,
        QUEUE_FUNCTIONS,
        COGNITO_TRIGGERS,
    ):
        for path in table.values():
            assert callable(load_function(path)), path
    for path in [*STREAM_FUNCTIONS, *SCHEDULED_FUNCTIONS]:
        assert callable(load_function(path)), path


def test_the_analytics_schema_is_documented_as_the_code_defines_it() -> None:
    """docs/analytics.md ends with analytics.schema.schema_markdown(): paste it after a change."""
    analytics = (ROOT / "docs" / "analytics.md").read_text()
    assert schema_markdown() in analytics
