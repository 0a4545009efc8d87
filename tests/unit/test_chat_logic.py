from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat.logic import (
    check_clip_owner,
    check_clip_stored,
    check_direct_recipient,
    check_upload,
    clip_key,
    direct_conversation_id,
    fit_in_frame,
    plan_fanout,
)
from chat.model import Clip, ClipStatus, FanoutEnvelope, profile_name
from chat.wire import UploadRequest
from common.errors import BadRequest, ClipNotUploaded, Forbidden, NotFound, TooLarge
from connections.model import Connection

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def clip(owner: str = "alice", declared: int = 1000) -> Clip:
    return Clip("c_1", owner, "audio/ogg", declared, ClipStatus.AWAITING_UPLOAD, NOW, "k")


def connection(connection_id: str, user: str) -> Connection:
    return Connection(connection_id, user, NOW, 2**31)


@pytest.mark.parametrize("content_type", ["audio/ogg", "audio/webm;codecs=opus", "AUDIO/WAV"])
def test_audio_uploads_are_accepted(content_type: str) -> None:
    check_upload(UploadRequest(content_type, 1000), max_bytes=2000)


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/octet-stream", "audio", "text/html"]
)
def test_other_types_are_bad_requests(content_type: str) -> None:
    with pytest.raises(BadRequest) as raised:
        check_upload(UploadRequest(content_type, 1000), max_bytes=2000)
    assert raised.value.details["field"] == "contentType"


def test_an_oversize_upload_is_too_large() -> None:
    with pytest.raises(TooLarge):
        check_upload(UploadRequest("audio/ogg", 2001), max_bytes=2000)


def test_uploads_live_under_the_uploaders_prefix() -> None:
    assert clip_key("u-1", "c_9") == "clips/raw/u-1/c_9"


def test_a_direct_conversation_is_the_same_whoever_writes_first() -> None:
    assert direct_conversation_id("alice", "bob") == direct_conversation_id("bob", "alice")
    assert direct_conversation_id("alice", "bob") != direct_conversation_id("alice", "carol")
    # ids cannot be confused by joining: ("a", "bc") is not ("ab", "c")
    assert direct_conversation_id("a", "bc") != direct_conversation_id("ab", "c")


def test_you_cannot_message_yourself() -> None:
    with pytest.raises(BadRequest):
        check_direct_recipient("alice", "alice")


def test_only_the_owner_may_send_a_clip() -> None:
    assert check_clip_owner(clip(), "alice").clip_id == "c_1"
    with pytest.raises(Forbidden):
        check_clip_owner(clip(), "mallory")
    with pytest.raises(NotFound):
        check_clip_owner(None, "alice")


def test_the_stored_file_must_exist_and_fit_the_grant() -> None:
    check_clip_stored(clip(declared=1000), stored_size=1000, max_bytes=5000)
    with pytest.raises(ClipNotUploaded):
        check_clip_stored(clip(), stored_size=None, max_bytes=5000)
    with pytest.raises(TooLarge):
        check_clip_stored(clip(declared=1000), stored_size=1001, max_bytes=5000)


def test_fanout_reaches_every_connection_but_the_senders_once() -> None:
    envelope = FanoutEnvelope("d_1", sender_connection_id="alice-phone", payload="{}")
    connections = ["alice-phone", "alice-laptop", "bob-phone", "bob-phone"]
    assert plan_fanout(envelope, connections) == ["alice-laptop", "bob-phone"]


def test_a_page_is_cut_to_fit_a_frame_but_always_advances() -> None:
    assert fit_in_frame([100, 100, 100], budget=250) == 2
    assert fit_in_frame([1000, 10], budget=250) == 1
    assert fit_in_frame([10, 10], budget=250) == 2
    assert fit_in_frame([], budget=250) == 0


def test_the_envelope_survives_the_wire() -> None:
    envelope = FanoutEnvelope("d_1", "conn=", '{"type":"message"}')
    assert FanoutEnvelope.from_json(envelope.to_json()) == envelope


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("Erin", "Erin"),
        ("  Erin \t van\n Dijk ", "Erin van Dijk"),
        ("", "erin"),
        ("\u200b\x07 ", "erin"),
        ("x" * 150, "x" * 100),
    ],
)
def test_a_new_profile_is_named_as_its_user_signed_up_else_by_user_name(
    given: str, shown: str
) -> None:
    assert profile_name(given, "erin") == shown
