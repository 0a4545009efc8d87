"""upload, send, sync and lookupUser driven through their handlers on moto and fakeredis."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from typing import Any

import pytest
import redis
import requests

from chat import handlers
from chat.model import FanoutEnvelope
from common.clients import Clients, redis_client
from common.events import Caller
from tests.functional.chatting import (
    ALICE,
    BOB,
    CAROL,
    PROCESSED,
    call,
    make_ready,
    ready_clip,
    reject,
    send,
    sign_up,
    uploaded_clip,
    with_users,
)
from tests.functional.conftest import AtomicRequests
from tests.functional.helpers import RecordingChatDeps


@pytest.fixture
def deps(aws: Clients) -> RecordingChatDeps:
    return with_users(aws)


def next_message(subscriber: Any, seconds: float = 5) -> dict[str, Any]:
    """Poll until a published message arrives (subscription confirmations read as None)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = subscriber.get_message(timeout=0.1)
        if message is not None:
            return dict(message)
    raise AssertionError("nothing was published")


def stored_messages(aws: Clients) -> list[dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=aws.settings.messages_table)["Items"]
    return [i for i in items if int(i["seq"]["N"]) > 0]


def test_upload_grants_a_post_scoped_to_the_callers_prefix_type_and_size(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    grant = call(
        handlers.upload,
        ALICE,
        {"action": "upload", "requestId": "u1", "contentType": "audio/ogg", "size": 5000},
        deps,
    )
    assert grant["type"] == "upload" and grant["requestId"] == "u1"
    assert grant["fields"]["key"] == f"clips/raw/u-alice/{grant['clipId']}"
    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    assert ["content-length-range", 1, 5000] in policy["conditions"]
    assert {"key": f"clips/raw/u-alice/{grant['clipId']}"} in policy["conditions"]
    assert {"bucket": aws.settings.clips_bucket} in policy["conditions"]
    assert {"Content-Type": "audio/ogg"} in policy["conditions"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"contentType": "image/jpeg", "size": 10}, "bad_request"),
        ({"contentType": "audio/ogg", "size": 17 * 1024 * 1024}, "too_large"),
        ({"contentType": "audio/ogg"}, "bad_request"),
    ],
)
def test_upload_refuses_what_is_not_a_reasonable_clip(
    deps: RecordingChatDeps, aws: Clients, body: dict[str, Any], code: str
) -> None:
    assert call(handlers.upload, ALICE, {"action": "upload", **body}, deps)["code"] == code
    assert aws.dynamodb.scan(TableName=aws.settings.clips_table)["Count"] == 0


def test_a_direct_message_is_acked_stored_and_published(
    deps: RecordingChatDeps, aws: Clients, fake_redis: redis.Redis
) -> None:
    subscriber = fake_redis.pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(f"{aws.settings.redis_namespace}:fanout")
    clip = ready_clip(deps, ALICE)
    ack = send(deps, ALICE, clip, to=BOB.user_id)
    assert ack["type"] == "ack" and ack["requestId"] == "s" and ack["seq"] == 1
    published = next_message(subscriber)
    envelope = FanoutEnvelope.from_json(published["data"])
    assert (envelope.conversation_id, envelope.sender_connection_id) == (
        ack["conversationId"],
        "alice-phone",
    )
    event = json.loads(envelope.payload)
    assert event["type"] == "message" and event["from"] == ALICE.user_id and event["seq"] == 1
    assert event["messageId"] == ack["messageId"] and event["sentAt"] == "2026-11-21T12:00:00.000Z"
    assert event["clip"] == {
        **event["clip"],
        "id": clip,
        "contentType": "audio/ogg",
        "codec": "opus",
        "durationMs": 1500,
        "waveform": list(range(64)),
        "status": "ready",
    }
    assert requests.get(event["clip"]["url"], timeout=10).content == PROCESSED  # never the raw file
    assert deps.direct == []  # a subscriber took it


def test_with_no_subscriber_the_sender_fans_out_directly(deps: RecordingChatDeps) -> None:
    ack = send(deps, ALICE, ready_clip(deps, ALICE), to=BOB.user_id)
    [(envelope, endpoint)] = deps.direct
    assert json.loads(envelope.payload)["messageId"] == ack["messageId"]
    assert endpoint == "https://abc123.execute-api.us-east-1.amazonaws.com/test"


def test_with_redis_down_the_send_still_succeeds_and_fans_out_directly(aws: Clients) -> None:
    dead = redis_client("redis://127.0.0.1:1")  # nothing listens there
    deps = RecordingChatDeps(Clients(aws.settings, redis_client=dead))
    sign_up(deps, ALICE, BOB)
    ack = send(deps, ALICE, ready_clip(deps, ALICE), to=BOB.user_id)
    assert ack["type"] == "ack"
    assert len(deps.direct) == 1


