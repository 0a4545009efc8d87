"""The full live path of a voice message in a 100-member group, beside a bare
PUBLISH → Redis → ``websockets.broadcast()`` reference, in one run, on a real Redis.

- **sotto**: the local stack as ``make dev`` runs it (``StackProcess``), with ``REDIS_URL`` set
  to a real Redis and moto in a process of its own (``bench.live_servers moto``, which also
  times each request), so the stack's CPU and moto's are counted apart. 100 users are
  signed in with Cognito (moto) and connected with ``?token=``; alice sends ``send`` frames
  (one ready clip, reused) to a group of all 100, and the other 99 receive ``message`` frames:
  send handler (DynamoDB reads and one transaction) → PUBLISH → the gateway's fan-out
  subscriber → members (Redis cache) and their connections (Redis presence sets) → the
  gateway's sockets.
- **baseline**: ``bench.live_servers baseline``, a bare websockets server whose Redis
  subscriber calls ``broadcast()``; this process PUBLISHes a payload the size of Sotto's
  ``message`` frame. 99 clients, so both sides make 99 deliveries per message.

The clients of both live in this process and run the same reader (parse, timestamp).
Throughput rounds (a burst of messages, timed until every receiver has every frame) and
light-load latency rounds (each message sent ``PAUSE`` after every receiver had the previous
one; send-to-receive time of every delivery) alternate between the two. Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from chat.deps import ChatDeps
from common.clients import Clients as AwsClients
from common.clock import SystemClock
from common.settings import Settings
from connections.store import ConnectionStore
from local_gateway.background import StackProcess, isolated_environment
from local_gateway.provision import DemoUser, UserPool, ensure_demo_users
from sotto_cli.audio import tone_wav
from sotto_cli.client import ServerError, SottoClient, sign_in, upload
from sotto_cli.config import ClientConfig

RESULTS = Path(__file__).parent / "results"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # the machine's shared Redis: never flushed
MEMBERS = 100  # alice and 99 others; 99 deliveries per message on both sides
ROUNDS = 5  # throughput rounds of each, alternating
BURST = 20  # messages per throughput round
# Sends in flight during a burst. One, so a burst goes at the pace of send → ack: moto's server
# is not thread-safe for concurrent TransactWriteItems (it deep-copies tables that another
# request is changing, answers 500, and a message can be lost after boto3's retries).
WINDOW = 1
LATENCY_ROUNDS = 4  # latency rounds of each, alternating
LATENCY_MESSAGES = 50  # per latency round: 200 messages of each in all
PAUSE = 0.1  # light load: the next message leaves this long after the last one was received
DEADLINE = 120  # seconds for any one step
STALL = 10  # seconds without a frame after which a round's missing frames are given up


# ---- processes ----------------------------------------------------------------------------


@dataclass
class Child:
    """A server process of ours, driven by lines on its stdin."""

    process: subprocess.Popen[str]
    port: int = 0

    @classmethod
    def start(cls, args: Sequence[str], env: dict[str, str]) -> Child:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.live_servers", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        child = cls(process)
        ready = child.read_line()
        if not ready.startswith("ready "):
            child.process.kill()
            raise RuntimeError(f"bench.live_servers {args[0]} did not start: {ready!r}")
        child.port = int(ready.split()[1])
        return child

    def read_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    async def ask(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return await asyncio.wait_for(asyncio.to_thread(self.read_line), DEADLINE)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def child_cpu(child: Child) -> float:
    """A child's CPU seconds, measured by itself to the microsecond."""
    return float((await child.ask("cpu")).split()[1])


def stack_process() -> psutil.Process:
    """The stack ``StackProcess`` started: our child running ``-m local_gateway``."""
    for child in psutil.Process().children():
        if "local_gateway" in child.cmdline():
            return child
    raise RuntimeError("the stack process is not among this process's children")


