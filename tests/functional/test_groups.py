"""Groups, roles, the conversation list and catch-up, driven through their handlers on moto and
fakeredis (or the real Redis when REDIS_URL is set)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import redis

from chat import handlers
from chat.conversation_store import ConversationStore
from chat.member_cache import MemberCache, MemberLookup
from chat.model import FanoutEnvelope
from common.clients import Clients
from common.errors import Forbidden
from common.events import Caller
from tests.functional.chatting import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    call,
    create_group,
    ready_clip,
    send,
    sign_up,
    with_users,
)
from tests.functional.conftest import AtomicRequests, OperationLog
from tests.functional.helpers import RecordingChatDeps


@pytest.fixture
def deps(aws: Clients) -> RecordingChatDeps:
    return with_users(aws)


def roles(deps: RecordingChatDeps, caller: Caller, group: str) -> dict[str, str]:
    listed = call(handlers.members, caller, {"action": "members", "conversationId": group}, deps)
    return {m["userId"]: m["role"] for m in listed["members"]}


def told(deps: RecordingChatDeps) -> list[tuple[dict[str, Any], FanoutEnvelope]]:
    """The events fanned out so far (directly, as no subscriber listens in these tests)."""
    return [(json.loads(envelope.payload), envelope) for envelope, _ in deps.direct]


def test_a_group_is_created_with_roles_and_everyone_hears_of_it(deps: RecordingChatDeps) -> None:
    group = create_group(deps, ALICE, BOB, CAROL, title="  The   Band ")
    assert roles(deps, BOB, group) == {
        ALICE.user_id: "owner",
        BOB.user_id: "member",
        CAROL.user_id: "member",
    }
    [(event, envelope)] = told(deps)
    assert event["title"] == "The Band" and event["by"] == ALICE.user_id
    assert set(envelope.user_ids) == {ALICE.user_id, BOB.user_id, CAROL.user_id}
    assert envelope.sender_connection_id == "alice-phone"  # it got the same frame as its answer


def test_bad_group_requests_are_refused_with_their_codes(deps: RecordingChatDeps) -> None:
    def refused(body: dict[str, Any]) -> str:
        return str(
            call(handlers.create_group, ALICE, {"action": "createGroup", **body}, deps)["code"]
        )

    assert refused({"title": "   ", "members": []}) == "bad_request"
    assert refused({"title": "x", "members": "bob"}) == "bad_request"
    assert refused({"title": "x", "members": ["u-nobody"]}) == "not_found"
    assert refused({"title": "x", "members": [f"u-{i}" for i in range(51)]}) == "bad_request"


def test_admins_add_and_remove_members_and_members_cannot(deps: RecordingChatDeps) -> None:
    group = create_group(deps, ALICE, BOB)
    add = {"action": "addMembers", "conversationId": group, "members": [CAROL.user_id]}
    assert call(handlers.add_members, BOB, add, deps)["code"] == "forbidden"
    promote = {"action": "setRole", "conversationId": group, "userId": BOB.user_id}
    assert call(handlers.set_role, ALICE, {**promote, "role": "admin"}, deps)["role"] == "admin"
    added = call(handlers.add_members, BOB, add, deps)
    assert added["change"] == "added" and added["userIds"] == [CAROL.user_id]
    again = call(handlers.add_members, BOB, add, deps)
    assert again["code"] == "bad_request"  # already a member

    remove = {"action": "removeMember", "conversationId": group}
    assert (
        call(handlers.remove_member, CAROL, {**remove, "userId": BOB.user_id}, deps)["code"]
        == "forbidden"
    )
    assert (
        call(handlers.remove_member, BOB, {**remove, "userId": ALICE.user_id}, deps)["code"]
        == "forbidden"
    )  # an admin cannot remove the owner
    removed = call(handlers.remove_member, BOB, {**remove, "userId": CAROL.user_id}, deps)
    assert removed["change"] == "removed"
    event, envelope = told(deps)[-1]
    assert event["userIds"] == [CAROL.user_id]
    assert CAROL.user_id in envelope.user_ids  # the removed member hears of it too
    assert set(roles(deps, ALICE, group)) == {ALICE.user_id, BOB.user_id}


def test_non_members_get_forbidden_and_learn_nothing(deps: RecordingChatDeps) -> None:
    group = create_group(deps, ALICE, BOB)
    clip = ready_clip(deps, DAVE)
    refusals = [
        call(handlers.members, DAVE, {"action": "members", "conversationId": group}, deps),
        call(handlers.members, DAVE, {"action": "members", "conversationId": "g_none"}, deps),
        call(
            handlers.add_members,
            DAVE,
            {"action": "addMembers", "conversationId": group, "members": [DAVE.user_id]},
            deps,
        ),
        call(handlers.leave_group, DAVE, {"action": "leaveGroup", "conversationId": group}, deps),
        call(handlers.sync, DAVE, {"action": "sync", "conversationId": group, "afterSeq": 0}, deps),
        send(deps, DAVE, clip, "intrude", conversationId=group),
        call(
            handlers.rename_group,
            DAVE,
            {"action": "renameGroup", "conversationId": group, "title": "mine"},
            deps,
        ),
    ]
    assert {r["code"] for r in refusals} == {"forbidden"}
    # an existing group and one that does not exist answer alike
    assert refusals[0]["message"] == refusals[1]["message"]
    assert all(set(r) <= {"type", "requestId", "code", "message"} for r in refusals)
    assert len(told(deps)) == 1  # only the creation was ever told


def test_only_the_owner_changes_roles_and_handing_over_keeps_one_owner(
    deps: RecordingChatDeps,
) -> None:
    group = create_group(deps, ALICE, BOB, CAROL)
    body = {"action": "setRole", "conversationId": group}
    call(handlers.set_role, ALICE, {**body, "userId": BOB.user_id, "role": "admin"}, deps)
    assert (
        call(handlers.set_role, BOB, {**body, "userId": CAROL.user_id, "role": "admin"}, deps)[
            "code"
        ]
        == "forbidden"
    )
    assert (
        call(handlers.set_role, ALICE, {**body, "userId": BOB.user_id, "role": "king"}, deps)[
            "code"
        ]
        == "bad_request"
    )
    call(handlers.set_role, ALICE, {**body, "userId": CAROL.user_id, "role": "owner"}, deps)
    assert roles(deps, BOB, group) == {
        ALICE.user_id: "admin",
        BOB.user_id: "admin",
        CAROL.user_id: "owner",
    }


def test_an_owner_who_leaves_hands_the_group_to_the_longest_standing_admin(
    deps: RecordingChatDeps,
) -> None:
    group = create_group(deps, ALICE, BOB)
    add = {"action": "addMembers", "conversationId": group, "members": [CAROL.user_id]}
    call(handlers.add_members, ALICE, add, deps)
    body = {"action": "setRole", "conversationId": group, "role": "admin"}
    call(handlers.set_role, ALICE, {**body, "userId": CAROL.user_id}, deps)
    left = call(
        handlers.leave_group, ALICE, {"action": "leaveGroup", "conversationId": group}, deps
    )
    assert left["change"] == "left" and left["userIds"] == [ALICE.user_id]
    assert roles(deps, BOB, group) == {BOB.user_id: "member", CAROL.user_id: "owner"}
    event, _ = told(deps)[-1]
    assert event["change"] == "role" and event["role"] == "owner"
    assert event["userIds"] == [CAROL.user_id]


def test_renaming_is_for_owners_and_admins(deps: RecordingChatDeps) -> None:
    group = create_group(deps, ALICE, BOB)
    body = {"action": "renameGroup", "conversationId": group, "title": "Quartet"}
    assert call(handlers.rename_group, BOB, body, deps)["code"] == "forbidden"
    assert call(handlers.rename_group, ALICE, body, deps)["title"] == "Quartet"
    listed = call(handlers.members, BOB, {"action": "members", "conversationId": group}, deps)
    assert listed["title"] == "Quartet"


def test_a_direct_conversation_has_no_members_to_manage(deps: RecordingChatDeps) -> None:
    direct = send(deps, ALICE, ready_clip(deps, ALICE), "hi", to=BOB.user_id)["conversationId"]
    body = {"action": "addMembers", "conversationId": direct, "members": [CAROL.user_id]}
    assert call(handlers.add_members, ALICE, body, deps)["code"] == "bad_request"


def test_a_removed_member_can_no_longer_send_or_sync(deps: RecordingChatDeps) -> None:
    group = create_group(deps, ALICE, BOB)
    clip = ready_clip(deps, BOB)
    assert send(deps, BOB, clip, "before", conversationId=group)["seq"] == 1
    remove = {"action": "removeMember", "conversationId": group, "userId": BOB.user_id}
    call(handlers.remove_member, ALICE, remove, deps)
    assert send(deps, BOB, clip, "after", conversationId=group)["code"] == "forbidden"
    sync = {"action": "sync", "conversationId": group, "afterSeq": 0}
    assert call(handlers.sync, BOB, sync, deps)["code"] == "forbidden"


def test_the_message_write_itself_refuses_a_sender_removed_after_the_check(
    deps: RecordingChatDeps,
) -> None:
    """The membership check and the write are apart; the write's own condition closes the gap."""
    group = create_group(deps, ALICE, BOB)
    clip = ready_clip(deps, BOB)
    send(deps, BOB, clip, "first", conversationId=group)
    stored = deps.messages.after(group, 0, 10)[0][0]
    call(
        handlers.remove_member,
        ALICE,
        {"action": "removeMember", "conversationId": group, "userId": BOB.user_id},
        deps,
    )
    late = stored.__class__(**{**stored.__dict__, "client_message_id": "late", "message_id": "m2"})
    with pytest.raises(Forbidden):
        deps.messages.append(late)
    assert deps.messages.after(group, 0, 10)[0] == [stored]