def test_the_same_pair_shares_one_conversation_and_seqs_count_up(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    first = send(deps, ALICE, uploaded_clip(deps, ALICE), "a-1", to=BOB.user_id)
    second = send(deps, BOB, uploaded_clip(deps, BOB), "b-1", to=ALICE.user_id)
    third = send(deps, BOB, uploaded_clip(deps, BOB), "b-2", conversationId=first["conversationId"])
    assert first["conversationId"] == second["conversationId"] == third["conversationId"]
    assert [first["seq"], second["seq"], third["seq"]] == [1, 2, 3]
    items = aws.dynamodb.query(
        TableName=aws.settings.conversations_table,
        KeyConditionExpression="conversationId = :c",
        ExpressionAttributeValues={":c": {"S": first["conversationId"]}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["#meta", "member#u-alice", "member#u-bob"]


def test_a_retried_send_gets_the_same_ack_and_stores_nothing_twice(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    clip = ready_clip(deps, ALICE)
    first = send(deps, ALICE, clip, "retry-me", to=BOB.user_id)
    again = send(deps, ALICE, clip, "retry-me", to=BOB.user_id)
    assert again == first
    assert len(stored_messages(aws)) == 1
    assert len(deps.direct) == 1  # the retry is not delivered twice


def test_refusals_have_their_codes_and_store_nothing(deps: RecordingChatDeps, aws: Clients) -> None:
    alices = uploaded_clip(deps, ALICE)
    conversation = send(deps, ALICE, alices, "first", to=BOB.user_id)["conversationId"]
    granted_only = call(
        handlers.upload, ALICE, {"action": "upload", "contentType": "audio/ogg", "size": 10}, deps
    )["clipId"]
    oversize = uploaded_clip(deps, ALICE, data=b"x" * 500, declared=100)
    rejected = reject(deps, uploaded_clip(deps, ALICE), "not_audio")
    cases = [
        (
            CAROL,
            {"clipId": uploaded_clip(deps, CAROL), "conversationId": conversation},
            "forbidden",
        ),
        (
            CAROL,
            {"clipId": uploaded_clip(deps, CAROL), "conversationId": "d_nonexistent"},
            "forbidden",
        ),
        (BOB, {"clipId": alices, "to": ALICE.user_id}, "forbidden"),
        (
            CAROL,
            {"clipId": alices, "to": BOB.user_id},
            "forbidden",
        ),  # a pair with no conversation yet
        (ALICE, {"clipId": "c_unknown", "to": BOB.user_id}, "not_found"),
        (ALICE, {"clipId": granted_only, "to": BOB.user_id}, "clip_not_uploaded"),
        (ALICE, {"clipId": oversize, "to": BOB.user_id}, "too_large"),
        (ALICE, {"clipId": rejected, "to": BOB.user_id}, "clip_rejected"),
        (ALICE, {"clipId": alices, "to": "u-nobody"}, "not_found"),
        (ALICE, {"clipId": alices, "to": ALICE.user_id}, "bad_request"),
    ]
    for i, (caller, target, code) in enumerate(cases):
        clip_id = target.pop("clipId")
        answer = send(deps, caller, clip_id, f"m-{i}", **target)
        assert (answer["type"], answer["code"], answer["requestId"]) == ("error", code, "s"), target
    assert len(stored_messages(aws)) == 1
    conversations = aws.dynamodb.scan(TableName=aws.settings.conversations_table)["Items"]
    assert {c["conversationId"]["S"] for c in conversations} == {conversation}  # no stray 1:1


def test_sync_returns_messages_after_a_seq_in_pages(deps: RecordingChatDeps) -> None:
    acks = [send(deps, ALICE, ready_clip(deps, ALICE), f"m{i}", to=BOB.user_id) for i in range(5)]
    conversation = acks[0]["conversationId"]
    page = call(
        handlers.sync,
        BOB,
        {
            "action": "sync",
            "requestId": "y",
            "conversationId": conversation,
            "afterSeq": 1,
            "limit": 2,
        },
        deps,
    )
    assert page["type"] == "messages" and page["requestId"] == "y" and page["more"] is True
    assert [m["seq"] for m in page["messages"]] == [2, 3]
    assert page["messages"][0]["messageId"] == acks[1]["messageId"]
    assert page["messages"][0]["clip"]["url"].startswith("https://")
    assert page["messages"][0]["clip"]["status"] == "ready"
    rest = call(
        handlers.sync, BOB, {"action": "sync", "conversationId": conversation, "afterSeq": 3}, deps
    )
    assert [m["seq"] for m in rest["messages"]] == [4, 5] and rest["more"] is False
    outsider = call(
        handlers.sync,
        CAROL,
        {"action": "sync", "conversationId": conversation, "afterSeq": 0},
        deps,
    )
    assert outsider["code"] == "forbidden"


def test_users_are_found_by_name_or_id(deps: RecordingChatDeps) -> None:
    by_name = call(handlers.lookup_user, ALICE, {"action": "lookupUser", "username": "bob"}, deps)
    assert by_name == {"type": "user", "userId": "u-bob", "username": "bob", "displayName": "Bob"}
    by_id = call(handlers.lookup_user, ALICE, {"action": "lookupUser", "userId": "u-bob"}, deps)
    assert by_id == by_name
    assert (
        call(handlers.lookup_user, ALICE, {"action": "lookupUser", "username": "zed"}, deps)["code"]
        == "not_found"
    )


class AtomicClients(Clients):
    @property
    def dynamodb(self) -> Any:
        return AtomicRequests(super().dynamodb)


def test_concurrent_senders_get_distinct_gapless_seqs_and_racing_retries_one_message(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    conversation = send(deps, ALICE, uploaded_clip(deps, ALICE), "opening", to=BOB.user_id)[
        "conversationId"
    ]
    clips = {caller.user_id: uploaded_clip(deps, caller) for caller in (ALICE, BOB)}
    racing = RecordingChatDeps(AtomicClients(aws.settings, redis_client=aws.redis))
    acks: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()

    def sender(caller: Caller, client_message_id: str) -> None:
        answer = send(
            racing, caller, clips[caller.user_id], client_message_id, conversationId=conversation
        )
        with lock:
            acks.setdefault(client_message_id, []).append(answer)

    jobs = [(caller, f"{caller.username}-{i}") for i in range(6) for caller in (ALICE, BOB)]
    jobs += [(ALICE, "raced")] * 4
    threads = [threading.Thread(target=sender, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert all(a["type"] == "ack" for answers in acks.values() for a in answers), acks
    assert len(acks) == 13
    raced = acks.pop("raced")
    assert len(raced) == 4 and all(a == raced[0] for a in raced)  # one ack for every retry
    seqs = sorted([raced[0]["seq"]] + [answers[0]["seq"] for answers in acks.values()])
    assert seqs == list(range(2, 15))  # no gap, no seq given twice
    assert len(stored_messages(aws)) == 14  # the opening message and 13 more, none twice


def test_a_message_on_a_clip_being_processed_waits_and_is_delivered_when_ready(
    deps: RecordingChatDeps,
) -> None:
    clip = uploaded_clip(deps, ALICE)
    ack = send(deps, ALICE, clip, "early", to=BOB.user_id)
    assert ack["type"] == "ack"  # accepted at once...
    assert deps.direct == []  # ...but nothing delivered while the clip is not ready
    listed = call(
        handlers.sync,
        BOB,
        {"action": "sync", "conversationId": ack["conversationId"], "afterSeq": 0},
        deps,
    )
    [waiting] = listed["messages"]
    assert waiting["clip"]["status"] == "processing" and waiting["clip"]["url"] is None
    make_ready(deps, clip, duration_ms=2300)
    [(envelope, _)] = deps.direct
    event = json.loads(envelope.payload)
    assert (event["messageId"], event["clip"]["durationMs"]) == (ack["messageId"], 2300)
    assert envelope.sender_connection_id == "alice-phone"  # still not echoed to the sender


def test_a_message_on_a_rejected_clip_is_withdrawn_and_the_sender_told(
    deps: RecordingChatDeps,
) -> None:
    clip = uploaded_clip(deps, ALICE)
    ack = send(deps, ALICE, clip, "doomed", to=BOB.user_id)
    reject(deps, clip, "not_audio")
    [(notice, _)] = deps.direct
    assert notice.user_ids == (ALICE.user_id,)  # to the sender only, on every connection
    error = json.loads(notice.payload)
    assert error == {
        "type": "error",
        "code": "clip_rejected",
        "message": error["message"],
        "reason": "not_audio",
        "clipId": clip,
        "messageId": ack["messageId"],
        "conversationId": ack["conversationId"],
        "seq": ack["seq"],
    }
    listed = call(
        handlers.sync,
        BOB,
        {"action": "sync", "conversationId": ack["conversationId"], "afterSeq": 0},
        deps,
    )
    [withdrawn] = listed["messages"]
    assert withdrawn["withdrawn"] is True and withdrawn["clip"] is None
    assert withdrawn["seq"] == ack["seq"]  # the seq stays taken: no gap for clients


def test_with_a_cdn_configured_clips_are_served_from_it(aws: Clients) -> None:
    settings = dataclasses.replace(aws.settings, clip_cdn_url="https://cdn.example.com/")
    deps = RecordingChatDeps(Clients(settings, redis_client=aws.redis))
    sign_up(deps, ALICE, BOB)
    clip = ready_clip(deps, ALICE)
    send(deps, ALICE, clip, to=BOB.user_id)
    [(envelope, _)] = deps.direct
    url = json.loads(envelope.payload)["clip"]["url"]
    assert url == f"https://cdn.example.com/clips/processed/{clip}.ogg"