def redis_cpu_seconds(client: redis.Redis) -> float:
    """The Redis server's own CPU (all its clients, not only ours: it is shared)."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# ---- clients --------------------------------------------------------------------------------


@dataclass
class Receivers:
    """The receiving clients of one side. Every frame is parsed and ``message`` frames are
    timestamped by seq, on both sides alike."""

    sockets: list[ClientConnection] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    arrivals: list[tuple[int, float]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    target: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    milestone: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self, urls: Sequence[str], batch: int = 25) -> None:
        for start in range(0, len(urls), batch):
            opened = await asyncio.gather(
                *(
                    connect(url, compression=None, max_size=None, open_timeout=60)
                    for url in urls[start : start + batch]
                )
            )
            self.sockets.extend(opened)
            self.readers.extend(asyncio.create_task(self._read(s)) for s in opened)

    async def _read(self, socket: ClientConnection) -> None:
        async for raw in socket:
            now = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") != "message":
                continue
            self.arrivals.append((int(frame["seq"]), now))
            if len(self.sizes) < 10:
                self.sizes.append(len(raw))
            if len(self.arrivals) >= self.milestone:
                self.reached.set()
            if len(self.arrivals) >= self.target:
                self.done.set()

    def expect(self, messages: int) -> None:
        self.arrivals, self.target = [], messages * len(self.sockets)
        self.done.clear()

    async def until(self, frames: int) -> None:
        """Until ``frames`` frames are in since ``expect`` (or ``STALL`` seconds pass)."""
        self.milestone = frames
        self.reached.clear()
        if len(self.arrivals) < frames:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reached.wait(), STALL)

    async def wait(self) -> int:
        """Until every frame is in, or none came for ``STALL`` seconds: the frames missing."""
        seen, quiet = -1, 0.0
        while not self.done.is_set() and quiet < STALL:
            if len(self.arrivals) != seen:
                seen, quiet = len(self.arrivals), 0.0
            try:
                await asyncio.wait_for(self.done.wait(), 0.5)
            except TimeoutError:
                quiet += 0.5
        return self.target - len(self.arrivals)

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sockets))
        for reader in self.readers:
            reader.cancel()


@dataclass
class Lookup:
    connections: int
    fanout_ms: float
    table_ms: float
    boto3_cpu_ms_per_call: float


@dataclass
class Sent:
    seq: int
    sent_at: float
    acked_at: float = 0.0


@dataclass
class Round:
    """One throughput or latency round of one side."""

    messages: int
    elapsed: float
    server_cpu: float
    moto_cpu: float
    redis_cpu: float
    deliveries: int
    latencies_ms: list[float]
    ack_ms: list[float]
    per_message: list[tuple[float, float, float]]  # ms after sending: ack (0 if none), first, last
    moto_calls: dict[str, list[float]]
    missing: int = 0  # frames that never arrived (none expected)

    @property
    def deliveries_per_second(self) -> float:
        return self.deliveries / self.elapsed

    def cpu_us(self, seconds: float) -> float:
        return seconds / self.deliveries * 1e6


class Side:
    """What the two sides share: receivers, a server process to charge CPU to, the rounds."""

    name = ""

    def __init__(
        self,
        receivers: Receivers,
        server_cpu: Callable[[], Awaitable[float]],
        redis_sync: redis.Redis,
        moto: Child | None = None,
    ) -> None:
        self.receivers = receivers
        self.server_cpu = server_cpu
        self.redis_sync = redis_sync
        self.moto = moto

    async def send_one(self, seq: int) -> Sent:
        raise NotImplementedError

    async def measure(self, messages: int, send_all: Callable[[], Awaitable[list[Sent]]]) -> Round:
        self.receivers.expect(messages)
        if self.moto is not None:
            await self.moto.ask("stats")  # reset
        moto_before = await self.moto_cpu()
        redis_before = redis_cpu_seconds(self.redis_sync)
        cpu_before = await self.server_cpu()
        started = time.perf_counter()
        sent = await send_all()
        missing = await self.receivers.wait()
        elapsed = time.perf_counter() - started - (STALL if missing else 0.0)
        cpu = await self.server_cpu() - cpu_before
        redis_cpu = redis_cpu_seconds(self.redis_sync) - redis_before
        moto_cpu = await self.moto_cpu() - moto_before
        calls = json.loads(await self.moto.ask("stats")) if self.moto is not None else {}
        sent_at = {s.seq: s.sent_at for s in sent}
        return Round(
            messages=messages,
            elapsed=elapsed,
            server_cpu=cpu,
            moto_cpu=moto_cpu,
            redis_cpu=redis_cpu,
            deliveries=len(self.receivers.arrivals),
            latencies_ms=[(t - sent_at[seq]) * 1000 for seq, t in self.receivers.arrivals],
            ack_ms=[(s.acked_at - s.sent_at) * 1000 for s in sent if s.acked_at],
            per_message=per_message(sent, self.receivers.arrivals),
            moto_calls=calls,
            missing=missing,
        )

    async def moto_cpu(self) -> float:
        return await child_cpu(self.moto) if self.moto is not None else 0.0

    async def burst(self, messages: int) -> Round:
        """As fast as the side takes them (Sotto: ``WINDOW`` sends in flight)."""
        window = asyncio.Semaphore(WINDOW)
        seqs = itertools.count()

        async def one() -> Sent:
            async with window:
                return await self.send_one(next(seqs))

        async def send_all() -> list[Sent]:
            return list(await asyncio.gather(*(one() for _ in range(messages))))

        return await self.measure(messages, send_all)

    async def one_at_a_time(self, messages: int, pause: float) -> Round:
        """Each message leaves ``pause`` seconds after every receiver had the one before: no
        message ever waits behind another."""
        receivers = self.receivers

        async def send_all() -> list[Sent]:
            sent = []
            for seq in range(messages):
                sending = asyncio.create_task(self.send_one(seq))
                await receivers.until((seq + 1) * len(receivers.sockets))
                sent.append(await sending)
                await asyncio.sleep(pause)
            return sent

        return await self.measure(messages, send_all)


class Baseline(Side):
    name = "baseline"

    def __init__(
        self,
        receivers: Receivers,
        server: Child,
        redis_sync: redis.Redis,
        *,
        publisher: aioredis.Redis,
        channel: str,
        size: int,
    ) -> None:
        super().__init__(receivers, lambda: child_cpu(server), redis_sync)
        self.publisher = publisher
        self.channel = channel
        self.size = size

    async def send_one(self, seq: int) -> Sent:
        payload = padded(seq, self.size)
        sent = Sent(seq, time.perf_counter())
        await self.publisher.publish(self.channel, payload)
        return sent


class Sotto(Side):
    name = "sotto"

    def __init__(
        self,
        receivers: Receivers,
        stack: psutil.Process,
        redis_sync: redis.Redis,
        *,
        moto: Child,
        sender: SottoClient,
        conversation_id: str,
        members: Sequence[str],
        aws: AwsClients,
    ) -> None:
        async def stack_cpu() -> float:  # 100s of ms a round: psutil's 10 ms ticks will do
            return cpu_seconds(stack)

        super().__init__(receivers, stack_cpu, redis_sync, moto)
        self.sender = sender
        self.conversation_id = conversation_id
        self.clip_id = ""
        self.members = list(members)
        self.aws = aws

    def lookup_cost(self, repeats: int = 3) -> Lookup:
        """Finding every member's connections, from this process: as the fan-out does it
        (``LiveConnections``: Redis's presence sets), and from the connections table alone
        (one ``byUser`` query per member: its fallback), with boto3's CPU per query."""
        index = ChatDeps(self.aws).connections
        table = ConnectionStore(self.aws.dynamodb, self.aws.settings.connections_table)
        index.of_users(self.members, SystemClock().now())  # warm clients
        table.live_for_users(self.members, SystemClock().now())
        fanout, walls, cpus = [], [], []
        for _ in range(repeats):
            wall = time.perf_counter()
            found = index.of_users(self.members, SystemClock().now())
            fanout.append((time.perf_counter() - wall) * 1000)
            wall, cpu = time.perf_counter(), time.thread_time()
            table.live_for_users(self.members, SystemClock().now())
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.thread_time() - cpu) * 1000 / len(self.members))
        return Lookup(
            connections=len(found),
            fanout_ms=statistics.median(fanout),
            table_ms=statistics.median(walls),
            boto3_cpu_ms_per_call=statistics.median(cpus),
        )

    async def send_one(self, seq: int) -> Sent:
        """A ``send`` of the ready clip; retried with the same id on ``conflict``, as the
        protocol asks. The seq is the conversation's, from the ack."""
        client_message_id = f"bench-{uuid.uuid4().hex}"
        started = time.perf_counter()
        for _ in range(20):
            try:
                ack = await self.sender.request(
                    "send",
                    clientMessageId=client_message_id,
                    clipId=self.clip_id,
                    conversationId=self.conversation_id,
                )
            except ServerError as error:
                if error.code != "conflict":
                    raise
                continue
            return Sent(int(ack["seq"]), started, time.perf_counter())
        raise RuntimeError("send kept answering conflict")


