"""Composition root of the analytics functions."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from botocore.exceptions import ClientError

from analytics.changes import Source, Sources
from analytics.export import ParquetExporter
from analytics.live_log import LiveEventLog
from analytics.pseudonym import Pseudonyms, pseudonyms_for
from analytics.snapshot import LiveSnapshot
from common.clients import Clients
from common.clock import Clock, SystemClock
from common.logs import get_logger
from common.runtime import once, process_clients
from common.settings import Settings
from connections.store import PresenceStore

log = get_logger("analytics")

DEAD_LETTER_SUFFIX = "-dlq"
_DEPTH_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass
class AnalyticsDeps:
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)

    @property
    def settings(self) -> Settings:
        return self.clients.settings

    @functools.cached_property
    def pseudonyms(self) -> Pseudonyms:
        return pseudonyms_for(self.settings)

    @functools.cached_property
    def exporter(self) -> ParquetExporter:
        return ParquetExporter(self.clients.s3, self.settings.analytics_bucket)

    @functools.cached_property
    def sources(self) -> Sources:
        s = self.settings
        return Sources(
            {
                s.users_table: Source.USERS,
                s.connections_table: Source.CONNECTIONS,
                s.messages_table: Source.MESSAGES,
                s.clips_table: Source.CLIPS,
                s.audit_table: Source.AUDIT,
            }
        )

    @functools.cached_property
    def live_log(self) -> LiveEventLog:
        s = self.settings
        return LiveEventLog(self.clients.redis, s.redis_namespace, s.analytics_log_max_entries)

    @functools.cached_property
    def snapshot(self) -> LiveSnapshot:
        return LiveSnapshot(
            presence=PresenceStore(self.clients.redis, self.settings.redis_namespace),
            log_=self.live_log,
            queue_depths=self.queue_depths,
            pseudonyms=self.pseudonyms,
        )

    def queue_depths(self) -> Mapping[str, tuple[int, int, int]]:
        """The work queues and their dead-letter queues, by name; one that cannot be read
        (not there, no permission) is left out of the snapshot."""
        s = self.settings
        names = [s.uploads_queue, s.push_queue, s.selfie_uploads_queue]
        depths = {}
        for name in [*names, *(n + DEAD_LETTER_SUFFIX for n in names)]:
            try:
                url = self.clients.sqs.get_queue_url(QueueName=name)["QueueUrl"]
                got = self.clients.sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES)
                )["Attributes"]
            except ClientError as error:
                log.warning("queue %s left out of the snapshot: %s", name, error)
                continue
            depths[name] = (
                int(got.get("ApproximateNumberOfMessages", "0")),
                int(got.get("ApproximateNumberOfMessagesNotVisible", "0")),
                int(got.get("ApproximateNumberOfMessagesDelayed", "0")),
            )
        return depths


def load() -> AnalyticsDeps:
    return once("analytics", lambda: AnalyticsDeps(process_clients()))
