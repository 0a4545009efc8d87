"""Lambda's SQS event source mapping, locally: poll a queue, invoke the function with a batch,
delete the records it did not report as failed (they come back after the visibility timeout,
and go to the dead-letter queue after too many tries, as in AWS)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from common.logs import get_logger
from local_gateway.invoker import LambdaInvoker
from local_gateway.routes import LambdaFunction

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = get_logger("queues")


def sqs_event(messages: Sequence[MessageTypeDef], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS integration hands a function."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def failed_ids(response: Mapping[str, Any] | None) -> set[str] | None:
    """The records a partial-batch response names as failed; None when the whole batch failed."""
    if response is None:
        return None
    return {str(f.get("itemIdentifier")) for f in response.get("batchItemFailures", [])}


class SqsEventSource:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        function: LambdaFunction,
        invoker: LambdaInvoker,
        *,
        region: str,
        batch_size: int = 5,
        wait_seconds: int = 1,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._function = function
        self._invoker = invoker
        self._region = region
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._queue_arn = ""

    async def run(self) -> None:
        """Poll until cancelled."""
        self._queue_arn = await asyncio.to_thread(self._arn)
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("polling %s failed; retrying", self._queue_url)
                await asyncio.sleep(1)

    async def poll_once(self) -> int:
        """One receive and, if anything came, one invocation; returns how many records."""
        messages = await asyncio.to_thread(self._receive)
        if not messages:
            return 0
        event = sqs_event(messages, self._queue_arn, self._region)
        outcome = await self._invoker.invoke(self._function, event, uuid.uuid4().hex)
        failed = failed_ids(outcome.response)
        if failed is None:
            log.warning("the function failed on a batch of %d; it will be retried", len(messages))
            return len(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            await asyncio.to_thread(self._delete, done)
        return len(messages)

    def _arn(self) -> str:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]
        return attributes["QueueArn"]

    def _receive(self) -> list[MessageTypeDef]:
        return self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])

    def _delete(self, messages: Sequence[MessageTypeDef]) -> None:
        self._sqs.delete_message_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