def test_group_messages_reach_every_member_and_new_members_at_once(
    deps: RecordingChatDeps, aws: Clients
) -> None:
    """Fan-out reads the member list from the Redis cache; a change invalidates it."""
    group = create_group(deps, ALICE, BOB)
    log = OperationLog(aws.dynamodb)
    members = MemberLookup(
        ConversationStore(log, aws.settings.conversations_table),  # type: ignore[arg-type]
        MemberCache(aws.redis, aws.settings.redis_namespace, 60),
    )
    assert sorted(members.member_ids(group)) == sorted([ALICE.user_id, BOB.user_id])
    queries = log.calls.count("Query")
    assert sorted(members.member_ids(group)) == sorted([ALICE.user_id, BOB.user_id])
    assert log.calls.count("Query") == queries  # served from Redis the second time
    add = {"action": "addMembers", "conversationId": group, "members": [CAROL.user_id]}
    call(handlers.add_members, ALICE, add, deps)
    assert sorted(members.member_ids(group)) == sorted([ALICE.user_id, BOB.user_id, CAROL.user_id])
    cached = list(aws.redis.keys(f"{aws.settings.redis_namespace}:members:*"))
    assert len(cached) == 1 and cached[0].endswith(b":1")  # version 0's entry was deleted


def test_the_conversation_list_has_last_messages_and_unread_counts(
    deps: RecordingChatDeps,
) -> None:
    group = create_group(deps, ALICE, BOB, CAROL)
    alice_clip, bob_clip = ready_clip(deps, ALICE), ready_clip(deps, BOB)
    for i in range(3):
        send(deps, ALICE, alice_clip, f"a{i}", conversationId=group)
    deps.manual_clock.advance(60)
    direct = send(deps, BOB, bob_clip, "dm", to=CAROL.user_id)["conversationId"]

    listed = call(handlers.conversations, CAROL, {"action": "conversations"}, deps)
    first, second = listed["conversations"]
    assert first["conversationId"] == direct and first["with"] == BOB.user_id  # newest first
    assert first["unread"] == 1 and first["lastMessage"]["from"] == BOB.user_id
    assert second["conversationId"] == group and second["title"] == "Band"
    assert second["unread"] == 3 and second["lastMessage"]["seq"] == 3
    assert second["role"] == "member" and second["memberCount"] == 3

    read = {"action": "markRead", "conversationId": group, "seq": 2}
    assert call(handlers.mark_read, CAROL, read, deps)["lastReadSeq"] == 2
    assert (
        call(handlers.mark_read, CAROL, {**read, "seq": 1}, deps)["lastReadSeq"] == 2
    )  # never back
    assert (
        call(handlers.mark_read, CAROL, {**read, "seq": 99}, deps)["lastReadSeq"] == 3
    )  # not past
    deps.manual_clock.advance(60)
    send(deps, CAROL, ready_clip(deps, CAROL), "c0", conversationId=group)
    listed = call(handlers.conversations, CAROL, {"action": "conversations", "limit": 1}, deps)
    [only] = listed["conversations"]
    assert only["conversationId"] == group and only["unread"] == 0  # my own send reads up to it
    assert listed["more"] is True
    assert call(handlers.mark_read, DAVE, read, deps)["code"] == "forbidden"


