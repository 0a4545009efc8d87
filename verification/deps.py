"""Composition root of the verification functions: built lazily, once per container."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from chat.store import UserDirectory
from common.clients import Clients
from common.clock import Clock, IdFactory, RandomIds, SystemClock
from common.runtime import once, process_clients
from verification.files import SelfieFiles
from verification.rekognition import FaceDetector
from verification.screening import SelfieScreener
from verification.service import SelfieLimits, VerificationService
from verification.store import CaseStore


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
    def files(self) -> SelfieFiles:
        return SelfieFiles(self.clients.s3, self.clients.settings.selfies_bucket)

    @functools.cached_property
    def screener(self) -> SelfieScreener:
        return SelfieScreener(
            cases=self.cases,
            files=self.files,
            detector=FaceDetector(self.clients.rekognition),
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
            sign_up=lambda caller, now: users.sign_up(caller.user_id, caller.username, now),
            clock=self.clock,
            ids=self.ids,
            limits=SelfieLimits(settings.max_selfie_bytes, settings.upload_url_ttl_seconds),
        )


def load() -> VerificationDeps:
    return once("verification", lambda: VerificationDeps(process_clients()))
