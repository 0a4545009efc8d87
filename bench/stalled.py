"""Fan-out to healthy clients with one stalled client beside them, against none, in one run.

One gateway process (as in ``bench/fanout.py``) and N = 100 healthy clients. Rounds alternate:
no stalled client, then one more client that completes the handshake and never reads. Its small
receive buffer and segments keep the kernel from hiding the stall, so it falls behind by the
whole round (about 2.3 MB), past the gateway's outbound bound (1 MiB by default,
``SOTTO_MAX_OUTBOUND_BUFFER_BYTES``), and is closed with 1013 during the round.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect

from bench.fanout import RESULTS, Clients, Server, server_environment, start_gateway
from local_gateway.background import StackProcess, isolated_environment

ROUNDS = 5  # of each kind
HEALTHY = 100
BURSTS, MESSAGES = 10, 200  # a round: 2,000 messages of about 1.1 KB to every client
USER = "alice"
DEADLINE = 60  # seconds for any one step


@dataclass
class Round:
    deliveries_per_second: float
    shed_after: int | None  # messages into the round when the stalled client was reported gone


async def ask(server: Server, line: str) -> str:
    server.command(line)
    return await asyncio.wait_for(asyncio.to_thread(server.read_line), DEADLINE)


async def stalled_client(url: str) -> ClientConnection:
    """Completes the handshake, then never reads: a 4 KB receive buffer, 536-byte segments
    (the sender's kernel buffer grows with the segment size) and a queue of one message."""
    address = urlsplit(url)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (address.hostname, address.port))
    return await connect(url, sock=raw, compression=None, max_queue=1, open_timeout=DEADLINE)


async def one_round(server: Server, clients: Clients, url: str, stalled: bool) -> Round:
    """BURSTS bursts, each timed until every healthy client has every frame."""
    extra = await stalled_client(url) if stalled else None
    await ask(server, f"prepare {HEALTHY + (1 if stalled else 0)}")
    elapsed, shed_after = 0.0, None
    for burst in range(BURSTS):
        clients.expect(MESSAGES * HEALTHY)
        started = time.perf_counter()
        server.command(f"burst {MESSAGES}")
        await asyncio.wait_for(clients.done.wait(), DEADLINE)
        elapsed += time.perf_counter() - started
        sent = await asyncio.wait_for(asyncio.to_thread(server.read_line), DEADLINE)
        gone = int(sent.split()[1])  # "sent <gone>"
        if gone and shed_after is None:  # once shed, it is gone for every later message
            shed_after = burst * MESSAGES + MESSAGES - gone
    if extra is not None:
        extra.transport.abort()
    return Round(BURSTS * MESSAGES * HEALTHY / elapsed, shed_after)


async def rounds(server: Server, url: str) -> dict[str, list[Round]]:
    clients = Clients()
    await clients.open(url, HEALTHY)
    results: dict[str, list[Round]] = {"none": [], "stalled": []}
    for _ in range(ROUNDS):
        for kind, runs in results.items():  # alternate: none, stalled, none, ...
            runs.append(await one_round(server, clients, url, stalled=kind == "stalled"))
    await clients.close()
    return results


def report(results: dict[str, list[Round]]) -> str:
    none, stalled = (
        statistics.median(r.deliveries_per_second for r in results[kind])
        for kind in ("none", "stalled")
    )
    shed = [r.shed_after for r in results["stalled"] if r.shed_after is not None]
    when = f", after a median of {statistics.median(shed):,.0f} messages" if shed else ""
    return "\n".join(
        [
            f"\nN = {HEALTHY} healthy connections, {BURSTS} bursts of {MESSAGES} messages a "
            f"round, median of {ROUNDS} rounds",
            f"  {'':<28}{'none':>14}{'one stalled':>14}{'ratio':>9}   target",
            f"  {'deliveries/s to healthy':<28}{none:>14,.0f}{stalled:>14,.0f}"
            f"{stalled / none:>8.2f}×   ≥ 0.9×",
            f"  the stalled client was closed (1013) in {len(shed)} of {ROUNDS} rounds{when}",
        ]
    )


def main() -> None:
    env = isolated_environment(os.environ, stage="bench", log_level="ERROR")
    print("Fan-out to healthy clients with one stalled client beside none, same gateway, same run")
    with tempfile.TemporaryDirectory() as folder, StackProcess(env, Path(folder)) as stack:
        server, url = start_gateway(stack.info, server_environment(env, stack.info), USER)
        try:
            results = asyncio.run(rounds(server, url))
        finally:
            server.stop()
    print(report(results), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"stalled-{time.strftime('%Y%m%d-%H%M%S')}.json"
    raw: dict[str, Any] = {kind: [asdict(r) for r in runs] for kind, runs in results.items()}
    out.write_text(json.dumps(raw, indent=2))
    print(f"\nraw figures: {out}")


if __name__ == "__main__":
    main()
