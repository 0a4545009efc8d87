"""Composition root of the verification functions: built lazily, once per container."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from chat.deps import ChatDeps
from chat.model import FanoutEnvelope, Notice, NoticeKind, UserProfile
from chat.outbound import compact
from chat.store import UserDirectory
from common.clients import Clients
from common.clock import Clock, IdFactory, RandomIds, SystemClock
from common.logs import get_logger
from common.runtime import once, process_clients
from verification.files import SelfieFiles
from verification.model import Case
from verification.rekognition import FaceDetector
from verification.screening import SelfieScreener
from verification.service import SelfieLimits, VerificationService
from verification.store import CaseStore
from verification.wire import verification_event

log = get_logger("verification")


@dataclass
class VerificationDeps:
    clients: Clients
    clock: Clock = field(default_factory=SystemClock)
    ids: IdFactory = field(default_factory=RandomIds)

    @functools.cached_property
    def cases(self) -> CaseStore:
        settings = self.clients.settings
        return CaseStore(
            self.clients.dynamodb,
            settings.verifications_table,
            settings.audit_table,
            settings.users_table,
        )

    @functools.cached_property
    def chat(self) -> ChatDeps:
        return ChatDeps(self.clients, clock=self.clock)

    def announce(self, case: Case) -> None:
        """The outcome as a ``verification`` event on the user's connections (through the
        fan-out, like any event), and a push when it reaches none of them."""
        envelope = FanoutEnvelope(
            f"verification#{case.user_id}",  # the ordering key: one user's outcomes in order
            "",
            compact(verification_event(case)),
            user_ids=(case.user_id,),
            notice=Notice(NoticeKind.VERIFICATION, case.state.value),
        )
        # Not a WebSocket request: the direct fan-out posts through the configured endpoint.
        endpoint = self.clients.settings.management_endpoint or ""
        try:
            self.chat.outbound.send(envelope, endpoint)
        except (ValueError, BotoCoreError, ClientError) as error:  # the decision stands
            log.warning("could not tell the user their case moved: %s", error)

    @functools.cached_property
    def files(self) -> SelfieFiles:
        return SelfieFiles(self.clients.s3, self.clients.settings.selfies_bucket)

    @functools.cached_property
    def screener(self) -> SelfieScreener:
        return SelfieScreener(
            cases=self.cases,
            files=self.files,
            detector=FaceDetector(self.clients.rekognition),
            announce=self.announce,
            clock=self.clock,
            max_bytes=self.clients.settings.max_selfie_bytes,
        )

    @functools.cached_property
    def verification(self) -> VerificationService:
        settings = self.clients.settings
        users = UserDirectory(self.clients.dynamodb, settings.users_table)
        return VerificationService(
            cases=self.cases,
            files=self.files,
            sign_up=lambda caller, now: users.sign_up(
                UserProfile.signing_up(caller.user_id, caller.username, caller.display_name), now
            ),
            names=lambda user_ids: {
                p.user_id: f"{p.display_name} ({p.username})"
                for p in users.get_many(list(user_ids)).values()
            },
            announce=self.announce,
            clock=self.clock,
            ids=self.ids,
            limits=SelfieLimits(settings.max_selfie_bytes, settings.upload_url_ttl_seconds),
        )


def load() -> VerificationDeps:
    return once("verification", lambda: VerificationDeps(process_clients()))
