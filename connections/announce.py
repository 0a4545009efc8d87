"""Presence changes, told to everyone who shares a conversation with the user.

Presence is ephemeral: the event goes through the fan-out channel only (the fan-out service
resolves the user's contacts); with no subscriber or no Redis it is dropped, and clients learn
presence again from the ``presence`` action.
"""

from __future__ import annotations

import json
from datetime import datetime

from chat.bus import FanoutPublisher, PublishFailed
from chat.model import FanoutEnvelope
from common.logs import get_logger
from connections.logic import presence_entry

log = get_logger("presence")


class PresenceAnnouncer:
    def __init__(self, publisher: FanoutPublisher) -> None:
        self._publisher = publisher

    def __call__(self, user_id: str, online: bool, last_seen: datetime | None) -> None:
        frame = {"type": "presence", "users": [presence_entry(user_id, online, last_seen)]}
        envelope = FanoutEnvelope(
            conversation_id=f"presence#{user_id}",
            sender_connection_id="",
            payload=json.dumps(frame, separators=(",", ":")),
            sender_id=user_id,
            contacts_of=user_id,
        )
        try:
            self._publisher.publish(envelope)
        except PublishFailed as error:
            log.info("presence of %s not announced: %s", user_id, error)