def per_message(
    sent: Sequence[Sent], arrivals: Sequence[tuple[int, float]]
) -> list[tuple[float, float, float]]:
    """For each message: when its ack, its first and its last delivery came (ms after sending)."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for seq, at in arrivals:
        first[seq] = min(first.get(seq, at), at)
        last[seq] = max(last.get(seq, at), at)
    return [
        (
            (s.acked_at - s.sent_at) * 1000 if s.acked_at else 0.0,
            (first[s.seq] - s.sent_at) * 1000,
            (last[s.seq] - s.sent_at) * 1000,
        )
        for s in sent
        if s.seq in first
    ]


def padded(seq: int, size: int) -> str:
    """A ``message``-typed JSON frame of ``size`` characters."""
    bare = json.dumps({"type": "message", "seq": seq, "pad": ""}, separators=(",", ":"))
    return json.dumps(
        {"type": "message", "seq": seq, "pad": "x" * max(0, size - len(bare))},
        separators=(",", ":"),
    )


# ---- setting up Sotto's side ----------------------------------------------------------------


def bench_users(count: int) -> list[DemoUser]:
    return [DemoUser(f"bench{i:03d}", f"Bench {i}", "Bench-pass-1") for i in range(1, count + 1)]


def sign_in_all(config: ClientConfig, users: Sequence[DemoUser]) -> list[str]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda u: sign_in(config, u.username, u.password), users))


async def build_group(sender: SottoClient, member_ids: Sequence[str]) -> str:
    """A group of the sender and every member (createGroup, then addMembers: 50 a request)."""
    created = await sender.request("createGroup", title="bench", members=list(member_ids[:50]))
    conversation_id = str(created["conversationId"])
    for start in range(50, len(member_ids), 50):
        await sender.request(
            "addMembers",
            conversationId=conversation_id,
            members=list(member_ids[start : start + 50]),
        )
    return conversation_id


async def ready_clip(sotto: Sotto) -> None:
    """Upload one clip and send it: delivered live once the stack has processed it."""
    receivers = sotto.receivers
    data = tone_wav(2.0)
    grant = await sotto.sender.request("upload", contentType="audio/wav", size=len(data))
    await asyncio.to_thread(upload, grant, data, "audio/wav", "tone.wav")
    sotto.clip_id = str(grant["clipId"])
    receivers.expect(1)
    await sotto.send_one(0)
    if await receivers.wait():
        raise RuntimeError("the first message was not delivered: is the clip processor working?")


# ---- the run ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def summary(rounds: dict[str, list[Round]], latency: dict[str, list[Round]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, burst in rounds.items():
        paced = latency[name]
        pooled = [ms for r in paced for ms in r.latencies_ms]
        acks = [ms for r in paced for ms in r.ack_ms]
        out[name] = {
            "deliveries_per_second": statistics.median(r.deliveries_per_second for r in burst),
            "ms_per_message": statistics.median(r.elapsed / r.messages * 1000 for r in burst),
            "server_cpu_us_per_delivery": statistics.median(r.cpu_us(r.server_cpu) for r in burst),
            "moto_cpu_us_per_delivery": statistics.median(r.cpu_us(r.moto_cpu) for r in burst),
            "redis_cpu_us_per_delivery": statistics.median(r.cpu_us(r.redis_cpu) for r in burst),
            "latency_p50_ms": percentile(pooled, 50),
            "latency_p99_ms": percentile(pooled, 99),
            "latency_p99_ms_per_round": [percentile(r.latencies_ms, 99) for r in paced],
            "ack_p50_ms": percentile(acks, 50) if len(acks) > 1 else None,
            "ack_p99_ms": percentile(acks, 99) if len(acks) > 1 else None,
            "first_to_last_receiver_p50_ms": statistics.median(
                last - first for r in paced for _, first, last in r.per_message
            ),
            "ack_to_first_receiver_p50_ms": statistics.median(
                first - ack for r in paced for ack, first, _ in r.per_message
            )
            if acks
            else None,
        }
    return out


@dataclass
class MotoRow:
    operation: str
    calls: float  # per message
    ms: float  # moto's time, per message
    slowest_ms: float  # one call
    failed: int


def moto_split(rounds: Sequence[Round]) -> list[MotoRow]:
    """moto's requests per message by operation, busiest first."""
    messages = sum(r.messages for r in rounds)
    rows: dict[str, MotoRow] = {}
    for r in rounds:
        for key, (count, seconds, failed, slowest) in r.moto_calls.items():
            row = rows.setdefault(key, MotoRow(key, 0, 0.0, 0.0, 0))
            row.calls += count / messages
            row.ms += seconds / messages * 1000
            row.slowest_ms = max(row.slowest_ms, slowest * 1000)
            row.failed += int(failed)
    return sorted(rows.values(), key=lambda row: -row.ms)


