"""A realistic day through the local stack, then the analyst's view of it: new users sign up
and are verified (or not), people talk in a group and one-to-one, receipts come back, and
everyone leaves. The exports the stack wrote on its own (stream consumers, the live-event
drain) must answer, through DuckDB, exactly what the tables say, counted independently;
no exported value may hold anything personal; the report renders every plot."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from analytics.local import LocalWarehouse, QueryResult, saved_queries, sync_exports
from analytics.schema import EVENTS
from sotto_cli.audio import tone_wav
from sotto_cli.client import SottoClient, sign_in
from tests.e2e.clients import PASSWORD, connect_as, signed_up, upload_clip
from tests.e2e.conftest import Stack, running_stack

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 2000 + b"\xff\xd9"
SETTLE_SECONDS = 90
FORBIDDEN_COLUMN_WORDS = (
    "name", "email", "phone", "token", "selfie", "url", "audio", "waveform", "gender", "face",
    "key", "password", "endpoint", "device",
)  # fmt: skip


@pytest.fixture(scope="module")
def day_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("analytics-stack")
    with running_stack(folder, "e2e-analytics", SOTTO_SEND_RATE_LIMIT="10000") as started:
        yield started


@dataclass
class Day:
    """What the test did, and what it saw, kept to check the exports against."""

    connections: int = 0
    live_messages: int = 0  # message events that arrived on an open socket
    secrets: set[str] = field(default_factory=set)  # tokens, selfie keys, URLs handed out


def test_a_day_exports_and_answers_what_the_tables_say(day_stack: Stack, tmp_path: Path) -> None:
    day = Day()
    newcomers = [_newcomer(day_stack, day) for _ in range(3)]
    asyncio.run(asyncio.wait_for(_chat(day_stack, day), 120))
    _verify(day_stack, day, approve=newcomers[0], reject=newcomers[1])

    folder = tmp_path / "exports"
    expected = _counted_from_tables(day_stack, day)
    answers = _settled(day_stack, folder, expected)

    assert answers == expected
    _check_saved_queries(folder, expected)
    _scan_for_personal_data(day_stack, folder, day)
    _report_renders(day_stack, tmp_path)


def _newcomer(stack: Stack, day: Day) -> str:
    """Signs up through Cognito and connects once (the profile is made then); the user id."""
    username = signed_up(stack)
    token = sign_in(stack.config, username, PASSWORD)
    day.secrets.add(token)

    async def visit() -> None:
        client = await SottoClient.connect(stack.config.ws_url, token)
        await client.request("ping")
        await client.close()

    asyncio.run(asyncio.wait_for(visit(), 30))
    day.connections += 1
    return _user_id(stack, username)


async def _chat(stack: Stack, day: Day) -> None:
    """Alice starts a group with Bob and Carol and sends three clips of different lengths;
    Carol leaves after the first; Bob answers Alice twice one-to-one. Receipts follow."""
    alice, bob, carol = [await connect_as(stack, name) for name in ("alice", "bob", "carol")]
    day.connections += 3
    ids = {name: stack.user(name)["user_id"] for name in ("alice", "bob", "carol")}
    heard: Counter[str] = Counter()
    listeners = [
        asyncio.create_task(_count_messages(client, name, heard))
        for name, client in (("alice", alice), ("bob", bob), ("carol", carol))
    ]
    group = await alice.request("createGroup", title="Band", members=[ids["bob"], ids["carol"]])
    conversation = str(group["conversationId"])
    for n, seconds in enumerate((1.0, 2.0, 6.5)):
        clip = await upload_clip(alice, tone_wav(seconds))
        await alice.request(
            "send", clientMessageId=str(uuid.uuid4()), clipId=clip, conversationId=conversation
        )
        if n == 0:
            await _wait_for(lambda: heard["carol"] >= 1, 20)
            await carol.close()
    for _ in range(2):
        clip = await upload_clip(bob, tone_wav(1.5))
        await bob.request("send", clientMessageId=str(uuid.uuid4()), clipId=clip, to=ids["alice"])
    await _wait_for(lambda: heard["bob"] >= 3 and heard["alice"] >= 2, 60)
    await bob.request("receipt", conversationId=conversation, kind="delivered", seqs=[1, 2, 3])
    await bob.request("receipt", conversationId=conversation, kind="listened", seqs=[1, 3])
    for task in listeners:
        task.cancel()
    day.live_messages = sum(heard.values())
    await alice.close()
    await bob.close()


async def _count_messages(client: SottoClient, name: str, heard: Counter[str]) -> None:
    async for event in client.events():
        if event.get("type") == "message" and (event.get("clip") or {}).get("url"):
            heard[name] += 1


async def _wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


def _verify(stack: Stack, day: Day, *, approve: str, reject: str) -> None:
    """Two newcomers send selfies; Mona approves one and rejects the other."""
    mona = stack.user("mona")
    as_mona = {
        "Authorization": f"Bearer {sign_in(stack.config, mona['username'], mona['password'])}"
    }
    api = stack.info["http_api_url"]
    for user_id, verdict in ((approve, True), (reject, False)):
        username = _username(stack, user_id)
        token = sign_in(stack.config, username, PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        grant = requests.post(
            f"{api}/selfie",
            json={"contentType": "image/jpeg", "size": len(JPEG)},
            headers=headers,
            timeout=30,
        ).json()
        day.secrets.update({grant["url"], grant["fields"]["key"]})
        files = {"file": ("me.jpg", JPEG, "image/jpeg")}
        requests.post(grant["url"], data=grant["fields"], files=files, timeout=30)
        case = _pending_case(stack, api, user_id, as_mona)
        decision = {"version": case["version"], "approve": verdict}
        if not verdict:
            decision["reason"] = f"Not {username}'s face, call +1 555 0100"
        decided = requests.post(
            f"{api}/moderation/cases/{user_id}/decision", json=decision, headers=as_mona, timeout=30
        )
        assert decided.status_code == 200, decided.text


def _pending_case(stack: Stack, api: str, user_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        case = requests.get(f"{api}/moderation/cases/{user_id}", headers=headers, timeout=30)
        if case.status_code == 200 and case.json()["state"] == "pending_review":
            return dict(case.json())
        time.sleep(0.2)
    raise AssertionError("the selfie never reached the moderators' queue")


def _scan(stack: Stack, setting: str) -> list[dict[str, Any]]:
    table = getattr(stack.clients.settings, setting)
    pages = stack.clients.dynamodb.get_paginator("scan").paginate(TableName=table)
    return [item for page in pages for item in page.get("Items", [])]


def _user_id(stack: Stack, username: str) -> str:
    for item in _scan(stack, "users_table"):
        if item["username"]["S"] == username:
            return str(item["userId"]["S"])
    raise AssertionError(f"no profile for {username}")


def _username(stack: Stack, user_id: str) -> str:
    return next(
        i["username"]["S"] for i in _scan(stack, "users_table") if i["userId"]["S"] == user_id
    )


COUNTS = {
    "signed_up": "SELECT COUNT(*) FROM user_signed_up",
    "messages": "SELECT COUNT(*) FROM message_sent",
    "group_messages": "SELECT COUNT(*) FROM message_sent WHERE conversation_kind = 'group'",
    "senders": "SELECT COUNT(DISTINCT sender_pid) FROM message_sent",
    "clips_ready": "SELECT COUNT(*) FROM clip_processed",
    "clip_ms": "SELECT COALESCE(SUM(duration_ms), 0) FROM clip_processed",
    "receipts_delivered": "SELECT COUNT(*) FROM message_delivered WHERE via = 'receipt'",
    "live_delivered": "SELECT COUNT(*) FROM message_delivered WHERE via = 'live'",
    "listened": "SELECT COUNT(*) FROM message_listened",
    "opened": "SELECT COUNT(*) FROM connection_opened",
    "closed": "SELECT COUNT(*) FROM connection_closed",
    "screened": "SELECT COUNT(*) FROM verification_screened",
    "approved": "SELECT COUNT(*) FROM verification_decided WHERE outcome = 'approved'",
    "rejected": "SELECT COUNT(*) FROM verification_decided WHERE outcome = 'rejected'",
}


def _counted_from_tables(stack: Stack, day: Day) -> dict[str, int]:
    """The same numbers, from the tables themselves (and, for what no table keeps, from what
    the test did and saw)."""
    messages = [
        m for m in _scan(stack, "messages_table") if int(m["seq"]["N"]) > 0 and "senderId" in m
    ]
    clips = [c for c in _scan(stack, "clips_table") if c["status"]["S"] == "ready"]
    audit = Counter(a["action"]["S"] for a in _scan(stack, "audit_table"))
    return {
        "signed_up": len(_scan(stack, "users_table")),
        "messages": len(messages),
        "group_messages": sum(1 for m in messages if m["conversationId"]["S"].startswith("g_")),
        "senders": len({m["senderId"]["S"] for m in messages}),
        "clips_ready": len(clips),
        "clip_ms": sum(int(c["durationMs"]["N"]) for c in clips),
        "receipts_delivered": sum(len(m.get("deliveredTo", {}).get("SS", [])) for m in messages),
        "live_delivered": day.live_messages,
        "listened": sum(len(m.get("listenedBy", {}).get("SS", [])) for m in messages),
        "opened": day.connections,
        "closed": day.connections,
        "screened": audit["screened"],
        "approved": audit["approved"],
        "rejected": audit["rejected"],
    }


def _answers(folder: Path) -> dict[str, int]:
    with LocalWarehouse(folder) as warehouse:
        return {name: int(warehouse.query(sql).rows[0][0]) for name, sql in COUNTS.items()}


def _settled(stack: Stack, folder: Path, expected: dict[str, int]) -> dict[str, int]:
    """The exports once the stream consumers and the live drain have caught up."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        sync_exports(stack.clients.s3, stack.info["analytics_bucket"], folder)
        answers = _answers(folder)
        if answers == expected or time.monotonic() > deadline:
            return answers
        time.sleep(1)


