"""API Gateway's WebSocket limits, and the pure rules that close idle and old connections."""

from __future__ import annotations

from dataclasses import dataclass

GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
TRY_AGAIN_LATER = 1013
TOO_SLOW = "Too slow: reconnect and sync"


@dataclass(frozen=True)
class GatewayLimits:
    max_frame_bytes: int = 32 * 1024
    max_message_bytes: int = 128 * 1024
    idle_timeout_seconds: float = 600
    max_lifetime_seconds: float = 2 * 3600
    integration_timeout_seconds: float = 29
    max_in_flight_per_connection: int = 10
    # Not API Gateway's: what one connection may leave unsent before it is closed as too slow.
    max_outbound_buffer_bytes: int = 1024 * 1024
    # How long a closing handshake may take before the TCP connection is dropped.
    close_timeout_seconds: float = 10


def overdue(limits: GatewayLimits, opened_at: float, last_active: float, now: float) -> str | None:
    """Why a connection must be closed now, or None. Times are monotonic seconds."""
    if now - opened_at >= limits.max_lifetime_seconds:
        return "Connection reached its maximum lifetime"
    if now - last_active >= limits.idle_timeout_seconds:
        return "Connection idle for too long"
    return None


def next_deadline(limits: GatewayLimits, opened_at: float, last_active: float) -> float:
    return min(opened_at + limits.max_lifetime_seconds, last_active + limits.idle_timeout_seconds)


def keeps_up(limits: GatewayLimits, unsent_bytes: int) -> bool:
    """Whether a connection may take another frame. Checked before every write, so a connection
    never holds more than the bound plus one frame; one that does not keep up gets nothing more."""
    return unsent_bytes <= limits.max_outbound_buffer_bytes
