"""Verification use cases: a user's selfie upload, status and appeal; the moderators' queue,
case view and decision."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from common.clock import Clock, IdFactory
from common.errors import NotFound
from common.events import Caller
from common.logs import get_logger
from common.observability import VERIFICATION_OUTCOMES, count
from verification.errors import CaseChanged
from verification.files import SelfieFiles, selfie_key
from verification.model import AuditEntry, Case, CaseState
from verification.policy import appeal, decide, expect_selfie
from verification.store import CaseStore
from verification.wire import SelfieGrant, SelfieRequest

log = get_logger("verification")

# Gives a user who has none a profile (their first request may come before any connection).
SignUp = Callable[[Caller, datetime], None]
# Tells the user their case moved: an event on their connections, else a push.
Announce = Callable[[Case], None]
# Users' names (user id -> "Display name (username)") for moderators to know who is who.
Names = Callable[[Sequence[str]], dict[str, str]]


@dataclass(frozen=True)
class SelfieLimits:
    max_bytes: int
    upload_url_ttl_seconds: int
    view_url_ttl_seconds: int = 120  # a moderator's link to a selfie: minutes, not hours


@dataclass(frozen=True)
class CaseView:
    """What a moderator sees of a case: the case, its history, and the selfie while it may."""

    case: Case
    name: str | None
    history: list[AuditEntry]
    selfie_url: str | None


class VerificationService:
    def __init__(
        self,
        *,
        cases: CaseStore,
        files: SelfieFiles,
        sign_up: SignUp,
        announce: Announce,
        names: Names,
        clock: Clock,
        ids: IdFactory,
        limits: SelfieLimits,
    ) -> None:
        self._cases = cases
        self._files = files
        self._sign_up = sign_up
        self._announce = announce
        self._names = names
        self._clock = clock
        self._ids = ids
        self._limits = limits

    # ---- the user -----------------------------------------------------------------------

    def request_selfie(self, caller: Caller, request: SelfieRequest) -> SelfieGrant:
        """Where to upload a selfie, if the case expects one (the first request opens it)."""
        now = self._clock.now()
        self._sign_up(caller, now)
        expect_selfie(self._cases.case_of(caller.user_id, now))
        selfie_id = self._ids.new("s")
        url, fields = self._files.upload_grant(
            selfie_key(caller.user_id, selfie_id),
            request.content_type,
            min(request.size, self._limits.max_bytes),
            self._limits.upload_url_ttl_seconds,
        )
        return SelfieGrant(selfie_id, url, fields)

    def status(self, caller: Caller) -> Case:
        return self._cases.case_of(caller.user_id, self._clock.now())

    def appeal(self, caller: Caller, message: str | None) -> Case:
        case = self._cases.case_of(caller.user_id, self._clock.now())
        moved, entry = appeal(case, message, self._clock.now())
        self._cases.change(moved, case.version, entry)
        log.info("a rejected user appealed; the case is back in the queue")
        return moved

    # ---- moderators ---------------------------------------------------------------------

    def queue(
        self, limit: int, after: tuple[datetime, str] | None
    ) -> tuple[list[tuple[Case, str | None]], tuple[datetime, str] | None]:
        """A page of the queue, each case with its user's name."""
        cases, following = self._cases.queue(limit, after)
        names = self._names([c.user_id for c in cases]) if cases else {}
        return [(c, names.get(c.user_id)) for c in cases], following

    def open_case(self, user_id: str) -> CaseView:
        """The case with its history, and a short-lived link to the selfie while the case is
        waiting for a decision (never after: by then the selfie is gone)."""
        case = self._require(user_id)
        url = None
        if case.state is CaseState.PENDING_REVIEW and case.selfie_key is not None:
            url = self._files.view_url(case.selfie_key, self._limits.view_url_ttl_seconds)
        name = self._names([user_id]).get(user_id)
        return CaseView(case, name, self._cases.history(user_id), url)

    def decide(
        self, moderator: Caller, user_id: str, version: int, approve: bool, reason: str | None
    ) -> Case:
        """A decision on the case as the moderator saw it (``version``); final, audited, and
        the selfie deleted, keeping only its hash."""
        case = self._require(user_id)
        if case.version != version:
            raise CaseChanged()
        moved, entry = decide(case, moderator.user_id, approve, reason, self._clock.now())
        self._cases.change(moved, case.version, entry)
        if case.selfie_key is not None:
            self._files.delete(case.selfie_key)
        log.info("case decided: %s", moved.state.value)
        count(VERIFICATION_OUTCOMES[moved.state.value])
        self._announce(moved)
        return moved

    def _require(self, user_id: str) -> Case:
        case = self._cases.get(user_id)
        if case is None:
            raise NotFound("No verification case for that user.")
        return case
