"""Pseudonymous ids: a keyed hash (HMAC-SHA256) of the real id, so exports join on users,
conversations and clips without holding an id that leads back to a person. The same key
gives the same pseudonym in every export; without the key there is no way back."""

from __future__ import annotations

import hmac

from analytics.schema import PID_LENGTH
from common.settings import LOCAL_ANALYTICS_KEY, Settings, SettingsError

PRODUCTION_STAGE = "prod"


class Pseudonyms:
    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("the analytics key must not be empty")
        self._key = key.encode()

    def of(self, kind: str, *parts: str | int) -> str:
        """The pseudonym of one thing; ``kind`` keeps a user and a clip with the same id apart."""
        text = "\x1f".join([kind, *(str(p) for p in parts)])
        return hmac.digest(self._key, text.encode(), "sha256").hex()[:PID_LENGTH]

    def user(self, user_id: str) -> str:
        return self.of("user", user_id)

    def conversation(self, conversation_id: str) -> str:
        return self.of("conversation", conversation_id)

    def connection(self, connection_id: str) -> str:
        return self.of("connection", connection_id)

    def clip(self, clip_id: str) -> str:
        return self.of("clip", clip_id)

    def event(self, event_type: str, *natural_key: str | int) -> str:
        """An event's id from what makes it unique, so a re-delivered event keeps its id."""
        return self.of("event", event_type, *natural_key)


def pseudonyms_for(settings: Settings) -> Pseudonyms:
    """The stage's pseudonyms. Production must have a key of its own: with the published
    local key anyone could recompute the pseudonyms of known ids."""
    if settings.stage == PRODUCTION_STAGE and settings.analytics_key == LOCAL_ANALYTICS_KEY:
        raise SettingsError(
            "SOTTO_ANALYTICS_KEY", f"the {PRODUCTION_STAGE} stage needs its own key"
        )
    return Pseudonyms(settings.analytics_key)
