"""Captured-shape events for tests: API Gateway, DynamoDB Streams, SNS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return event