def transaction_ms(r: Round) -> float:
    """moto's mean time per TransactWriteItems in a round."""
    calls = [v for k, v in r.moto_calls.items() if " TransactWriteItems " in k]
    count = sum(c[0] for c in calls)
    return sum(c[1] for c in calls) / count * 1000 if count else 0.0


def report(result: dict[str, Any], measured: Measured) -> str:
    base, ours = result["baseline"], result["sotto"]
    rows = [
        ("deliveries/s", "deliveries_per_second", "{:,.0f}", "≥ 0.5×"),
        ("CPU µs per delivery (server)", "server_cpu_us_per_delivery", "{:.1f}", "≤ 2×"),
        ("latency p50 ms", "latency_p50_ms", "{:.2f}", ""),
        ("latency p99 ms", "latency_p99_ms", "{:.2f}", "≤ 2×"),
    ]
    lines = [f"  {'':<30}{'broadcast()':>13}{'sotto':>11}{'ratio':>10}   target"]
    for label, key, fmt, target in rows:
        ratio = ours[key] / base[key] if base[key] else float("inf")
        lines.append(
            f"  {label:<30}{fmt.format(base[key]):>13}{fmt.format(ours[key]):>11}"
            f"{ratio:>9.2f}×   {target}"
        )
    receivers = MEMBERS - 1
    stack_ms = ours["server_cpu_us_per_delivery"] * receivers / 1000
    moto_ms = ours["moto_cpu_us_per_delivery"] * receivers / 1000
    redis_us = ours["redis_cpu_us_per_delivery"] * receivers
    base_redis_us = base["redis_cpu_us_per_delivery"] * receivers
    lookup = measured.lookup
    paced = measured.paced["sotto"]
    dynamo = [row for row in moto_split(paced) if row.operation.startswith("dynamodb")]
    calls = sum(row.calls for row in dynamo)
    boto3_ms = calls * lookup.boto3_cpu_ms_per_call
    lines += [
        "",
        "  Sotto, per message (not in the ratios):",
        f"    time per message in a burst (one send in flight)  {ours['ms_per_message']:.1f} ms "
        f"(broadcast(): {base['ms_per_message']:.2f} ms)",
        f"    send → ack at light load                          p50 {ours['ack_p50_ms']:.1f} ms, "
        f"p99 {ours['ack_p99_ms']:.1f} ms",
        f"    ack → first receiver at light load                p50 "
        f"{ours['ack_to_first_receiver_p50_ms']:.1f} ms",
        f"    first → last of the {receivers} receivers              p50 "
        f"{ours['first_to_last_receiver_p50_ms']:.1f} ms "
        f"(broadcast(): {base['first_to_last_receiver_p50_ms']:.1f} ms)",
        f"    CPU: stack process {stack_ms:.1f} ms, moto's process {moto_ms:.1f} ms, "
        f"Redis server (shared) {redis_us:.0f} µs (broadcast(): {base_redis_us:.0f} µs)",
        f"    boto3's CPU per DynamoDB call, measured here: {lookup.boto3_cpu_ms_per_call:.2f} ms; "
        f"× {calls:.0f} calls ≈ {boto3_ms:.1f} ms of the stack's {stack_ms:.1f} ms",
        f"    the {MEMBERS} members' {lookup.connections} connections, found as the fan-out does "
        f"(Redis presence sets): {lookup.fanout_ms:.1f} ms;",
        f"      from the connections table alone ({MEMBERS} byUser queries, the fallback): "
        f"{lookup.table_ms:.0f} ms",
        "    DynamoDB calls at light load, and moto's time to answer them:",
    ]
    lines += [
        f"      {row.operation:<50}{row.calls:>5.1f} calls {row.ms:>6.1f} ms "
        f"(slowest {row.slowest_ms:.0f} ms)"
        for row in dynamo[:7]
    ]
    lines.append(f"      {'all':<50}{calls:>5.1f} calls {sum(row.ms for row in dynamo):>6.1f} ms")
    lines += [
        "    moto's TransactWriteItems deep-copies the tables it writes (once per item), so it "
        "slows as the run",
        f"      stores messages: {transaction_ms(measured.bursts['sotto'][0]):.0f} ms in the first "
        f"round, {transaction_ms(paced[-1]):.0f} ms in the last",
    ]
    rounds = [r for table in (measured.bursts, measured.paced) for v in table.values() for r in v]
    failed = sum(row.failed for row in moto_split(rounds))
    lines.append(
        f"    frames that never arrived: {sum(r.missing for r in rounds)}; moto's 5xx answers "
        f"(retried by boto3): {failed}"
    )
    return "\n".join(lines)


