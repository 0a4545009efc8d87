"""The local gateway's pure parts: route selection and connection limits."""

from __future__ import annotations

import pytest

from local_gateway.limits import GatewayLimits, keeps_up, next_deadline, overdue
from local_gateway.routes import WEBSOCKET_ROUTES, select_route


@pytest.mark.parametrize(
    ("body", "route"),
    [
        ('{"action":"send"}', "send"),
        ('{"action":"sync","afterSeq":0}', "sync"),
        ('{"action":"dance"}', "$default"),
        ('{"action":"$connect"}', "$default"),
        ('{"action":"$disconnect"}', "$default"),
        ('{"action":7}', "$default"),
        ('{"no":"action"}', "$default"),
        ("[1]", "$default"),
        ("not json", "$default"),
        ("", "$default"),
    ],
)
def test_routes_are_selected_on_action(body: str, route: str) -> None:
    assert select_route(body, WEBSOCKET_ROUTES) == route


def test_every_route_has_a_handler_path() -> None:
    for route, path in WEBSOCKET_ROUTES.items():
        assert path.count(".") >= 2, route


LIMITS = GatewayLimits(idle_timeout_seconds=600, max_lifetime_seconds=7200)


def test_an_active_connection_is_not_overdue() -> None:
    assert overdue(LIMITS, opened_at=0, last_active=500, now=1000) is None
    assert next_deadline(LIMITS, opened_at=0, last_active=500) == 1100


def test_an_idle_connection_is_closed() -> None:
    assert overdue(LIMITS, opened_at=0, last_active=0, now=600) == "Connection idle for too long"


def test_an_old_connection_is_closed_even_when_busy() -> None:
    assert overdue(LIMITS, opened_at=0, last_active=7199, now=7200) == (
        "Connection reached its maximum lifetime"
    )
    assert next_deadline(LIMITS, opened_at=0, last_active=7000) == 7200


def test_api_gateway_defaults() -> None:
    defaults = GatewayLimits()
    assert (defaults.max_frame_bytes, defaults.max_message_bytes) == (32 * 1024, 128 * 1024)
    assert (defaults.idle_timeout_seconds, defaults.max_lifetime_seconds) == (600, 7200)
    assert defaults.integration_timeout_seconds == 29


def test_a_connection_keeps_up_while_its_unsent_bytes_are_within_the_bound() -> None:
    limits = GatewayLimits(max_outbound_buffer_bytes=64 * 1024)
    assert keeps_up(limits, 0)
    assert keeps_up(limits, 64 * 1024)
    assert not keeps_up(limits, 64 * 1024 + 1)
    assert GatewayLimits().max_outbound_buffer_bytes == 1024 * 1024
