"""Messages as clients see them: clips looked up, URLs signed (or on the CDN), and what depends
on who is looking (receipts for the sender, nothing from a sender the viewer blocked)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from chat.clip_store import ClipFiles, ClipStore
from chat.model import Clip, ClipStatus, Message
from chat.wire import message_frame


@dataclass(frozen=True)
class ClipUrls:
    ttl_seconds: int
    cdn_url: str | None = None  # processed clips served from here when set


class MessageRenderer:
    def __init__(self, clips: ClipStore, files: ClipFiles, urls: ClipUrls) -> None:
        self._clips = clips
        self._files = files
        self._urls = urls

    def live(self, message: Message, clip: Clip) -> dict[str, Any]:
        """The ``message`` event every member gets."""
        return message_frame(message, clip, self.clip_url(clip))

    def for_viewer(
        self, messages: Sequence[Message], viewer: str, hidden_senders: Collection[str] = ()
    ) -> list[dict[str, Any]]:
        clips = self._clips.get_many(m.clip_id for m in messages)
        return [
            message_frame(
                m,
                clips[m.clip_id],
                self.clip_url(clips[m.clip_id]),
                with_receipts=m.sender_id == viewer,
                hidden=m.sender_id in hidden_senders,
            )
            for m in messages
        ]

    def clip_url(self, clip: Clip) -> str | None:
        if clip.status is not ClipStatus.READY or clip.processed_key is None:
            return None
        if self._urls.cdn_url:
            return f"{self._urls.cdn_url.rstrip('/')}/{clip.processed_key}"
        return self._files.download_url(clip.processed_key, self._urls.ttl_seconds)
