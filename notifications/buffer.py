"""Push coalescing in Redis: what waits for one user's push in one conversation, and when the
window closes. Ephemeral, with TTLs; losing it costs a push, never a message.

Per (user, conversation): a hash ``seq -> "<sender>|<durationMs>"`` (a redelivered job writes
the same field again, so duplicates collapse), the window's end (set only if absent: the first
message opens the window and schedules the flush), and the newest seq pushed (so that a job
delivered again after its push does not push again).
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from notifications.model import WaitingMessage

KEEP_SECONDS = 24 * 3600  # a flush that never came: dropped a day later


class BufferUnavailable(Exception):
    """Redis could not be reached; the caller pushes at once, uncoalesced."""


class PushBuffer:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    def add(
        self, user_id: str, conversation_id: str, message: WaitingMessage, window_ends: datetime
    ) -> bool:
        """Keep the message for the user's next push; True when it opened a window (the caller
        then schedules the flush for ``window_ends``)."""
        waiting, window, _ = self._keys(user_id, conversation_id)
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(waiting, str(message.seq), f"{message.sender_id}|{message.duration_ms}")
            pipe.expire(waiting, KEEP_SECONDS)
            pipe.set(window, str(window_ends.timestamp()), nx=True, ex=KEEP_SECONDS)
            return bool(pipe.execute()[-1])
        except redis.RedisError as error:
            raise BufferUnavailable(str(error)) from error

    def window_ends(self, user_id: str, conversation_id: str) -> datetime | None:
        _, window, _ = self._keys(user_id, conversation_id)
        try:
            raw = self._client.get(window)
        except redis.RedisError as error:
            raise BufferUnavailable(str(error)) from error
        return datetime.fromtimestamp(float(_text(raw)), UTC) if raw is not None else None

    def take(self, user_id: str, conversation_id: str) -> list[WaitingMessage]:
        """Everything waiting, not pushed before, in seq order; the window closes."""
        waiting, window, pushed = self._keys(user_id, conversation_id)
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.hgetall(waiting)
            pipe.get(pushed)
            pipe.delete(waiting, window)
            fields, last_pushed, _ = pipe.execute()
            done = int(_text(last_pushed)) if last_pushed is not None else 0
            messages = sorted(
                (m for m in map(_waiting, fields.items()) if m.seq > done), key=lambda m: m.seq
            )
            if messages:
                self._client.set(pushed, str(messages[-1].seq), ex=KEEP_SECONDS)
        except redis.RedisError as error:
            raise BufferUnavailable(str(error)) from error
        return messages

    def _keys(self, user_id: str, conversation_id: str) -> tuple[str, str, str]:
        base = f"{self._namespace}:push:{user_id}:{conversation_id}"
        return f"{base}:waiting", f"{base}:window", f"{base}:pushed"


def _waiting(field: tuple[bytes | str, bytes | str]) -> WaitingMessage:
    seq, value = field
    sender, _, duration = _text(value).rpartition("|")
    return WaitingMessage(int(_text(seq)), sender, int(duration))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
