"""The fan-out dispatcher keeps each conversation in order while conversations run in parallel."""

from __future__ import annotations

import asyncio
import random

from chat.bus import OrderedPerKey
from chat.model import FanoutEnvelope


def test_envelopes_of_one_conversation_are_handled_in_arrival_order() -> None:
    handled: list[tuple[str, str]] = []

    async def handle(envelope: FanoutEnvelope) -> None:
        await asyncio.sleep(random.uniform(0, 0.003))  # handlers finish in random order
        handled.append((envelope.conversation_id, envelope.payload))

    async def scenario() -> None:
        dispatch = OrderedPerKey(handle, limit=8)
        for i in range(60):
            conversation = f"c{i % 3}"
            await dispatch.submit(conversation, FanoutEnvelope(conversation, "s", str(i)))
        while len(handled) < 60:
            await asyncio.sleep(0.005)

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    for conversation in ("c0", "c1", "c2"):
        payloads = [int(p) for c, p in handled if c == conversation]
        assert payloads == sorted(payloads)
        assert len(payloads) == 20


def test_a_failing_handler_does_not_stop_the_ones_after_it() -> None:
    handled: list[str] = []

    async def handle(envelope: FanoutEnvelope) -> None:
        if envelope.payload == "boom":
            raise RuntimeError("boom")
        handled.append(envelope.payload)

    async def scenario() -> None:
        dispatch = OrderedPerKey(handle)
        for payload in ("a", "boom", "b"):
            await dispatch.submit("c", FanoutEnvelope("c", "s", payload))
        while len(handled) < 2:
            await asyncio.sleep(0.005)

    asyncio.run(asyncio.wait_for(scenario(), timeout=5))
    assert handled == ["a", "b"]


def test_at_most_limit_envelopes_are_in_flight() -> None:
    running = 0
    peak = 0

    async def handle(envelope: FanoutEnvelope) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    async def scenario() -> None:
        dispatch = OrderedPerKey(handle, limit=4)
        for i in range(20):
            await dispatch.submit(f"c{i}", FanoutEnvelope(f"c{i}", "s", "x"))
        while running or peak == 0:
            await asyncio.sleep(0.005)

    asyncio.run(asyncio.wait_for(scenario(), timeout=5))
    assert peak == 4
