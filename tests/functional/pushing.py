"""The push path on moto (SNS, SQS, DynamoDB) and fakeredis, driven as Lambda drives it:
sends through the chat handlers, the fan-out with nobody connected, the push queue read and
handed to the push handler in SQS's event shape, delayed flushes played when the injected clock
says they are due, and what SNS took for each endpoint read back from moto."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from common.clients import Clients
from common.clock import ManualClock
from common.events import Caller
from local_gateway.provision import ensure_platform_applications
from local_gateway.queues import sqs_event
from notifications import handlers as push_handlers
from notifications.deps import NotificationDeps
from notifications.jobs import PushJobs
from notifications.model import PushJob, job_to_json
from tests.functional.chatting import call, with_users
from tests.functional.helpers import RecordingChatDeps

REGION = "us-east-1"
IOS_TOKEN = "a1" * 32
ANDROID_TOKEN = "fcm-token-" + "x" * 140


class NobodyConnected:
    """Delivery when no member has a live connection: nothing to post."""

    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        assert not connection_ids
        return set()


class DelayedJobs(PushJobs):
    """The push worker's own jobs (the delayed flushes), kept for the test to play when the
    injected clock says they are due, since SQS's delay runs on real time."""

    def __init__(self, clients: Clients, clock: ManualClock) -> None:
        super().__init__(clients.sqs, clients.settings.push_queue)
        self.due: list[tuple[datetime, PushJob]] = []
        self._clock = clock

    def put(self, job: PushJob, delay_seconds: int = 0) -> None:
        self.due.append((self._clock.now() + timedelta(seconds=delay_seconds), job))


class Pushes:
    def __init__(self, aws: Clients, window_seconds: int = 5) -> None:
        arns = ensure_platform_applications(aws)
        settings = dataclasses.replace(
            aws.settings,
            apns_application_arn=arns["SOTTO_APNS_APPLICATION_ARN"],
            apns_sandbox_application_arn=arns["SOTTO_APNS_SANDBOX_APPLICATION_ARN"],
            gcm_application_arn=arns["SOTTO_GCM_APPLICATION_ARN"],
            push_coalesce_seconds=window_seconds,
        )
        self.clients = Clients(settings, redis_client=aws.redis)
        self.chat: RecordingChatDeps = with_users(self.clients)
        self.clock = self.chat.manual_clock
        self.notes = NotificationDeps(self.clients, clock=self.clock)
        self.delayed = DelayedJobs(self.clients, self.clock)
        self.notes.__dict__["jobs"] = self.delayed  # the cached property, injected
        self.queue_url = self.clients.sqs.get_queue_url(QueueName=settings.push_queue)["QueueUrl"]

    # ---- the WebSocket actions -------------------------------------------------------------

    def act(self, handler: Any, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        return call(handler, caller, body, self.notes)  # type: ignore[arg-type]

    def register(
        self, caller: Caller, device_id: str, token: str = IOS_TOKEN, platform: str = "ios"
    ) -> dict[str, Any]:
        body = {
            "action": "registerDevice",
            "deviceId": device_id,
            "platform": platform,
            "token": token,
            "appVersion": "1.0.0",
        }
        return self.act(push_handlers.register_device, caller, body)

    # ---- what happens after a send -----------------------------------------------------------

    def fan_out_sends(self) -> list[tuple[str, ...]]:
        """Fan out every event the sends produced, nobody being connected; then run the push
        worker on what reached the push queue. Returns who each fan-out handed over."""
        handed = []
        for envelope, _ in self.chat.direct:
            report = asyncio.run(self.chat.fanout(NobodyConnected()).fan_out(envelope))
            handed.append(report.missed_by)
        self.chat.direct.clear()
        self.drain_queue()
        return handed

    def drain_queue(self) -> int:
        """Hand what the push queue holds to the push handler, in Lambda's SQS event shape."""
        sqs = self.clients.sqs
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if messages:
            arn = f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:{self.clients.settings.push_queue}"
            response = push_handlers.push(sqs_event(messages, arn, REGION), deps=self.notes)
            assert response == {"batchItemFailures": []}, response
            for message in messages:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def play_due(self, *, early: bool = False) -> int:
        """Run the delayed jobs whose time has come (through the handler, as SQS would), or
        all of them at once with ``early`` (a queue may deliver before the delay is up)."""
        now = self.clock.now()
        due = [job for at, job in self.delayed.due if early or at <= now]
        self.delayed.due = [(at, job) for at, job in self.delayed.due if not early and at > now]
        for job in due:
            record = {"MessageId": "m", "ReceiptHandle": "r", "Body": job_to_json(job)}
            push_handlers.push(sqs_event([record], "arn:aws:sqs:::q", REGION), deps=self.notes)  # type: ignore[list-item]
        return len(due)

    def settle(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.play_due()

    # ---- what SNS took -------------------------------------------------------------------

    def endpoint_of(self, caller: Caller, device_id: str) -> str:
        device = self.notes.store.get_device(caller.user_id, device_id)
        assert device is not None
        return device.endpoint_arn

    def published(self, endpoint_arn: str) -> list[dict[str, Any]]:
        endpoints = sns_backends[DEFAULT_ACCOUNT_ID][REGION].platform_endpoints
        endpoint = endpoints.get(endpoint_arn)
        return [json.loads(m) for m in endpoint.messages.values()] if endpoint else []

    def endpoint_attributes(self, endpoint_arn: str) -> dict[str, str]:
        return self.clients.sns.get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"]


def apns(message: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message["APNS"])
    return body


def fcm(message: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message["GCM"])["fcmV1Message"]["message"]
    return body
