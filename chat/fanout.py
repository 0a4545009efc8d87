"""Fan-out: resolve a conversation's members and live connections, deliver, forget the gone.

The same service runs in the fan-out subscriber (local gateway, or the fan-out service in AWS)
and in the send handler's direct fallback; only the delivery adapter differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chat.conversation_store import ConversationStore
from chat.logic import plan_fanout, unreached
from chat.member_cache import MemberLookup
from chat.model import FanoutEnvelope, MissedMessage, Notice
from chat.safety_store import BlockStore
from common.clock import Clock
from common.logs import get_logger
from common.observability import (
    DELIVERIES,
    FANOUT_LAG,
    GONE_CONNECTIONS,
    count,
    milliseconds,
)
from connections.index import LiveConnections

log = get_logger("fanout")


class MissedHandoff(Protocol):
    """Hands users an event reached on no connection to notifications (enqueue only: never
    wait for a push service here). Both raise HandoffFailed."""

    def missed(
        self, conversation_id: str, message: MissedMessage, sender_id: str, user_ids: Sequence[str]
    ) -> None: ...

    def noticed(self, notice: Notice, user_ids: Sequence[str]) -> None: ...


class HandoffFailed(Exception):
    """The members who missed a message could not be handed over: they get no push (the
    message itself is stored and reaches them through ``sync``)."""


class DeliveryRecord(Protocol):
    """Notes who got a message live, for analytics. Best effort: it never raises, and the
    fan-out never waits on it for anything but the call itself."""

    def delivered(
        self, conversation_id: str, message: MissedMessage, user_ids: Sequence[str], at: datetime
    ) -> None: ...


class DeliveryPort(Protocol):
    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        """Post ``payload`` to each connection; return the ids that answered Gone."""
        ...


@dataclass(frozen=True)
class FanoutReport:
    delivered: int
    gone: tuple[str, ...]
    missed_by: tuple[str, ...] = ()  # users handed to notifications


class FanoutService:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        members: MemberLookup,
        blocks: BlockStore,
        connections: LiveConnections,
        delivery: DeliveryPort,
        clock: Clock,
        missed: MissedHandoff | None = None,
        record: DeliveryRecord | None = None,
    ) -> None:
        self._conversations = conversations
        self._members = members
        self._blocks = blocks
        self._connections = connections
        self._delivery = delivery
        self._clock = clock
        self._missed = missed
        self._record = record

    async def fan_out(self, envelope: FanoutEnvelope) -> FanoutReport:
        users = await asyncio.to_thread(self._audience, envelope)
        live = await asyncio.to_thread(self._connections.of_users, users, self._clock.now())
        targets = plan_fanout(envelope, live)
        gone = await self._delivery.deliver(envelope.payload, targets) if targets else set()
        if gone:
            forgotten = {cid: live[cid] for cid in gone}
            await asyncio.to_thread(self._connections.forget, forgotten, self._clock.now())
            log.info("forgot %d gone connection(s)", len(gone))
        if envelope.missed is not None and self._record is not None:
            reached = sorted({live[c] for c in targets if c not in gone} - {envelope.sender_id})
            await asyncio.to_thread(
                self._record.delivered,
                envelope.conversation_id,
                envelope.missed,
                reached,
                self._clock.now(),
            )
        offline: list[str] = []
        if envelope.missed is not None or envelope.notice is not None:
            offline = await asyncio.to_thread(self._hand_off_missed, envelope, users, live, gone)
        report = FanoutReport(
            delivered=len(targets) - len(gone), gone=tuple(sorted(gone)), missed_by=tuple(offline)
        )
        self._measure(envelope, report)
        log.info("delivered to %d connection(s) in %s", report.delivered, envelope.conversation_id)
        return report

    def _measure(self, envelope: FanoutEnvelope, report: FanoutReport) -> None:
        count(DELIVERIES, report.delivered)
        count(GONE_CONNECTIONS, len(report.gone))
        sent_ms = envelope.missed.sent_at_ms if envelope.missed is not None else 0
        if sent_ms and report.delivered:  # from the message's storing to its live delivery
            milliseconds(FANOUT_LAG, self._clock.now().timestamp() * 1000 - sent_ms)

    def _hand_off_missed(
        self, envelope: FanoutEnvelope, users: list[str], live: dict[str, str], gone: set[str]
    ) -> list[str]:
        """Users who heard a message (or a notice) on no connection go to notifications."""
        offline = unreached(users, live, gone, envelope.sender_id)
        if not offline or self._missed is None:
            return offline
        try:
            if envelope.missed is not None and envelope.sender_id is not None:
                self._missed.missed(
                    envelope.conversation_id, envelope.missed, envelope.sender_id, offline
                )
            elif envelope.notice is not None:
                self._missed.noticed(envelope.notice, offline)
        except HandoffFailed as error:
            log.warning("%d user(s) will get no push: %s", len(offline), error)
        return offline

    def _audience(self, envelope: FanoutEnvelope) -> list[str]:
        if envelope.user_ids:
            users = list(envelope.user_ids)
        elif envelope.contacts_of is not None:
            users = self._contacts(envelope.contacts_of)
        else:
            users = self._members.member_ids(envelope.conversation_id)
        if envelope.sender_id is None:
            return users
        blockers = self._blocks.blockers_of(envelope.sender_id)
        return [u for u in users if u not in blockers]

    def _contacts(self, user_id: str) -> list[str]:
        """Everyone who shares a conversation with the user."""
        contacts: dict[str, None] = {}
        for conversation_id, _ in self._conversations.memberships_of(user_id):
            contacts.update(dict.fromkeys(self._members.member_ids(conversation_id)))
        contacts.pop(user_id, None)
        return list(contacts)