async def sotto_side(
    info: dict[str, Any], server_env: dict[str, str], moto: Child, redis_sync: redis.Redis
) -> Sotto:
    """100 users signed in and connected, a group of them all, a processed clip."""
    clock = time.perf_counter()
    config = ClientConfig(info["ws_url"], info["client_id"], info["region"], info["aws_endpoint"])
    aws = AwsClients(Settings.from_env(server_env))
    pool = UserPool(info["user_pool_id"], info["client_id"])
    others = await asyncio.to_thread(ensure_demo_users, aws, pool, bench_users(MEMBERS - 1))
    alice = next(u for u in info["demo_users"] if u["username"] == "alice")
    tokens = await asyncio.to_thread(
        sign_in_all, config, [DemoUser("alice", "Alice", alice["password"]), *others]
    )
    sender = await SottoClient.connect(info["ws_url"], tokens[0])
    receivers = Receivers()
    await receivers.open([f"{info['ws_url']}?token={t}" for t in tokens[1:]])
    print(f"  {MEMBERS} users signed in and connected in {time.perf_counter() - clock:.1f} s")
    sotto = Sotto(
        receivers,
        stack_process(),
        redis_sync,
        moto=moto,
        sender=sender,
        conversation_id=await build_group(sender, [u.user_id for u in others]),
        members=[alice["user_id"], *(u.user_id for u in others)],
        aws=aws,
    )
    await ready_clip(sotto)
    print(
        f"  group of {MEMBERS} and clip ready in {time.perf_counter() - clock:.1f} s; "
        f"a message frame is {receivers.sizes[0]} bytes"
    )
    return sotto


