"""The selfie screener: an uploaded selfie (S3 -> SQS) is hashed, shown to Rekognition and
triaged by the pure policy; the case moves and the result is audited. A selfie nobody needs (a
retry, one that was superseded, one that came when none was expected) is deleted at once."""

from __future__ import annotations

import hashlib

from common.clock import Clock
from common.logs import correlation, get_logger
from common.observability import VERIFICATION_OUTCOMES, count
from common.s3 import UploadedObject
from verification.errors import SelfieNotExpected
from verification.files import SelfieFiles, selfie_owner
from verification.model import Case, CaseState, RetryReason, Screening
from verification.policy import Thresholds, expect_selfie, screen, screened, selfie_arrived
from verification.rekognition import FaceDetector, UnreadableImage
from verification.service import Announce
from verification.store import CaseStore

log = get_logger("screening")


class SelfieScreener:
    def __init__(
        self,
        *,
        cases: CaseStore,
        files: SelfieFiles,
        detector: FaceDetector,
        announce: Announce,
        clock: Clock,
        max_bytes: int,
        thresholds: Thresholds | None = None,
    ) -> None:
        self._cases = cases
        self._files = files
        self._detector = detector
        self._announce = announce
        self._clock = clock
        self._max_bytes = max_bytes
        self._thresholds = thresholds or Thresholds()

    def process(self, upload: UploadedObject) -> None:
        user_id = selfie_owner(upload.key)
        if user_id is None:
            log.warning("ignored an object outside selfies/<user>/")
            return
        with correlation(userId=user_id):
            case = self._cases.case_of(user_id, self._clock.now())
            if case.selfie_key == upload.key:  # the same event again
                if case.state is not CaseState.SCREENING:
                    return  # screened already
                arrived: Case | None = case  # resume a screening that crashed
            else:
                arrived = self._arrive(case, upload)
            if arrived is None:
                return
            moved, entry = screened(arrived, self._screen(upload), self._clock.now())
            self._cases.change(moved, arrived.version, entry)
            if moved.state is CaseState.RETRY:
                self._files.delete(upload.key)
            log.info("selfie screened: %s %s", moved.state.value, moved.reason or "")
            count(VERIFICATION_OUTCOMES.get(moved.state.value, "SelfiesScreened"))
            self._announce(moved)

    def _arrive(self, case: Case, upload: UploadedObject) -> Case | None:
        """The case with this selfie under screening, or None (and the selfie deleted) when
        the case expects none."""
        try:
            expect_selfie(case)
        except SelfieNotExpected:
            log.info("deleted a selfie that came while the case was %s", case.state.value)
            self._files.delete(upload.key)
            return None
        digest = "" if self._too_large(upload) else self._digest(upload.key)
        arrived = selfie_arrived(case, upload.key, digest, self._clock.now())
        self._cases.change(arrived, case.version)
        if case.selfie_key is not None:
            self._files.delete(case.selfie_key)  # superseded while it was being screened
        return arrived

    def _screen(self, upload: UploadedObject) -> Screening:
        if self._too_large(upload):
            return Screening(CaseState.RETRY, RetryReason.TOO_LARGE, faces=0)
        try:
            faces = self._detector.detect(self._files.bucket, upload.key)
        except UnreadableImage:
            return Screening(CaseState.RETRY, RetryReason.UNREADABLE_IMAGE, faces=0)
        return screen(faces, self._thresholds)

    def _too_large(self, upload: UploadedObject) -> bool:
        """Storage may not enforce the grant's size (moto does not): S3's own size decides."""
        return upload.size > self._max_bytes

    def _digest(self, key: str) -> str:
        return hashlib.sha256(self._files.read(key, self._max_bytes)).hexdigest()