def test_the_sync_summary_names_every_conversation_with_news(deps: RecordingChatDeps) -> None:
    group = create_group(deps, ALICE, BOB)
    quiet = create_group(deps, ALICE, BOB, title="Quiet")
    clip = ready_clip(deps, ALICE)
    for i in range(2):
        send(deps, ALICE, clip, f"g{i}", conversationId=group)
    send(deps, ALICE, clip, "q0", conversationId=quiet)
    gone = create_group(deps, ALICE, BOB, title="Gone")
    call(handlers.leave_group, BOB, {"action": "leaveGroup", "conversationId": gone}, deps)

    since = {group: 1, quiet: 1, gone: 0}
    summary = call(handlers.sync, BOB, {"action": "sync", "since": since}, deps)
    assert summary["type"] == "summary" and summary["more"] is False
    by_id = {c["conversationId"]: c for c in summary["conversations"]}
    assert by_id == {
        group: {
            "conversationId": group,
            "member": True,
            "lastSeq": 2,
            "unread": 2,
            "version": 0,
        },
        gone: {"conversationId": gone, "member": False},
    }
    everything = call(handlers.sync, BOB, {"action": "sync"}, deps)["conversations"]
    assert {c["conversationId"] for c in everything} == {group, quiet}
    assert (
        call(handlers.sync, BOB, {"action": "sync", "since": {group: -1}}, deps)["code"]
        == "bad_request"
    )


