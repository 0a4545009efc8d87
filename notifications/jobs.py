"""The push queue (SQS): fan-out hands over who missed a message, the coalescing window's
flush comes back later through the same queue (a delayed message). The send path only ever
enqueues: SNS is called by the push worker, never while a sender waits."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chat.fanout import HandoffFailed
from chat.model import MissedMessage, Notice
from notifications.model import (
    FlushJob,
    MessageJob,
    NoticeJob,
    PushJob,
    WaitingMessage,
    job_to_json,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_DELAY_SECONDS = 900  # SQS's limit on a message's delay


class PushJobs:
    def __init__(self, client: SQSClient, queue_name: str) -> None:
        self._client = client
        self._queue_name = queue_name
        self._url: str | None = None
        self._lock = threading.Lock()

    def missed(
        self, conversation_id: str, message: MissedMessage, sender_id: str, user_ids: Sequence[str]
    ) -> None:
        """These members heard the message on no connection: they get a push."""
        waiting = WaitingMessage(message.seq, sender_id, message.duration_ms)
        self._hand_over(MessageJob(conversation_id, waiting, tuple(user_ids)))

    def noticed(self, notice: Notice, user_ids: Sequence[str]) -> None:
        """These users heard a notice on no connection: they get a push."""
        self._hand_over(NoticeJob(notice.kind, notice.detail, tuple(user_ids)))

    def _hand_over(self, job: PushJob) -> None:
        try:
            self.put(job)
        except (BotoCoreError, ClientError) as error:
            raise HandoffFailed(str(error)) from error

    def flush_later(self, user_id: str, conversation_id: str, delay_seconds: int) -> None:
        self.put(FlushJob(user_id, conversation_id), delay_seconds)

    def put(self, job: PushJob, delay_seconds: int = 0) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url(),
            MessageBody=job_to_json(job),
            DelaySeconds=min(max(0, delay_seconds), MAX_DELAY_SECONDS),
        )

    def _queue_url(self) -> str:
        with self._lock:
            if self._url is None:
                self._url = self._client.get_queue_url(QueueName=self._queue_name)["QueueUrl"]
            return self._url