async def baseline_side(
    server: Child, redis_url: str, channel: str, redis_sync: redis.Redis, size: int
) -> Baseline:
    receivers = Receivers()
    await receivers.open([f"ws://127.0.0.1:{server.port}/bench"] * (MEMBERS - 1))
    while (await server.ask("count")) != f"count {MEMBERS - 1}":
        await asyncio.sleep(0.05)
    publisher = aioredis.from_url(redis_url)
    return Baseline(receivers, server, redis_sync, publisher=publisher, channel=channel, size=size)


@dataclass
class Measured:
    bursts: dict[str, list[Round]]
    paced: dict[str, list[Round]]
    stack_idle_cpu: float
    lookup: Lookup


async def measure_all(baseline: Baseline, sotto: Sotto) -> Measured:
    """Warm-up, then throughput rounds, then latency rounds; each alternating."""
    sides: list[Side] = [baseline, sotto]
    for side in sides:
        await side.burst(5)
    idle_before = await sotto.server_cpu()
    await asyncio.sleep(2)
    idle = (await sotto.server_cpu() - idle_before) / 2

    clock = time.perf_counter()
    bursts: dict[str, list[Round]] = {side.name: [] for side in sides}
    for _ in range(ROUNDS):
        for side in sides:
            bursts[side.name].append(await side.burst(BURST))
    print(
        f"  throughput: {ROUNDS} rounds of {BURST} messages each, alternating, "
        f"in {time.perf_counter() - clock:.0f} s"
    )

    clock = time.perf_counter()
    paced: dict[str, list[Round]] = {side.name: [] for side in sides}
    for _ in range(LATENCY_ROUNDS):
        for side in sides:
            paced[side.name].append(await side.one_at_a_time(LATENCY_MESSAGES, PAUSE))
    print(
        f"  latency: {LATENCY_ROUNDS} rounds of {LATENCY_MESSAGES} messages each, each sent "
        f"{PAUSE * 1000:.0f} ms after the last was received, alternating, "
        f"in {time.perf_counter() - clock:.0f} s"
    )
    lookup = await asyncio.to_thread(sotto.lookup_cost)
    return Measured(bursts, paced, idle, lookup)