class AtomicClients(Clients):
    @property
    def dynamodb(self) -> Any:
        return AtomicRequests(super().dynamodb)


def test_concurrent_group_senders_and_racing_retries_on_redis(aws: Clients, redis_url: str) -> None:
    """Eight members send at once into one group, one of them retrying the same message
    four times at once: every seq once, no gap, one message per client message id, and
    every message published to Redis (fakeredis, or the real server when REDIS_URL is set)."""
    deps = with_users(aws)
    extra = [Caller(f"u-member{i}", f"member{i}") for i in range(4)]
    sign_up(deps, *extra)
    senders = [ALICE, BOB, CAROL, DAVE, *extra]
    group = create_group(deps, ALICE, *senders[1:])
    clips = {s.user_id: ready_clip(deps, s) for s in senders}
    real_redis = redis.Redis.from_url(redis_url)
    racing = RecordingChatDeps(AtomicClients(aws.settings, redis_client=real_redis))
    listener = real_redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(f"{aws.settings.redis_namespace}:fanout")
    answers: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()

    def sender(caller: Caller, client_message_id: str) -> None:
        answer = send(
            racing, caller, clips[caller.user_id], client_message_id, conversationId=group
        )
        with lock:
            answers.setdefault(client_message_id, []).append(answer)

    jobs = [(s, f"{s.username}-{i}") for i in range(3) for s in senders] + [(BOB, "retry")] * 4
    threads = [threading.Thread(target=sender, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(a["type"] == "ack" for acks in answers.values() for a in acks), answers
    retried = answers.pop("retry")
    assert all(a == retried[0] for a in retried)
    seqs = sorted([retried[0]["seq"]] + [acks[0]["seq"] for acks in answers.values()])
    assert seqs == list(range(1, len(senders) * 3 + 2))
    stored, more = racing.messages.after(group, 0, 100)
    assert [m.seq for m in stored] == seqs and not more
    published = []
    deadline = time.monotonic() + 10
    while len(published) + len(racing.direct) < len(seqs) and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.2)  # None for the subscription confirmation
        if message is not None:
            published.append(FanoutEnvelope.from_json(message["data"]))
    from_redis = [json.loads(e.payload)["seq"] for e in published] + [
        json.loads(e.payload)["seq"] for e, _ in racing.direct
    ]
    assert sorted(from_redis) == seqs  # each message went out exactly once
    listener.close()
