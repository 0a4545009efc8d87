"""Shared steps of the chat functional tests: users, handler calls, clips made ready."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests

from chat import handlers
from chat.clip_store import Claim
from chat.deps import ChatDeps
from chat.logic import processed_key
from chat.model import Clip, ProcessedClip, UserProfile
from common.clients import Clients
from common.events import Caller
from tests.functional.helpers import NOW, RecordingChatDeps, action, frame

ALICE = Caller("u-alice", "alice")
BOB = Caller("u-bob", "bob")
CAROL = Caller("u-carol", "carol")


DAVE = Caller("u-dave", "dave")
EVERYONE = (ALICE, BOB, CAROL, DAVE)


def with_users(aws: Clients) -> RecordingChatDeps:
    """The real composition on ``aws``, with Alice, Bob, Carol and Dave signed up and
    verified."""
    deps = RecordingChatDeps(aws)
    sign_up(deps, *EVERYONE)
    return deps


def sign_up(deps: ChatDeps, *callers: Caller) -> None:
    """Profiles for these users, verified (approved by a moderator): they may chat."""
    for caller in callers:
        name = caller.username.title()
        profile = UserProfile(caller.user_id, caller.username, name, verified=True)
        deps.users.put(profile, deps.clock.now())


def call(
    handler: Callable[..., dict[str, Any]],
    caller: Caller,
    body: dict[str, Any],
    deps: ChatDeps,
    connection: str | None = None,
) -> dict[str, Any]:
    return frame(handler(action(caller, connection or f"{caller.username}-phone", body), deps=deps))


PROCESSED = b"OggS" + b"\1" * 60  # stands in for our encoder's output in these tests


def make_ready(deps: ChatDeps, clip_id: str, duration_ms: int = 1500) -> Clip:
    """Walk a clip through the real store transitions to ready, as the processor does, and
    release what waited for it (the processor itself is tested with real audio elsewhere)."""
    clip = deps.clips.get(clip_id)
    assert clip is not None
    deps.clips.note_upload(clip_id, "etag", clip.declared_size, NOW)
    claim, claimed = deps.clips.claim(clip_id, NOW, NOW + timedelta(minutes=5))
    assert claim is Claim.CLAIMED and claimed is not None
    key = processed_key(clip_id)
    deps.clients.s3.put_object(Bucket=deps.clients.settings.clips_bucket, Key=key, Body=PROCESSED)
    processed = ProcessedClip(key, duration_ms, tuple(range(64)))
    finished, waiting = deps.clips.finish(claimed, processed, None)
    deps.chat.release(finished, waiting)
    return finished


def reject(deps: ChatDeps, clip_id: str, reason: str) -> str:
    deps.clips.note_upload(clip_id, "etag", 10, NOW)
    _, claimed = deps.clips.claim(clip_id, NOW, NOW + timedelta(minutes=5))
    assert claimed is not None
    finished, waiting = deps.clips.finish(claimed, None, reason)
    deps.chat.withdraw(finished, waiting)
    return clip_id


def ready_clip(deps: ChatDeps, caller: Caller) -> str:
    clip_id = uploaded_clip(deps, caller)
    make_ready(deps, clip_id)
    return clip_id


def uploaded_clip(
    deps: ChatDeps, caller: Caller, data: bytes = b"OggS" + b"\0" * 96, declared: int | None = None
) -> str:
    grant = call(
        handlers.upload,
        caller,
        {"action": "upload", "contentType": "audio/ogg", "size": declared or len(data)},
        deps,
    )
    response = requests.post(
        grant["url"],
        data=grant["fields"],
        files={"file": ("clip.ogg", data, "audio/ogg")},
        timeout=10,
    )
    assert response.status_code in (200, 201, 204)
    return str(grant["clipId"])


def send(
    deps: ChatDeps, caller: Caller, clip_id: str, message_id: str = "m-1", **target: str
) -> dict[str, Any]:
    return call(
        handlers.send,
        caller,
        {
            "action": "send",
            "requestId": "s",
            "clientMessageId": message_id,
            "clipId": clip_id,
            **target,
        },
        deps,
    )


def create_group(deps: ChatDeps, owner: Caller, *members: Caller, title: str = "Band") -> str:
    """A group started by ``owner`` through the handler; its conversation id."""
    answer = call(
        handlers.create_group,
        owner,
        {"action": "createGroup", "title": title, "members": [m.user_id for m in members]},
        deps,
    )
    assert answer["type"] == "membership" and answer["change"] == "created", answer
    return str(answer["conversationId"])
