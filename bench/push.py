"""Push notifications: what handing offline members over costs the fan-out, and what composing a
push costs beside a bare SNS publish, in one run.

Both sides run against moto in this process (``mock_aws``) and fakeredis, so absolute times
measure moto; the ratios are the point.

- **hand-off**: one message fanned out in a 100-member group, the delivery itself a no-op. The
  baseline has every member connected; Sotto's side has half of them offline, so the fan-out
  also works out who missed the message and enqueues one push job (one SQS call, whatever the
  number of members).
- **push**: 50 offline users, one device each, pushed about one message (no coalescing window).
  The baseline is a bare ``sns.publish`` of a fixed payload to each endpoint; Sotto's side is the
  push worker: the user's devices and preferences, blocks, display names, title, unread badge,
  the payload per platform, the publish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import fakeredis
from moto import mock_aws

from chat.deps import ChatDeps
from chat.model import (
    Conversation,
    ConversationKind,
    FanoutEnvelope,
    Member,
    MissedMessage,
    Role,
    UserProfile,
)
from common.clients import Clients
from common.settings import Settings
from connections.model import Connection
from connections.store import ConnectionStore, PresenceStore
from local_gateway.provision import (
    create_buckets,
    create_queues,
    create_tables,
    ensure_platform_applications,
)
from notifications.deps import NotificationDeps
from notifications.logic import message_push, sns_message
from notifications.model import Device, MessageJob, Platform, WaitingMessage

ROUNDS = 15
GROUP = 100
OFFLINE = 50
PUSHED = 50
NOW = datetime.now(UTC)


class NoSockets:
    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        return set()


def world() -> tuple[ChatDeps, NotificationDeps]:
    settings = Settings.from_env({"SOTTO_STAGE": "bench", "SOTTO_PUSH_COALESCE_SECONDS": "0"})
    clients = Clients(settings, redis_client=fakeredis.FakeRedis())
    create_tables(clients)
    create_buckets(clients)
    create_queues(clients)
    arns = ensure_platform_applications(clients)
    settings = dataclasses.replace(
        settings,
        apns_application_arn=arns["SOTTO_APNS_APPLICATION_ARN"],
        apns_sandbox_application_arn=arns["SOTTO_APNS_SANDBOX_APPLICATION_ARN"],
        gcm_application_arn=arns["SOTTO_GCM_APPLICATION_ARN"],
    )
    clients = Clients(settings, redis_client=clients.redis)
    return ChatDeps(clients), NotificationDeps(clients)


def a_group(chat: ChatDeps, users: Sequence[str]) -> str:
    for user in users:
        chat.users.put(UserProfile(user, user, user.title()), NOW)
    conversation = Conversation("g_bench", ConversationKind.GROUP, NOW, "Bench", users[0])
    members = [Member(u, Role.OWNER if i == 0 else Role.MEMBER, NOW) for i, u in enumerate(users)]
    half = len(members) // 2  # a transaction holds at most 100 items
    chat.conversations.create_group(conversation, members[:half])
    chat.conversations.add_members(conversation, members[half:])
    return conversation.conversation_id


class Phones:
    """Members' connections, opened and closed as $connect and $disconnect record them."""

    def __init__(self, chat: ChatDeps) -> None:
        settings = chat.settings
        self._table = ConnectionStore(chat.clients.dynamodb, settings.connections_table)
        self._presence = PresenceStore(chat.clients.redis, settings.redis_namespace)

    def online(self, users: Sequence[str]) -> None:
        for user in users:
            connection = Connection(f"{user}-phone", user, NOW, int(NOW.timestamp()) + 3600)
            self._table.put(connection)
            self._presence.online(user, connection.connection_id, 3600)

    def offline(self, users: Sequence[str]) -> None:
        for user in users:
            self._table.delete(f"{user}-phone")
            self._presence.offline(user, f"{user}-phone", NOW)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def hand_off(chat: ChatDeps, group: str, members: Sequence[str]) -> tuple[float, float]:
    """Median seconds of one fan-out with everyone connected, and with half of them offline
    (rounds alternate, so both see the same machine and the same moto)."""
    phones = Phones(chat)
    envelope = FanoutEnvelope(
        group, f"{members[0]}-phone", "{}", sender_id=members[0], missed=MissedMessage(1, 3000)
    )
    service = chat.fanout(NoSockets())
    times: dict[str, list[float]] = {"all": [], "half": []}
    for _ in range(ROUNDS):
        phones.online(members)
        times["all"].append(timed(lambda: asyncio.run(service.fan_out(envelope))))
        phones.offline(members[GROUP - OFFLINE :])
        times["half"].append(timed(lambda: asyncio.run(service.fan_out(envelope))))
    return statistics.median(times["all"]), statistics.median(times["half"])


def pushes(chat: ChatDeps, notes: NotificationDeps, group: str) -> tuple[float, float]:
    """Median seconds per push: a bare publish, and the push worker's."""
    users = [f"p{i:03d}" for i in range(PUSHED)]
    devices = []
    for user in users:
        chat.users.put(UserProfile(user, user, user.title()), NOW)
        arn = notes.endpoints.ensure(Platform.IOS, f"{user:0>64}"[-64:], None)
        device = Device(user, "phone", Platform.IOS, f"{user:0>64}", "1", arn, NOW)
        notes.store.put_device(device)
        devices.append(device)
    payload = sns_message(
        message_push(group, [WaitingMessage(1, "u000", 3000)], names={}, group_title=None, badge=1)
    )
    sns = notes.clients.sns

    def bare() -> None:
        for device in devices:
            sns.publish(TargetArn=device.endpoint_arn, Message=payload, MessageStructure="json")

    def sotto() -> None:
        notes.push.handle(MessageJob(group, WaitingMessage(1, "u000", 3000), tuple(users)))

    times: dict[str, list[float]] = {"bare": [], "sotto": []}
    for _ in range(ROUNDS):
        times["bare"].append(timed(bare) / PUSHED)
        times["sotto"].append(timed(sotto) / PUSHED)
    return statistics.median(times["bare"]), statistics.median(times["sotto"])


def run() -> dict[str, float]:
    with mock_aws():
        chat, notes = world()
        members = [f"u{i:03d}" for i in range(GROUP)]
        group = a_group(chat, members)
        all_online, half_offline = hand_off(chat, group, members)
        bare, sotto = pushes(chat, notes, group)
    return {
        "fanout_all_online_s": all_online,
        "fanout_half_offline_s": half_offline,
        "publish_bare_s": bare,
        "push_sotto_s": sotto,
    }


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    print("\nPushes (in-process moto and fakeredis: the ratios matter, not the times)")
    figures = run()
    base, ours = figures["fanout_all_online_s"], figures["fanout_half_offline_s"]
    print(
        f"  fan-out, {GROUP}-member group: everyone connected {base * 1000:.1f} ms, "
        f"{OFFLINE} offline handed to the push queue {ours * 1000:.1f} ms, "
        f"ratio {ours / base:.2f}x (median of {ROUNDS})"
    )
    base, ours = figures["publish_bare_s"], figures["push_sotto_s"]
    print(
        f"  per push, {PUSHED} users: bare sns.publish {base * 1000:.2f} ms, "
        f"Sotto's push worker {ours * 1000:.2f} ms, ratio {ours / base:.2f}x "
        f"(median of {ROUNDS})"
    )


if __name__ == "__main__":
    main()
