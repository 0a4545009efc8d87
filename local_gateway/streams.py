"""Lambda's DynamoDB Streams event source mapping, locally: read every shard of a table's stream
in order from its trim horizon, hand the function batches of records, and checkpoint what it
handled. A partial batch response (ReportBatchItemFailures) resumes at the first failed record;
a failed invocation retries the whole batch; after max_retries retries the batch is skipped with
a warning (MaximumRetryAttempts), so one poison record cannot stall its shard for ever.

Record images may hold personal data: logs name shards, counts and sequence numbers only."""

from __future__ import annotations

import asyncio
import base64
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.logs import get_logger
from local_gateway.invoker import LambdaInvoker
from local_gateway.routes import LambdaFunction

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_dynamodbstreams.literals import ShardIteratorTypeType
    from mypy_boto3_dynamodbstreams.type_defs import (
        DescribeStreamInputTypeDef,
        GetShardIteratorInputTypeDef,
        RecordTypeDef,
        ShardTypeDef,
    )

log = get_logger("streams")

ERROR_PAUSE_SECONDS = 1.0


def stream_event(records: Sequence[RecordTypeDef], stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's DynamoDB Streams integration hands a function: the records as JSON
    carries them (epoch seconds, rounded down as the stream does; binary values in base64)."""
    return {
        "Records": [
            {**_as_json(record), "awsRegion": region, "eventSourceARN": stream_arn}
            for record in records
        ]
    }


def _as_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, datetime):
        return math.floor(value.timestamp())
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def sequence_number(record: RecordTypeDef) -> str:
    return record["dynamodb"]["SequenceNumber"]


def first_failure(
    records: Sequence[RecordTypeDef], response: Mapping[str, Any] | None
) -> int | None:
    """The index of the first record to hand over again, None when the function handled all.
    As Lambda: a failed invocation, or failures naming no record of the batch, fail it whole;
    otherwise the lowest failed sequence number is where the shard resumes."""
    if response is None:
        return 0
    failures = response.get("batchItemFailures")
    if not failures:
        return None
    if not isinstance(failures, list):
        return 0
    positions = {sequence_number(record): i for i, record in enumerate(records)}
    named = [f.get("itemIdentifier") if isinstance(f, Mapping) else None for f in failures]
    stops = [positions[n] for n in named if isinstance(n, str) and n in positions]
    return min(stops) if len(stops) == len(named) else 0


@dataclass
class _Shard:
    """Where reading one shard resumes, and how often the batch at that point has failed."""

    shard_id: str
    parent_id: str | None
    resume: ShardIteratorTypeType = "TRIM_HORIZON"
    resume_at: str | None = None  # the sequence number for AT_/AFTER_SEQUENCE_NUMBER
    iterator: str | None = None  # None: ask for a fresh one at the resume point
    finished: bool = False  # a closed shard read to its end
    failing_at: str | None = None
    attempts: int = 0

    def follow(self, iterator: str | None) -> None:
        self.iterator = iterator
        self.finished = iterator is None

    def advance(self, past: str, iterator: str | None) -> None:
        self.resume, self.resume_at = "AFTER_SEQUENCE_NUMBER", past
        self.failing_at, self.attempts = None, 0
        self.follow(iterator)

    def rewind(self, to: str, attempts: int) -> None:
        self.resume, self.resume_at, self.iterator = "AT_SEQUENCE_NUMBER", to, None
        self.failing_at, self.attempts = to, attempts


class DynamoDbStreamEventSource:
    def __init__(
        self,
        streams: DynamoDBStreamsClient,
        stream_arn: str,
        function: LambdaFunction,
        invoker: LambdaInvoker,
        *,
        region: str,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
        max_retries: int = 3,
    ) -> None:
        self._streams = streams
        self._stream_arn = stream_arn
        self._function = function
        self._invoker = invoker
        self._region = region
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._max_retries = max_retries
        self._shards: dict[str, _Shard] = {}

    async def run(self) -> None:
        """Poll until cancelled; pause between rounds that found nothing to hand over."""
        while True:
            try:
                handed = await self.poll_once()
            except Exception:
                log.exception("polling stream %s failed; retrying", self._stream_arn)
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
                continue
            if not handed:
                await asyncio.sleep(self._poll_seconds)

    async def poll_once(self) -> int:
        """One round over the shards, a batch at most from each; returns how many records the
        function was handed (failed ones included)."""
        await self._discover()
        handed = 0
        for shard in self._ready():
            handed += await self._serve(shard)
        return handed

    async def _discover(self) -> None:
        listed = await asyncio.to_thread(self._describe)
        for shard in listed:
            shard_id = shard.get("ShardId")
            if shard_id and shard_id not in self._shards:
                self._shards[shard_id] = _Shard(shard_id, shard.get("ParentShardId"))
        present = {shard.get("ShardId") for shard in listed}
        for gone in [s.shard_id for s in self._shards.values() if s.finished]:
            if gone not in present:  # read to its end and since trimmed from the stream
                del self._shards[gone]

    def _ready(self) -> list[_Shard]:
        """Open shards whose parent, if still known, has been read to its end (as Lambda)."""
        return [
            shard
            for shard in self._shards.values()
            if not shard.finished
            and (shard.parent_id not in self._shards or self._shards[shard.parent_id].finished)
        ]

    async def _serve(self, shard: _Shard) -> int:
        records, following = await asyncio.to_thread(self._read, shard)
        if not records:
            shard.follow(following)
            return 0
        event = stream_event(records, self._stream_arn, self._region)
        outcome = await self._invoker.invoke(self._function, event, uuid.uuid4().hex)
        stop = first_failure(records, outcome.response)
        if stop is None:
            log.debug("shard %s: %d records handled", shard.shard_id, len(records))
            shard.advance(sequence_number(records[-1]), following)
        else:
            self._retry_or_skip(shard, records, stop, following)
        return len(records)

    def _retry_or_skip(
        self, shard: _Shard, records: Sequence[RecordTypeDef], stop: int, following: str | None
    ) -> None:
        failed = sequence_number(records[stop])
        attempts = shard.attempts + 1 if failed == shard.failing_at else 1
        if attempts <= self._max_retries:
            log.warning(
                "shard %s: the function failed at %s (%d of %d records handled); retry %d of %d",
                shard.shard_id,
                failed,
                stop,
                len(records),
                attempts,
                self._max_retries,
            )
            shard.rewind(failed, attempts)
            return
        log.warning(
            "shard %s: skipping %d records from %s to %s after %d failed attempts",
            shard.shard_id,
            len(records) - stop,
            failed,
            sequence_number(records[-1]),
            attempts,
        )
        shard.advance(sequence_number(records[-1]), following)

    def _describe(self) -> list[ShardTypeDef]:
        shards: list[ShardTypeDef] = []
        request: DescribeStreamInputTypeDef = {"StreamArn": self._stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def _read(self, shard: _Shard) -> tuple[list[RecordTypeDef], str | None]:
        """A batch from the shard's iterator, or from a fresh one when it has none or it expired
        (iterators live 15 minutes); returns the records and the shard's next iterator."""
        iterator = shard.iterator or self._iterator(shard)
        try:
            page = self._streams.get_records(ShardIterator=iterator, Limit=self._batch_size)
        except self._streams.exceptions.ExpiredIteratorException:
            page = self._streams.get_records(
                ShardIterator=self._iterator(shard), Limit=self._batch_size
            )
        return page["Records"], page.get("NextShardIterator")

    def _iterator(self, shard: _Shard) -> str:
        request: GetShardIteratorInputTypeDef = {
            "StreamArn": self._stream_arn,
            "ShardId": shard.shard_id,
            "ShardIteratorType": shard.resume,
        }
        if shard.resume_at is not None:
            request["SequenceNumber"] = shard.resume_at
        return self._streams.get_shard_iterator(**request)["ShardIterator"]