def _check_saved_queries(folder: Path, expected: dict[str, int]) -> None:
    with LocalWarehouse(folder) as warehouse:
        results: dict[str, QueryResult] = {q.name: warehouse.query(q.sql) for q in saved_queries()}
    per_day = results["voice_messages_per_day"]
    assert sum(per_day.column("messages")) == expected["messages"]
    assert sum(per_day.column("group_messages")) == expected["group_messages"]
    funnel = dict(
        zip(
            results["verification_funnel"].column("stage"),
            results["verification_funnel"].column("users"),
            strict=True,
        )
    )
    assert funnel == {
        "signed up": expected["signed_up"],
        "selfie screened": expected["screened"],
        "sent to review": expected["screened"],  # the stand-in sees one clear face
        "approved": expected["approved"],
    }
    assert sum(results["clip_durations"].column("clips")) == expected["clips_ready"]
    # alice, bob, carol and the three newcomers connected today; alice and bob sent
    assert results["daily_active_users"].column("active_users")[-1] == 6
    latency = {row[1]: row for row in results["delivery_latency"].rows}
    assert set(latency) == {"live", "receipt"}
    assert latency["live"][2] == expected["live_delivered"]
    assert 0 <= latency["live"][3] <= latency["live"][5]  # p50 <= p99


