"""Getting an event out: PUBLISH for the fan-out subscriber, or fan out directly from this
handler when no subscriber took it (or Redis is down). Slower, never lost."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chat.bus import FanoutPublisher, PublishFailed
from chat.model import FanoutEnvelope
from common.logs import get_logger

log = get_logger("outbound")

# Fans an event out without Redis: (envelope, the API endpoint the request came through).
DirectFanout = Callable[[FanoutEnvelope, str], None]


def compact(frame: Mapping[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


class Outbound:
    def __init__(self, publisher: FanoutPublisher, direct_fanout: DirectFanout) -> None:
        self._publisher = publisher
        self._direct_fanout = direct_fanout

    def send(self, envelope: FanoutEnvelope, api_endpoint: str) -> None:
        try:
            receivers = self._publisher.publish(envelope)
        except PublishFailed as error:
            log.warning("publish failed (%s); fanning out directly", error)
            receivers = 0
        if receivers == 0:
            self._direct_fanout(envelope, api_endpoint)