def raw_rounds(measured: Measured) -> dict[str, Any]:
    def one(r: Round, latencies: bool) -> dict[str, Any]:
        return {
            "messages": r.messages,
            "elapsed_s": r.elapsed,
            "deliveries": r.deliveries,
            "server_cpu_s": r.server_cpu,
            "moto_cpu_s": r.moto_cpu,
            "redis_cpu_s": r.redis_cpu,
            "ack_ms": [round(ms, 3) for ms in r.ack_ms],
            "per_message_ack_first_last_ms": [[round(x, 3) for x in m] for m in r.per_message],
            "moto_calls": r.moto_calls,
            "missing_frames": r.missing,
            **({"latencies_ms": [round(ms, 3) for ms in r.latencies_ms]} if latencies else {}),
        }

    return {
        "throughput": {k: [one(r, False) for r in v] for k, v in measured.bursts.items()},
        "latency": {k: [one(r, True) for r in v] for k, v in measured.paced.items()},
    }


async def run(info: dict[str, Any], server_env: dict[str, str], moto: Child) -> dict[str, Any]:
    namespace, redis_url = server_env["SOTTO_REDIS_NAMESPACE"], server_env["REDIS_URL"]
    redis_sync = redis.Redis.from_url(redis_url)
    channel = f"{namespace}:bench-baseline"
    server = Child.start(["baseline", redis_url, channel], server_env)
    sotto: Sotto | None = None
    baseline: Baseline | None = None
    try:
        sotto = await sotto_side(info, server_env, moto, redis_sync)
        size = sotto.receivers.sizes[0]
        baseline = await baseline_side(server, redis_url, channel, redis_sync, size)
        measured = await measure_all(baseline, sotto)
    finally:
        if baseline is not None:
            await baseline.receivers.close()
            await baseline.publisher.aclose()
        if sotto is not None:
            await sotto.receivers.close()
            await sotto.sender.close()
        server.stop()
        redis_sync.close()

    result = summary(measured.bursts, measured.paced)
    print(f"\n{MEMBERS}-member group, 99 deliveries per message, medians of {ROUNDS} rounds")
    print(report(result, measured))
    return {
        "summary": result,
        "setup": {
            "members": MEMBERS,
            "burst_messages": BURST,
            "window": WINDOW,
            "latency_messages": LATENCY_MESSAGES,
            "latency_pause_s": PAUSE,
            "frame_bytes": size,
            "stack_idle_cpu_s_per_s": measured.stack_idle_cpu,
            "connection_lookup": asdict(measured.lookup),
            "cpus": os.cpu_count(),
        },
        "rounds": raw_rounds(measured),
    }


def forget_namespace(redis_url: str, namespace: str) -> None:
    """Delete this run's keys, and only those: the Redis is shared."""
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=500))
        if keys:
            client.delete(*keys)


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(redis_url).ping()
    except redis.RedisError as error:  # skipped, so ``make bench`` goes on with the others
        print(f"live: skipped, no Redis at {redis_url} ({error}); set BENCH_REDIS_URL")
        return
    started = time.perf_counter()
    print("The live path (send → Redis → fan-out → sockets) beside PUBLISH → broadcast(), same run")
    env = isolated_environment(os.environ, stage="benchlive", log_level="ERROR")
    moto = Child.start(["moto"], env)
    credentials = {"AWS_ACCESS_KEY_ID": "sotto-local", "AWS_SECRET_ACCESS_KEY": "sotto-local"}
    os.environ.update(credentials)  # moto's; this process creates the extra users itself
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto.port}",
            "REDIS_URL": redis_url,
            "SOTTO_SEND_RATE_LIMIT": "1000000",
            **credentials,
        }
    )
    try:
        with tempfile.TemporaryDirectory() as folder, StackProcess(env, Path(folder)) as stack:
            server_env = {**env, "SOTTO_COGNITO_USER_POOL_ID": stack.info["user_pool_id"]}
            results = asyncio.run(run(stack.info, server_env, moto))
    finally:
        moto.stop()
        # After the stack has stopped: its $disconnect handlers write to Redis too.
        forget_namespace(redis_url, env["SOTTO_REDIS_NAMESPACE"])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"live-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nraw figures: {out} (whole run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
