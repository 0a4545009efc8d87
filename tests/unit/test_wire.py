from __future__ import annotations

from typing import Any

import pytest

from chat.wire import (
    MAX_SYNC_LIMIT,
    parse_lookup_user,
    parse_send,
    parse_sync,
    parse_upload,
)
from common.errors import BadRequest


def field_of(parse: Any, body: dict[str, Any]) -> str:
    with pytest.raises(BadRequest) as raised:
        parse(body)
    return str(raised.value.details.get("field"))


def test_a_send_names_a_conversation_or_a_person() -> None:
    to_person = parse_send({"clientMessageId": "m1", "clipId": "c_1", "to": "u-bob"})
    assert (to_person.to, to_person.conversation_id) == ("u-bob", None)
    in_conversation = parse_send(
        {"clientMessageId": "m1", "clipId": "c_1", "conversationId": "d_1"}
    )
    assert in_conversation.conversation_id == "d_1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clipId": "c_1", "to": "u"}, "clientMessageId"),
        ({"clientMessageId": "m1", "to": "u"}, "clipId"),
        ({"clientMessageId": "m1", "clipId": "c_1"}, "conversationId"),
        (
            {"clientMessageId": "m1", "clipId": "c_1", "to": "u", "conversationId": "d"},
            "conversationId",
        ),
        ({"clientMessageId": 7, "clipId": "c_1", "to": "u"}, "clientMessageId"),
        ({"clientMessageId": "has space", "clipId": "c_1", "to": "u"}, "clientMessageId"),
        ({"clientMessageId": "m1", "clipId": "c/../x", "to": "u"}, "clipId"),
        ({"clientMessageId": "m" * 65, "clipId": "c_1", "to": "u"}, "clientMessageId"),
    ],
)
def test_send_errors_name_the_field(body: dict[str, Any], field: str) -> None:
    assert field_of(parse_send, body) == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": 10}, "contentType"),
        ({"contentType": "audio/ogg"}, "size"),
        ({"contentType": "audio/ogg", "size": "10"}, "size"),
        ({"contentType": "audio/ogg", "size": True}, "size"),
        ({"contentType": "audio/ogg", "size": 0}, "size"),
        ({"contentType": "audio/ogg\r\nX-Evil: 1", "size": 10}, "contentType"),
    ],
)
def test_upload_errors_name_the_field(body: dict[str, Any], field: str) -> None:
    assert field_of(parse_upload, body) == field


def test_sync_has_a_default_and_a_maximum_page() -> None:
    assert parse_sync({"conversationId": "d_1", "afterSeq": 0}).limit == 50
    assert (
        field_of(parse_sync, {"conversationId": "d_1", "afterSeq": 0, "limit": MAX_SYNC_LIMIT + 1})
        == "limit"
    )
    assert field_of(parse_sync, {"conversationId": "d_1", "afterSeq": -1}) == "afterSeq"
    assert field_of(parse_sync, {"conversationId": "d_1"}) == "afterSeq"


def test_a_user_is_looked_up_by_name_or_by_id() -> None:
    assert parse_lookup_user({"username": "bob"}).username == "bob"
    assert parse_lookup_user({"userId": "u-1"}).user_id == "u-1"
    assert field_of(parse_lookup_user, {}) == "username"
    assert field_of(parse_lookup_user, {"username": "bob", "userId": "u"}) == "username"
    assert field_of(parse_lookup_user, {"username": "bo b"}) == "username"
