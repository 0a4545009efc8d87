"""Streams of messages and the client that catches up on them: ``Sender`` sends one clip again
and again and keeps the acks; ``Timeline`` is the protocol's catch-up algorithm
(docs/protocol.md, "Catching up") for one conversation: live messages and ``sync`` pages merged,
deduplicated by seq."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sotto_cli.client import SottoClient
from tests.e2e.clients import next_event, upload_clip
from tests.e2e.conftest import Stack


async def ready_clip(stack: Stack, sender: SottoClient, bob: SottoClient) -> str:
    """A clip the pipeline has finished: sent once to Bob directly, and heard by him."""
    clip = await upload_clip(sender)
    ack = await sender.request(
        "send", clientMessageId=f"warm-{uuid.uuid4()}", clipId=clip, to=stack.user("bob")["user_id"]
    )
    assert (await next_event(bob, seconds=30))["messageId"] == ack["messageId"]
    return clip


async def create_group(stack: Stack, owner: SottoClient, *names: str) -> str:
    members = [stack.user(name)["user_id"] for name in names]
    created = await owner.request("createGroup", title="Catch-up", members=members)
    assert created["change"] == "created"
    return str(created["conversationId"])


class Sender:
    """One client sending one clip to one conversation, again and again; the acks in order."""

    def __init__(self, client: SottoClient, conversation_id: str, clip_id: str) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.clip_id = clip_id
        self.acks: list[dict[str, Any]] = []
        self._sent = asyncio.Condition()

    async def send(self, count: int) -> set[int]:
        """Send ``count`` messages one after the other; the seqs they were acked with."""
        seqs = set()
        for _ in range(count):
            ack = await self.client.request(
                "send",
                clientMessageId=f"stream-{uuid.uuid4()}",
                clipId=self.clip_id,
                conversationId=self.conversation_id,
            )
            assert ack["type"] == "ack" and ack["conversationId"] == self.conversation_id
            async with self._sent:
                self.acks.append(ack)
                self._sent.notify_all()
            seqs.add(int(ack["seq"]))
        return seqs

    async def wait_acks(self, count: int, seconds: float = 20) -> None:
        """Until ``count`` sends in all have been acked."""
        async with asyncio.timeout(seconds), self._sent:
            await self._sent.wait_for(lambda: len(self.acks) >= count)


class Timeline:
    """One conversation as a client holds it. ``have`` is the highest seq held with nothing
    missing below it; ``messages`` are the ones held, in the order they were appended."""

    def __init__(self, conversation_id: str, page: int = 50) -> None:
        self.conversation_id = conversation_id
        self.messages: list[dict[str, Any]] = []
        self.live_seqs: set[int] = set()  # every seq that came as a live event, held or not
        self.duplicates = 0  # live copies of what was already held (expected, ignored)
        self.sync_pages = 0
        self._page = page
        self._buffer: dict[int, dict[str, Any]] = {}
        self._filling = asyncio.Lock()
        self._changed = asyncio.Condition()

    @property
    def have(self) -> int:
        return int(self.messages[-1]["seq"]) if self.messages else 0

    @property
    def seqs(self) -> list[int]:
        return [int(m["seq"]) for m in self.messages]

    async def follow(self, client: SottoClient) -> None:
        """What a client does on every (re)connect: fill from ``sync``, then apply live
        messages until the connection closes. Events that arrive during the fill wait in the
        client's queue and are deduplicated after it."""
        await self.fill(client)
        async for event in client.events():
            if event.get("type") == "message" and event["conversationId"] == self.conversation_id:
                await self.on_live(client, event)

    async def on_live(self, client: SottoClient, message: dict[str, Any]) -> None:
        seq = int(message["seq"])
        async with self._changed:
            self.live_seqs.add(seq)
            self._changed.notify_all()
        if seq <= self.have:
            self.duplicates += 1
        elif seq == self.have + 1:
            await self._append(message)
            await self._drain()
        else:
            self._buffer[seq] = message
            await self.fill(client)

    async def fill(self, client: SottoClient) -> None:
        """``sync`` from ``have`` until ``more`` is false; each page must continue exactly
        where the held messages end (seq order, no gaps)."""
        async with self._filling:
            more = True
            while more:
                page = await client.request(
                    "sync",
                    conversationId=self.conversation_id,
                    afterSeq=self.have,
                    limit=self._page,
                )
                self.sync_pages += 1
                assert page["type"] == "messages"
                assert page["conversationId"] == self.conversation_id
                for message in page["messages"]:
                    seq = int(message["seq"])
                    if seq <= self.have:
                        continue  # appended live while this page was on its way
                    assert seq == self.have + 1, f"sync skipped from {self.have} to {seq}"
                    await self._append(message)
                more = bool(page["more"])
            await self._drain()

    async def wait_for(self, seq: int, seconds: float) -> None:
        """Until ``have`` reaches ``seq``; fails after ``seconds``."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: self.have >= seq)

    async def wait_live(self, seqs: set[int], seconds: float) -> None:
        """Until every one of ``seqs`` has come as a live event; fails after ``seconds``."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(lambda: seqs <= self.live_seqs)

    async def _drain(self) -> None:
        for seq in sorted(self._buffer):
            if seq <= self.have:
                del self._buffer[seq]
                self.duplicates += 1
            elif seq == self.have + 1:
                await self._append(self._buffer.pop(seq))
            else:
                break

    async def _append(self, message: dict[str, Any]) -> None:
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()


def assert_complete(timeline: Timeline, acks: list[dict[str, Any]], clip_id: str) -> None:
    """Every acked message held exactly once, in seq order, matching the acks one for one."""
    assert sorted(int(a["seq"]) for a in acks) == list(range(1, len(acks) + 1))
    assert timeline.seqs == list(range(1, len(acks) + 1))
    by_seq = {int(a["seq"]): a["messageId"] for a in acks}
    assert [m["messageId"] for m in timeline.messages] == [by_seq[s] for s in timeline.seqs]
    assert {m["clip"]["id"] for m in timeline.messages} == {clip_id}
