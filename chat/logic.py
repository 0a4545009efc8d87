"""Chat's pure rules: what may be uploaded and sent, where things live, who gets a delivery."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Iterable, Mapping, Sequence

from chat.model import Clip, ClipStatus, FanoutEnvelope
from chat.wire import UploadRequest
from common.errors import BadRequest, ClipNotUploaded, ClipRejected, Forbidden, NotFound, TooLarge

# Audio a phone or a browser records. Parameters (``audio/webm;codecs=opus``) are allowed.
AUDIO_TYPES = frozenset(
    {
        "audio/aac",
        "audio/amr",
        "audio/flac",
        "audio/m4a",
        "audio/mp4",
        "audio/mpeg",
        "audio/ogg",
        "audio/opus",
        "audio/wav",
        "audio/wave",
        "audio/webm",
        "audio/x-m4a",
        "audio/x-wav",
        "audio/3gpp",
    }
)
# A reply frame must stay under API Gateway's 128 KB message limit, with room for the envelope.
FRAME_BUDGET_BYTES = 120 * 1024
RAW_KEY_PARTS = 4  # clips/raw/<owner id>/<clip id>


def check_upload(request: UploadRequest, max_bytes: int) -> None:
    base_type = request.content_type.split(";", 1)[0].strip().lower()
    if base_type not in AUDIO_TYPES:
        raise BadRequest(
            f"{request.content_type!r} is not an audio type we accept.", field="contentType"
        )
    if request.size > max_bytes:
        raise TooLarge(f"A clip may be at most {max_bytes} bytes.", maxBytes=max_bytes)


def clip_key(user_id: str, clip_id: str) -> str:
    """Raw uploads live under the uploader's own prefix; the presigned POST is scoped to it."""
    return f"clips/raw/{user_id}/{clip_id}"


def direct_conversation_id(user_a: str, user_b: str) -> str:
    """The one conversation two users share, whoever writes first: same pair, same id."""
    low, high = sorted((user_a, user_b))
    return "d_" + hashlib.sha256(f"{low}\n{high}".encode()).hexdigest()[:32]


def check_direct_recipient(sender_id: str, recipient_id: str) -> None:
    if sender_id == recipient_id:
        raise BadRequest("You cannot send a direct message to yourself.", field="to")


def check_clip_owner(clip: Clip | None, sender_id: str) -> Clip:
    if clip is None:
        raise NotFound("No clip has that id.")
    if clip.owner_id != sender_id:
        raise Forbidden("That clip belongs to someone else.")
    return clip


def check_clip_sendable(clip: Clip) -> None:
    if clip.status is ClipStatus.REJECTED:
        raise ClipRejected(
            "That clip is not usable audio.", reason=clip.reject_reason or "", clipId=clip.clip_id
        )


def processed_key(clip_id: str) -> str:
    """Processed clips live apart from raw uploads (the bucket notifies only on clips/raw/)."""
    return f"clips/processed/{clip_id}.ogg"


def clip_id_from_key(key: str) -> tuple[str, str] | None:
    """(owner id, clip id) of a raw upload's key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != RAW_KEY_PARTS or parts[:2] != ["clips", "raw"] or not all(parts[2:]):
        return None
    return parts[2], parts[3]


def check_clip_stored(clip: Clip, stored_size: int | None, max_bytes: int) -> None:
    """Storage may not enforce the upload policy (moto does not), so the size is checked again."""
    if stored_size is None:
        raise ClipNotUploaded("The clip has not been uploaded yet.")
    if stored_size > min(clip.declared_size, max_bytes):
        raise TooLarge("The uploaded clip is larger than the size it was granted.")


def plan_fanout(envelope: FanoutEnvelope, connection_ids: Iterable[str]) -> list[str]:
    """The connections to deliver to: every live connection of the members but the sender's."""
    targets = (c for c in connection_ids if c != envelope.sender_connection_id)
    return list(dict.fromkeys(targets))


def unreached(
    users: Iterable[str], live: Mapping[str, str], gone: Collection[str], sender_id: str | None
) -> list[str]:
    """The users (but the sender) that no connection delivered to: none was live, or every
    one answered Gone. ``live`` maps connection id -> user."""
    heard = {user for connection, user in live.items() if connection not in gone}
    return [u for u in dict.fromkeys(users) if u != sender_id and u not in heard]


def fit_in_frame(encoded_sizes: Sequence[int], budget: int = FRAME_BUDGET_BYTES) -> int:
    """How many leading items fit in one frame (at least one, so a page always advances)."""
    used = 0
    for count, size in enumerate(encoded_sizes):
        used += size + 1
        if used > budget and count > 0:
            return count
    return len(encoded_sizes)


def rate_decision(
    previous: int, current: int, elapsed: float, limit: int, window: float
) -> int | None:
    """A sliding-window rate limit over two fixed windows: ``previous`` counts the last window,
    ``current`` this one (this attempt included), ``elapsed`` is the time into this window.
    None when the attempt is allowed, else the whole seconds to wait before one would be."""
    fraction = elapsed / window
    if previous * (1 - fraction) + current <= limit:
        return None
    if current <= limit:  # the previous window's weight fades as this window goes on
        wait = (1 - (limit - current) / previous - fraction) * window
    else:  # only the next window helps, once this one's count has faded enough
        wait = (1 - fraction) * window + (1 - (limit - 1) / (current - 1)) * window
    return max(1, math.ceil(wait))


def is_direct_id(conversation_id: str) -> bool:
    return conversation_id.startswith("d_")
