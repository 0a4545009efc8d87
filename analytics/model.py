"""An analytics event: its type and one row of that type's columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from analytics.schema import schema_of


@dataclass(frozen=True)
class AnalyticsEvent:
    event_type: str
    row: Mapping[str, Any]  # every column of the type's schema, ``event_id`` and ``occurred_at``

    def __post_init__(self) -> None:
        expected = set(schema_of(self.event_type).column_names)
        if set(self.row) != expected:
            raise ValueError(
                f"{self.event_type} needs columns {sorted(expected)}, got {sorted(self.row)}"
            )

    @property
    def event_id(self) -> str:
        return str(self.row["event_id"])

    @property
    def occurred_at(self) -> datetime:
        moment: datetime = self.row["occurred_at"]
        return moment

    @property
    def day(self) -> date:
        return self.occurred_at.astimezone(UTC).date()

    def to_json(self) -> dict[str, Any]:
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.row.items()}
        return {"type": self.event_type, "row": row}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalyticsEvent:
        row = dict(data["row"])
        row["occurred_at"] = datetime.fromisoformat(row["occurred_at"])
        return cls(str(data["type"]), row)
