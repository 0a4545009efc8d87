"""Verification use cases: a selfie upload for a user whose case expects one."""

from __future__ import annotations

from dataclasses import dataclass

from common.clock import Clock, IdFactory
from common.events import Caller
from verification.files import SelfieFiles, selfie_key
from verification.policy import expect_selfie
from verification.store import CaseStore
from verification.wire import SelfieGrant, SelfieRequest


@dataclass(frozen=True)
class SelfieLimits:
    max_bytes: int
    upload_url_ttl_seconds: int


class VerificationService:
    def __init__(
        self,
        *,
        cases: CaseStore,
        files: SelfieFiles,
        clock: Clock,
        ids: IdFactory,
        limits: SelfieLimits,
    ) -> None:
        self._cases = cases
        self._files = files
        self._clock = clock
        self._ids = ids
        self._limits = limits

    def request_selfie(self, caller: Caller, request: SelfieRequest) -> SelfieGrant:
        """Where to upload a selfie, if the case expects one (the first request opens it)."""
        expect_selfie(self._cases.case_of(caller.user_id, self._clock.now()))
        selfie_id = self._ids.new("s")
        url, fields = self._files.upload_grant(
            selfie_key(caller.user_id, selfie_id),
            request.content_type,
            min(request.size, self._limits.max_bytes),
            self._limits.upload_url_ttl_seconds,
        )
        return SelfieGrant(selfie_id, url, fields)
