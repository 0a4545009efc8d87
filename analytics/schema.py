"""The analytics event schema: one table per event type, the single source of the Parquet
schemas, the Redshift DDL (``analytics.redshift.ddl``) and the documented columns.

Every id is pseudonymous (``*_pid``: a keyed hash, see ``analytics.pseudonym``); nothing here
holds a name, an email, a phone number, a token, a selfie key, a URL or audio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa


class ColumnType(StrEnum):
    """Logical types, each with one Parquet type and one Redshift type."""

    TEXT = "text"  # an enumerated value or a short code
    PID = "pid"  # a pseudonymous id
    TIMESTAMP = "timestamp"  # UTC, microseconds
    INTEGER = "integer"
    REAL = "real"


ARROW_TYPES: Mapping[ColumnType, pa.DataType] = {
    ColumnType.TEXT: pa.string(),
    ColumnType.PID: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.INTEGER: pa.int64(),
    ColumnType.REAL: pa.float64(),
}

PID_LENGTH = 24  # hex characters: 96 bits


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    nullable: bool = False


@dataclass(frozen=True)
class EventSchema:
    name: str
    description: str
    source: str  # where the events come from
    columns: tuple[Column, ...]
    # Redshift layout, chosen for the saved queries (analytics/queries): a distribution key
    # that co-locates what they group or join by, or ALL for small tables; sorted by time.
    dist_key: str | None = None  # None: DISTSTYLE ALL

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in self.columns]
        )


def _common(*columns: Column) -> tuple[Column, ...]:
    return (
        Column("event_id", ColumnType.PID, "unique per event: re-exports carry the same id"),
        Column("occurred_at", ColumnType.TIMESTAMP, "when it happened (UTC)"),
        *columns,
    )


def _pid(name: str, what: str) -> Column:
    return Column(name, ColumnType.PID, f"pseudonymous id of the {what}")


USER = _pid("user_pid", "user")
CONVERSATION = _pid("conversation_pid", "conversation")
CONVERSATION_KIND = Column("conversation_kind", ColumnType.TEXT, "`direct` or `group`")
SEQ = Column("seq", ColumnType.INTEGER, "the message's number in its conversation")
CLIP = _pid("clip_pid", "voice clip")
CONNECTION = _pid("connection_pid", "WebSocket connection")
NODE = Column("node", ColumnType.TEXT, "the WebSocket endpoint holding the connection")

EVENTS: tuple[EventSchema, ...] = (
    EventSchema(
        "user_signed_up",
        "A confirmed user's profile was created.",
        "users table stream (INSERT)",
        _common(USER),
    ),
    EventSchema(
        "connection_opened",
        "A WebSocket connection was accepted.",
        "connections table stream (INSERT)",
        _common(USER, CONNECTION, NODE),
        dist_key="user_pid",
    ),
    EventSchema(
        "connection_closed",
        "A WebSocket connection ended (closed, dropped or found gone).",
        "connections table stream (REMOVE)",
        _common(
            USER,
            CONNECTION,
            NODE,
            Column("duration_seconds", ColumnType.REAL, "how long it was open"),
        ),
        dist_key="user_pid",
    ),
    EventSchema(
        "message_sent",
        "A voice message was stored.",
        "messages table stream (INSERT)",
        _common(CONVERSATION, CONVERSATION_KIND, SEQ, _pid("sender_pid", "sender (a user)"), CLIP),
        dist_key="conversation_pid",
    ),
    EventSchema(
        "message_delivered",
        "A message reached a member: live through the fan-out, or by the member's own "
        "`delivered` receipt (after `sync`).",
        "fan-out (`live`); messages table stream, new `deliveredTo` entries (`receipt`)",
        _common(
            CONVERSATION,
            SEQ,
            _pid("recipient_pid", "recipient (a user)"),
            Column("via", ColumnType.TEXT, "`live` or `receipt`"),
            Column("latency_ms", ColumnType.INTEGER, "from the message's storing to this"),
        ),
        dist_key="conversation_pid",
    ),
    EventSchema(
        "message_listened",
        "A member played a message (a `listened` receipt).",
        "messages table stream, new `listenedBy` entries",
        _common(
            CONVERSATION,
            SEQ,
            _pid("listener_pid", "listener (a user)"),
            Column("latency_ms", ColumnType.INTEGER, "from the message's storing to this"),
        ),
        dist_key="conversation_pid",
    ),
    EventSchema(
        "clip_processed",
        "An uploaded clip was transcoded and is ready to play.",
        "clips table stream (status becomes `ready`)",
        _common(
            CLIP,
            _pid("owner_pid", "clip's owner (a user)"),
            Column("duration_ms", ColumnType.INTEGER, "the clip's length"),
        ),
        dist_key="clip_pid",
    ),
    EventSchema(
        "clip_rejected",
        "An uploaded clip could not be used.",
        "clips table stream (status becomes `rejected`)",
        _common(
            CLIP,
            _pid("owner_pid", "clip's owner (a user)"),
            Column("reason", ColumnType.TEXT, "the rejection code"),
        ),
        dist_key="clip_pid",
    ),
    EventSchema(
        "push_sent",
        "A push notification was published to one device.",
        "push worker",
        _common(
            USER,
            Column("platform", ColumnType.TEXT, "`ios`, `ios_sandbox` or `android`"),
            Column("kind", ColumnType.TEXT, "`message`, `welcome` or `verification`"),
            Column("messages", ColumnType.INTEGER, "voice messages it announces (0 if none)"),
        ),
        dist_key="user_pid",
    ),
    EventSchema(
        "verification_screened",
        "The machine screened a selfie.",
        "audit table stream (`screened`)",
        _common(
            USER,
            Column("outcome", ColumnType.TEXT, "`retry` or `pending_review`"),
            Column("retry_reason", ColumnType.TEXT, "why another selfie is needed", True),
        ),
    ),
    EventSchema(
        "verification_decided",
        "A moderator approved or rejected a verification.",
        "audit table stream (`approved`, `rejected`)",
        _common(
            USER,
            _pid("moderator_pid", "moderator (a user)"),
            Column("outcome", ColumnType.TEXT, "`approved` or `rejected`"),
        ),
    ),
    EventSchema(
        "verification_appealed",
        "A rejected user appealed.",
        "audit table stream (`appealed`)",
        _common(USER),
    ),
    EventSchema(
        "live_snapshot",
        "One measurement of the live state, taken on a schedule.",
        "snapshot handler (Redis and SQS)",
        _common(
            Column("metric", ColumnType.TEXT, "what was measured (see the metrics list)"),
            Column("dimension", ColumnType.TEXT, "the node, queue or window it is for"),
            Column("value", ColumnType.REAL, "the measurement"),
        ),
    ),
)

SCHEMAS: Mapping[str, EventSchema] = {schema.name: schema for schema in EVENTS}


def schema_of(event_type: str) -> EventSchema:
    try:
        return SCHEMAS[event_type]
    except KeyError:
        raise ValueError(f"unknown analytics event type {event_type!r}") from None


def names() -> Sequence[str]:
    return [schema.name for schema in EVENTS]


def schema_markdown() -> str:
    """The documented schema (docs/analytics.md holds this text; a test keeps it current)."""
    parts = []
    for schema in EVENTS:
        layout = f"`DISTKEY({schema.dist_key})`" if schema.dist_key else "`DISTSTYLE ALL`"
        parts.append(
            f"### `{schema.name}`\n\n{schema.description} From: {schema.source}. "
            f"Redshift: {layout}, `SORTKEY(occurred_at)`.\n\n"
            "| column | type | meaning |\n|---|---|---|\n"
            + "".join(
                f"| `{c.name}` | {c.type.value}{' (may be null)' if c.nullable else ''} "
                f"| {c.description} |\n"
                for c in schema.columns
            )
        )
    return "\n".join(parts)