def _scan_for_personal_data(stack: Stack, folder: Path, day: Day) -> None:
    """Every column of every exported file: no name of a personal field, and no value that
    is an id, a name, a key, a token, a URL or an email address."""
    personal = set(day.secrets)
    for setting in (
        "users_table",
        "messages_table",
        "clips_table",
        "conversations_table",
        "verifications_table",
    ):
        for item in _scan(stack, setting):
            for attribute in (
                "userId",
                "username",
                "displayName",
                "conversationId",
                "clipId",
                "messageId",
                "key",
                "senderId",
                "selfieKey",
                "processedKey",
            ):
                value = item.get(attribute, {}).get("S")
                if value and not value.startswith("dedup#"):
                    personal.add(value)
    files = sorted(folder.glob("events/**/*.parquet"))
    assert {f.parts[-3].removeprefix("event=") for f in files} >= {e.name for e in EVENTS} - {
        "clip_rejected",
        "push_sent",
        "verification_appealed",
        "live_snapshot",
    }
    url_or_email = re.compile(r"https?://|s3://|@|[\w.+-]+\.(com|org|net)\b")
    for path in files:
        table = pq.read_table(io.BytesIO(path.read_bytes()))
        for column in table.column_names:
            assert not any(word in column.lower() for word in FORBIDDEN_COLUMN_WORDS), column
            for value in table.column(column).to_pylist():
                text = str(value)
                assert text not in personal, (path.name, column)
                assert not url_or_email.search(text), (path.name, column, text)
                assert not any(secret in text for secret in day.secrets if len(secret) > 8)


def _report_renders(stack: Stack, tmp_path: Path) -> None:
    """The analyst's commands, as they type them: a query and the report."""
    base = [sys.executable, "-m", "sotto_cli.main", "analytics"]
    where = ["--info-file", str(stack.info_file), "--data", str(tmp_path / "cli-data")]
    asked = subprocess.run(
        [*base, "query", "SELECT COUNT(*) AS n FROM message_sent", "--format", "json", *where],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)[0]["n"] > 0
    out = tmp_path / "report"
    made = subprocess.run(
        [*base, "report", "--out", str(out), *where],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    page = (out / "index.html").read_text()
    for query in saved_queries():
        png = out / f"{query.name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", query.name
        assert png.name in page
