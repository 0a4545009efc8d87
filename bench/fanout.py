"""Fan-out through the local gateway beside a bare ``websockets.broadcast()``, in one run.

For N = 100 and N = 1000 connections: deliveries per second (until every client has every
frame), server CPU per delivery, and memory per idle connection. Both servers are processes of
their own; their rounds alternate, so both see the same machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect

from local_gateway.background import StackProcess, isolated_environment
from sotto_cli.client import sign_in
from sotto_cli.config import ClientConfig

ROUNDS = 5
PHASES = ((100, 200, "alice"), (1000, 20, "bob"))  # (connections, messages per burst, user)
RESULTS = Path(__file__).parent / "results"


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str

    @property
    def stats(self) -> psutil.Process:
        return psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self.stats.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.stats.memory_info().rss)

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def read_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def stop(self) -> None:
        self.command("quit")
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(name: str, env: dict[str, str]) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    server = Server(name, process, "")
    ready = server.read_line()
    if not ready.startswith("ready "):
        raise RuntimeError(f"{name} server did not start: {ready!r}")
    server.url = f"ws://127.0.0.1:{ready.split()[1]}/bench"
    return server


@dataclass
class Clients:
    sockets: list[ClientConnection] = field(default_factory=list)
    received: int = 0
    target: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def open(self, url: str, count: int, batch: int = 50) -> None:
        for start in range(0, count, batch):
            opened = await asyncio.gather(
                *(
                    connect(url, compression=None, max_size=None, open_timeout=60)
                    for _ in range(min(batch, count - start))
                )
            )
            self.sockets.extend(opened)
            self.readers.extend(asyncio.create_task(self._read(s)) for s in opened)

    async def _read(self, socket: ClientConnection) -> None:
        async for _ in socket:
            self.received += 1
            if self.received >= self.target:
                self.done.set()

    def expect(self, frames: int) -> None:
        self.received, self.target = 0, frames
        self.done.clear()

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sockets))
        for reader in self.readers:
            reader.cancel()


@dataclass
class Burst:
    deliveries_per_second: float
    cpu_us_per_delivery: float
    resolve_ms: float


async def burst(server: Server, clients: Clients, messages: int) -> Burst:
    """Time from the order to fan out until every client has every frame; resolving the
    connections happens before the clock starts and is reported on its own."""
    server.command(f"prepare {len(clients.sockets)}")
    resolve_ms = float((await asyncio.to_thread(server.read_line)).split()[1])
    deliveries = messages * len(clients.sockets)
    clients.expect(deliveries)
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    server.command(f"burst {messages}")
    await asyncio.wait_for(clients.done.wait(), 120)
    elapsed = time.perf_counter() - started
    await asyncio.to_thread(server.read_line)
    cpu = server.cpu_seconds() - cpu_before
    return Burst(deliveries / elapsed, cpu / deliveries * 1e6, resolve_ms)


async def idle_memory_per_connection(server: Server, url: str, count: int) -> tuple[float, Clients]:
    warm = Clients()
    await warm.open(url, 50)
    await warm.close()
    await asyncio.sleep(1)  # let the warm-up connections close on the server
    before = server.rss()
    clients = Clients()
    await clients.open(url, count)
    await asyncio.sleep(1)
    return (server.rss() - before) / count, clients


async def phase(
    servers: dict[str, Server], urls: dict[str, str], count: int, messages: int
) -> dict[str, Any]:
    memory: dict[str, float] = {}
    clients: dict[str, Clients] = {}
    for name, server in servers.items():
        memory[name], clients[name] = await idle_memory_per_connection(server, urls[name], count)
    rounds: dict[str, list[Burst]] = {name: [] for name in servers}
    for _ in range(ROUNDS):
        for name, server in servers.items():  # alternate: baseline, sotto, baseline, ...
            rounds[name].append(await burst(server, clients[name], messages))
    for group in clients.values():
        await group.close()
    return {
        name: {
            "deliveries_per_second": statistics.median(b.deliveries_per_second for b in runs),
            "cpu_us_per_delivery": statistics.median(b.cpu_us_per_delivery for b in runs),
            "memory_bytes_per_connection": memory[name],
            "resolve_ms": statistics.median(b.resolve_ms for b in runs),
        }
        for name, runs in rounds.items()
    }


def report(count: int, messages: int, result: dict[str, Any]) -> str:
    base, ours = result["baseline"], result["sotto"]
    rows = [
        (
            "deliveries/s",
            f"{base['deliveries_per_second']:,.0f}",
            f"{ours['deliveries_per_second']:,.0f}",
            ours["deliveries_per_second"] / base["deliveries_per_second"],
            "≥ 0.6×",
        ),
        (
            "CPU µs per delivery",
            f"{base['cpu_us_per_delivery']:.2f}",
            f"{ours['cpu_us_per_delivery']:.2f}",
            base["cpu_us_per_delivery"] / ours["cpu_us_per_delivery"],
            "≥ 0.6× (baseline ÷ sotto)",
        ),
        (
            "memory per idle connection",
            f"{base['memory_bytes_per_connection'] / 1024:.1f} KiB",
            f"{ours['memory_bytes_per_connection'] / 1024:.1f} KiB",
            ours["memory_bytes_per_connection"] / base["memory_bytes_per_connection"],
            "≤ 2×",
        ),
    ]
    lines = [
        f"\nN = {count} connections, bursts of {messages} messages, median of {ROUNDS} rounds",
        f"  {'':<28}{'broadcast()':>14}{'sotto':>14}{'ratio':>9}   target",
    ]
    lines += [
        f"  {name:<28}{b:>14}{o:>14}{ratio:>8.2f}×   {target}" for name, b, o, ratio, target in rows
    ]
    lines.append(
        f"  (not in the ratios) resolving the {count} connections from moto's DynamoDB: "
        f"{ours['resolve_ms']:.1f} ms per message; moto's latency is not DynamoDB's"
    )
    return "\n".join(lines)


def server_environment(env: dict[str, str], info: dict[str, Any]) -> dict[str, str]:
    """What the gateway's handlers need to use the stack's moto, Redis and user pool."""
    return {
        **env,
        "AWS_ENDPOINT_URL": info["aws_endpoint"],
        "REDIS_URL": info["redis_url"],
        "SOTTO_COGNITO_USER_POOL_ID": info["user_pool_id"],
        "SOTTO_COGNITO_CLIENT_ID": info["client_id"],
        "AWS_ACCESS_KEY_ID": "sotto-local",
        "AWS_SECRET_ACCESS_KEY": "sotto-local",
        "SOTTO_MAX_CONNECTIONS_PER_USER": "100000",  # N connections of one demo user
    }


def start_gateway(
    info: dict[str, Any], server_env: dict[str, str], user_name: str
) -> tuple[Server, str]:
    """The gateway server process and the URL its clients connect to, signed in as a demo user."""
    config = ClientConfig(info["ws_url"], info["client_id"], info["region"], info["aws_endpoint"])
    user = next(u for u in info["demo_users"] if u["username"] == user_name)
    token = sign_in(config, user["username"], user["password"])
    server = start_server("gateway", {**server_env, "BENCH_USER_ID": user["user_id"]})
    return server, f"{server.url}?token={token}"


def run_phase(
    info: dict[str, Any], server_env: dict[str, str], count: int, messages: int, user_name: str
) -> dict[str, Any]:
    """Both servers, N clients each (the gateway's signed in as one demo user), all rounds."""
    servers = {"baseline": start_server("baseline", server_env)}
    servers["sotto"], sotto_url = start_gateway(info, server_env, user_name)
    urls = {"baseline": servers["baseline"].url, "sotto": sotto_url}
    try:
        return asyncio.run(phase(servers, urls, count, messages))
    finally:
        for server in servers.values():
            server.stop()


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    env = isolated_environment(os.environ, stage="bench", log_level="ERROR")
    print("Fan-out through Sotto's local gateway beside bare websockets.broadcast(), same run")
    results = {}
    with tempfile.TemporaryDirectory() as folder, StackProcess(env, Path(folder)) as stack:
        server_env = server_environment(env, stack.info)
        for count, messages, user_name in PHASES:
            result = run_phase(stack.info, server_env, count, messages, user_name)
            print(report(count, messages, result), flush=True)
            results[f"n{count}"] = result
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"fanout-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {out}")


if __name__ == "__main__":
    main()
