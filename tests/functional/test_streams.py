"""Lambda's DynamoDB Streams event source against moto's server (on port 0, as the stack runs
it): records reach the function in order as Lambda's events, a partial failure resumes at the
failed record, and a function that keeps failing is given up on without stalling the stream.
moto has one shard that never closes, so shard splits are shown on a small fake stream."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local_gateway.invoker import LambdaInvoker
from local_gateway.streams import DynamoDbStreamEventSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

REGION = "eu-west-1"  # moto writes us-east-1 into its records: the source must set its own
T = TypeVar("T")
Answer = Callable[[list[dict[str, Any]]], dict[str, Any]]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class Table:
    """A table with a NEW_AND_OLD_IMAGES stream on moto's server."""

    def __init__(self, url: str) -> None:
        self.name = f"notes-{uuid.uuid4().hex[:8]}"
        self.dynamodb: DynamoDBClient = boto3.client(
            "dynamodb", endpoint_url=url, region_name=REGION
        )
        self.streams: DynamoDBStreamsClient = boto3.client(
            "dynamodbstreams", endpoint_url=url, region_name=REGION
        )
        created = self.dynamodb.create_table(
            TableName=self.name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn = created["TableDescription"]["LatestStreamArn"]

    def put(self, *keys: str, **attributes: str) -> None:
        for key in keys:
            item = {"pk": {"S": key}, **{k: {"S": v} for k, v in attributes.items()}}
            self.dynamodb.put_item(TableName=self.name, Item=item)


@pytest.fixture
def table(aws_credentials: None, moto_url: str) -> Table:
    return Table(moto_url)


class Function:
    """A Lambda function that records the events it is handed and answers as `answer` says."""

    __name__ = "on_notes"

    def __init__(self, answer: Answer = lambda records: {}) -> None:
        self.events: list[dict[str, Any]] = []
        self._answer = answer

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(json.loads(json.dumps(event)))  # what Lambda's JSON would carry
        return self._answer(event["Records"])

    def batches(self) -> list[list[str]]:
        """The keys of each batch the function was handed, in order."""
        return [[key_of(r) for r in event["Records"]] for event in self.events]

    def keys(self) -> list[str]:
        return [key for batch in self.batches() for key in batch]


def key_of(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["pk"]["S"])


def failing(*keys: str) -> Callable[[list[dict[str, Any]]], list[dict[str, str]]]:
    """Batch item failures naming the records with these keys, in the order given."""

    def failures(records: list[dict[str, Any]]) -> list[dict[str, str]]:
        sequence = {key_of(r): r["dynamodb"]["SequenceNumber"] for r in records}
        return [{"itemIdentifier": sequence[key]} for key in keys]

    return failures


def drive(
    streams: Any,
    stream_arn: str,
    function: Function,
    scenario: Callable[[DynamoDbStreamEventSource], Awaitable[T]],
    *,
    timeout: float = 5,
    **options: Any,
) -> T:
    async def main() -> T:
        invoker = LambdaInvoker(timeout)
        source = DynamoDbStreamEventSource(
            streams, stream_arn, function, invoker, region=REGION, **options
        )
        try:
            return await scenario(source)
        finally:
            invoker.close()

    return asyncio.run(asyncio.wait_for(main(), 30))


def polls(table: Table, function: Function, rounds: int, **options: Any) -> list[int]:
    """How many records each of `rounds` consecutive polls handed over."""

    async def scenario(source: DynamoDbStreamEventSource) -> list[int]:
        return [await source.poll_once() for _ in range(rounds)]

    return drive(table.streams, table.stream_arn, function, scenario, **options)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def sotto_logs() -> Iterator[list[logging.LogRecord]]:
    """Warnings written under the `sotto` logger (held here: it may not propagate)."""
    handler = Captured()
    logger = logging.getLogger("sotto")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def test_inserts_and_modifies_reach_the_function_in_order_as_lambda_events(table: Table) -> None:
    avatar = b"\x00\xffpng"
    table.dynamodb.put_item(
        TableName=table.name,
        Item={"pk": {"S": "ada"}, "name": {"S": "Ada"}, "avatar": {"B": avatar}},
    )
    table.put("bob", name="Bob")
    table.put("ada", name="Ada L.")
    function = Function()

    assert polls(table, function, 2) == [3, 0]

    [event] = function.events
    records = event["Records"]
    assert [(r["eventName"], key_of(r)) for r in records] == [
        ("INSERT", "ada"),
        ("INSERT", "bob"),
        ("MODIFY", "ada"),
    ]
    assert {(r["eventSource"], r["eventSourceARN"], r["awsRegion"]) for r in records} == {
        ("aws:dynamodb", table.stream_arn, REGION)
    }
    first, _, modified = (r["dynamodb"] for r in records)
    assert first["NewImage"] == {
        "pk": {"S": "ada"},
        "name": {"S": "Ada"},
        "avatar": {"B": base64.b64encode(avatar).decode()},
    }
    assert "OldImage" not in first
    assert modified["OldImage"]["name"] == {"S": "Ada"}
    assert modified["NewImage"] == {"pk": {"S": "ada"}, "name": {"S": "Ada L."}}
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(set(sequence))
    for record in records:
        created = record["dynamodb"]["ApproximateCreationDateTime"]
        assert type(created) is int
        assert abs(created - time.time()) < 60


def test_a_shard_is_handed_over_in_order_in_batches_of_at_most_batch_size(table: Table) -> None:
    table.put("k0", "k1", "k2", "k3", "k4")
    function = Function()

    assert polls(table, function, 4, batch_size=2) == [2, 2, 1, 0]

    assert function.batches() == [["k0", "k1"], ["k2", "k3"], ["k4"]]


def test_a_partial_failure_comes_again_from_the_failed_record_and_not_before(
    table: Table,
) -> None:
    table.put("k0", "k1", "k2", "k3", "k4")
    calls = itertools.count()
    report = failing("k3", "k2")  # unordered: the shard resumes at the lowest

    function = Function(
        lambda records: {"batchItemFailures": report(records) if next(calls) == 0 else []}
    )

    assert polls(table, function, 3) == [5, 3, 0]

    assert function.batches() == [["k0", "k1", "k2", "k3", "k4"], ["k2", "k3", "k4"]]


def test_a_failure_naming_no_record_of_the_batch_fails_it_whole(table: Table) -> None:
    table.put("k0", "k1")
    calls = itertools.count()

    def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": ""}] if next(calls) == 0 else []}

    function = Function(answer)

    assert polls(table, function, 3) == [2, 2, 0]

    assert function.batches() == [["k0", "k1"], ["k0", "k1"]]


def test_a_function_that_times_out_is_handed_the_whole_batch_again(table: Table) -> None:
    table.put("k0", "k1")
    stuck = threading.Event()
    calls = itertools.count()

    def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
        if next(calls) == 0:
            stuck.wait(10)  # past the invoker's timeout; released below
        return {}

    function = Function(answer)

    async def scenario(source: DynamoDbStreamEventSource) -> list[int]:
        try:
            return [await source.poll_once() for _ in range(3)]
        finally:
            stuck.set()

    handed = drive(table.streams, table.stream_arn, function, scenario, timeout=0.2)

    assert handed == [2, 2, 0]
    assert function.batches() == [["k0", "k1"], ["k0", "k1"]]


def test_a_function_that_keeps_raising_is_given_up_on_and_later_records_still_arrive(
    table: Table, sotto_logs: list[logging.LogRecord]
) -> None:
    table.put("poison", email="ada@example.com")

    def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
        if "poison" in [key_of(r) for r in records]:
            raise RuntimeError("cannot handle this batch")
        return {}

    function = Function(answer)

    async def scenario(source: DynamoDbStreamEventSource) -> list[int]:
        handed = [await source.poll_once() for _ in range(4)]
        await asyncio.to_thread(table.put, "later")
        return [*handed, *[await source.poll_once() for _ in range(2)]]

    handed = drive(table.streams, table.stream_arn, function, scenario, max_retries=2)

    assert handed == [1, 1, 1, 0, 1, 0]  # a first attempt and two retries, then skipped
    assert function.batches() == [["poison"]] * 3 + [["later"]]
    skipped = [r.getMessage() for r in sotto_logs if r.name == "sotto.streams"]
    assert any("skipping 1 records" in message for message in skipped), skipped
    assert not [r for r in sotto_logs if "ada@example.com" in r.getMessage()]


def test_a_record_written_after_a_poll_arrives_on_the_next_poll(table: Table) -> None:
    function = Function()

    async def scenario(source: DynamoDbStreamEventSource) -> list[int]:
        handed = [await source.poll_once()]
        await asyncio.to_thread(table.put, "first")
        handed.append(await source.poll_once())
        await asyncio.to_thread(table.put, "second")
        handed.append(await source.poll_once())
        return handed

    assert drive(table.streams, table.stream_arn, function, scenario) == [0, 1, 1]
    assert function.batches() == [["first"], ["second"]]


def test_run_hands_records_over_as_they_are_written_until_cancelled(table: Table) -> None:
    function = Function()

    async def scenario(source: DynamoDbStreamEventSource) -> list[str]:
        task = asyncio.create_task(source.run())
        for key in ("a", "b", "c"):
            await asyncio.to_thread(table.put, key)
        deadline = time.monotonic() + 10
        while function.keys() != ["a", "b", "c"] and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return function.keys()

    assert drive(table.streams, table.stream_arn, function, scenario, poll_seconds=0.05) == [
        "a",
        "b",
        "c",
    ]


class ExpiredIteratorException(Exception):
    pass


class FakeStream:
    """DynamoDB Streams as a split leaves it: shards that close and children that follow their
    parent, listed one a page; iterators that expire."""

    class exceptions:  # noqa: N801 (boto3's spelling)
        ExpiredIteratorException = ExpiredIteratorException

    def __init__(self) -> None:
        self.shards: dict[str, dict[str, Any]] = {}
        self._sequence = itertools.count(100)
        self._iterators: dict[str, tuple[str, int]] = {}
        self._expired: set[str] = set()

    def add_shard(self, shard_id: str, parent: str | None = None) -> None:
        self.shards[shard_id] = {"parent": parent, "records": [], "closed": False}

    def write(self, shard_id: str, *keys: str) -> None:
        for key in keys:
            change = {"Keys": {"pk": {"S": key}}, "SequenceNumber": str(next(self._sequence))}
            self.shards[shard_id]["records"].append({"eventName": "INSERT", "dynamodb": change})

    def expire_iterators(self) -> None:
        self._expired |= set(self._iterators)

    def describe_stream(self, **request: Any) -> dict[str, Any]:
        ids = list(self.shards)
        after = request.get("ExclusiveStartShardId")
        start = ids.index(after) + 1 if after else 0
        shard_id, parent = ids[start], self.shards[ids[start]]["parent"]
        shard = {"ShardId": shard_id, **({"ParentShardId": parent} if parent else {})}
        more = {"LastEvaluatedShardId": shard_id} if start + 1 < len(ids) else {}
        return {"StreamDescription": {"Shards": [shard], **more}}

    def get_shard_iterator(self, **request: Any) -> dict[str, str]:
        shard_id, kind = request["ShardId"], request["ShardIteratorType"]
        sequence = [r["dynamodb"]["SequenceNumber"] for r in self.shards[shard_id]["records"]]
        position = 0  # TRIM_HORIZON
        if kind == "AT_SEQUENCE_NUMBER":
            position = sequence.index(request["SequenceNumber"])
        elif kind == "AFTER_SEQUENCE_NUMBER":
            position = sequence.index(request["SequenceNumber"]) + 1
        return {"ShardIterator": self._iterator(shard_id, position)}

    def get_records(self, **request: Any) -> dict[str, Any]:
        if request["ShardIterator"] in self._expired:
            raise ExpiredIteratorException(request["ShardIterator"])
        shard_id, position = self._iterators[request["ShardIterator"]]
        shard = self.shards[shard_id]
        records = shard["records"][position : position + request["Limit"]]
        end = position + len(records)
        if shard["closed"] and end == len(shard["records"]):
            return {"Records": records}  # read to its end: no next iterator
        return {"Records": records, "NextShardIterator": self._iterator(shard_id, end)}

    def _iterator(self, shard_id: str, position: int) -> str:
        iterator = f"{shard_id}/{len(self._iterators)}"
        self._iterators[iterator] = (shard_id, position)
        return iterator


def test_a_child_shard_waits_for_its_parent_and_new_shards_are_found_on_later_polls() -> None:
    stream = FakeStream()
    stream.add_shard("parent")
    stream.write("parent", "p1", "p2")
    stream.shards["parent"]["closed"] = True
    stream.add_shard("child", parent="parent")
    stream.write("child", "c1")
    function = Function()

    async def scenario(source: DynamoDbStreamEventSource) -> list[int]:
        handed = [await source.poll_once() for _ in range(3)]
        stream.add_shard("another")
        stream.write("another", "a1")
        stream.write("child", "c2")
        return [*handed, *[await source.poll_once() for _ in range(2)]]

    assert drive(stream, "arn:stream", function, scenario, batch_size=1) == [1, 1, 1, 2, 0]
    assert function.batches() == [["p1"], ["p2"], ["c1"], ["c2"], ["a1"]]


def test_an_expired_iterator_is_replaced_from_the_last_record_handled() -> None:
    stream = FakeStream()
    stream.add_shard("only")
    stream.write("only", "k1", "k2")
    function = Function()

    async def scenario(source: DynamoDbStreamEventSource) -> list[int]:
        handed = [await source.poll_once()]
        stream.expire_iterators()  # fifteen minutes pass
        stream.write("only", "k3")
        return [*handed, await source.poll_once(), await source.poll_once()]

    assert drive(stream, "arn:stream", function, scenario) == [2, 1, 0]
    assert function.batches() == [["k1", "k2"], ["k3"]]
