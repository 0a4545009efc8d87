"""Fan-out: resolve a conversation's members and live connections, deliver, forget the gone.

The same service runs in the fan-out subscriber (local gateway, or the fan-out service in AWS)
and in the send handler's direct fallback; only the delivery adapter differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chat.logic import plan_fanout
from chat.model import FanoutEnvelope
from chat.store import ConversationStore
from common.clock import Clock
from common.logs import get_logger
from connections.store import ConnectionStore

log = get_logger("fanout")


class DeliveryPort(Protocol):
    async def deliver(self, payload: str, connection_ids: Sequence[str]) -> set[str]:
        """Post ``payload`` to each connection; return the ids that answered Gone."""
        ...


@dataclass(frozen=True)
class FanoutReport:
    delivered: int
    gone: tuple[str, ...]


class FanoutService:
    def __init__(
        self,
        conversations: ConversationStore,
        connections: ConnectionStore,
        delivery: DeliveryPort,
        clock: Clock,
    ) -> None:
        self._conversations = conversations
        self._connections = connections
        self._delivery = delivery
        self._clock = clock

    async def fan_out(self, envelope: FanoutEnvelope) -> FanoutReport:
        if envelope.user_id is not None:
            users = [envelope.user_id]
        else:
            users = await asyncio.to_thread(
                self._conversations.member_ids, envelope.conversation_id
            )
        live = await asyncio.to_thread(self._connections.live_for_users, users, self._clock.now())
        targets = plan_fanout(envelope, live)
        gone = await self._delivery.deliver(envelope.payload, targets) if targets else set()
        if gone:
            await asyncio.to_thread(self._connections.delete_many, gone)
            log.info("forgot %d gone connection(s)", len(gone))
        report = FanoutReport(delivered=len(targets) - len(gone), gone=tuple(sorted(gone)))
        log.info("delivered to %d connection(s) in %s", report.delivered, envelope.conversation_id)
        return report
