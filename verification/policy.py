"""Verification's pure rules: what screening reads of a DetectFaces answer, how it triages a
selfie, and how a case may move. Functions of values: no I/O.

AWS says of Rekognition's gender prediction that it "is not designed to categorize a person's
gender identity" and should not decide access to a service. Screening therefore reads only
whether there is one clear, real face to review; who may join is a moderator's decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from common.errors import BadRequest
from verification.errors import AppealUsed, NotReviewable, SelfieNotExpected
from verification.model import (
    AuditEntry,
    Case,
    CaseState,
    Face,
    Likely,
    RetryReason,
    Screening,
)

SCREENING_ACTOR = "screening"
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class Thresholds:
    """What makes a selfie reviewable. Rekognition's quality figures run from 0 to 100."""

    min_face_confidence: float = 90.0  # below this a "face" is not counted at all
    min_face_width: float = 0.15  # of the image: a selfie's face fills a good part of it
    background_face_width: float = 0.05  # smaller faces (a poster, a passer-by) are ignored
    min_sharpness: float = 30.0
    min_brightness: float = 25.0
    max_brightness: float = 95.0
    max_yaw: float = 35.0
    max_pitch: float = 30.0
    attribute_confidence: float = 80.0  # how sure Rekognition must be of sunglasses and the like


# ---- reading Rekognition --------------------------------------------------------------------


def faces_in(response: Mapping[str, Any]) -> list[Face]:
    """The faces of a DetectFaces answer, read key by key. Gender, age range, emotions and the
    rest are never read, whatever the answer holds."""
    return [_face(detail) for detail in response.get("FaceDetails", [])]


def _face(detail: Mapping[str, Any]) -> Face:
    box = detail.get("BoundingBox", {})
    quality = detail.get("Quality", {})
    pose = detail.get("Pose", {})
    return Face(
        confidence=float(detail.get("Confidence", 0.0)),
        width=float(box.get("Width", 0.0)),
        height=float(box.get("Height", 0.0)),
        brightness=float(quality.get("Brightness", 0.0)),
        sharpness=float(quality.get("Sharpness", 0.0)),
        yaw=float(pose.get("Yaw", 0.0)),
        pitch=float(pose.get("Pitch", 0.0)),
        eyes_open=_likely(detail.get("EyesOpen")),
        sunglasses=_likely(detail.get("Sunglasses")),
        occluded=_likely(detail.get("FaceOccluded")),
    )


def _likely(attribute: Mapping[str, Any] | None) -> Likely | None:
    if not attribute or "Value" not in attribute:
        return None
    return Likely(bool(attribute["Value"]), float(attribute.get("Confidence", 0.0)))


# ---- screening --------------------------------------------------------------------------------


def screen(faces: Sequence[Face], limits: Thresholds = Thresholds()) -> Screening:
    """One real, clear face goes to a moderator; anything else asks the user for another
    selfie, with the first reason that applies."""
    counted = [
        f
        for f in faces
        if f.confidence >= limits.min_face_confidence and f.width >= limits.background_face_width
    ]
    if not counted:
        return Screening(CaseState.RETRY, RetryReason.NO_FACE, faces=0)
    if len(counted) > 1:
        return Screening(CaseState.RETRY, RetryReason.SEVERAL_FACES, faces=len(counted))
    face = counted[0]
    reason = _quality_problem(face, limits)
    state = CaseState.RETRY if reason else CaseState.PENDING_REVIEW
    return Screening(state, reason, 1, brightness=face.brightness, sharpness=face.sharpness)


def _quality_problem(face: Face, limits: Thresholds) -> RetryReason | None:
    sure = limits.attribute_confidence
    checks = (
        (face.width < limits.min_face_width, RetryReason.FACE_TOO_SMALL),
        (
            abs(face.yaw) > limits.max_yaw or abs(face.pitch) > limits.max_pitch,
            RetryReason.NOT_FACING_CAMERA,
        ),
        (face.sharpness < limits.min_sharpness, RetryReason.BLURRY),
        (face.brightness < limits.min_brightness, RetryReason.TOO_DARK),
        (face.brightness > limits.max_brightness, RetryReason.TOO_BRIGHT),
        (_says(face.sunglasses, True, sure), RetryReason.SUNGLASSES),
        (_says(face.occluded, True, sure), RetryReason.FACE_COVERED),
        (_says(face.eyes_open, False, sure), RetryReason.EYES_CLOSED),
    )
    return next((reason for failed, reason in checks if failed), None)


def _says(attribute: Likely | None, value: bool, confidence: float) -> bool:
    return attribute is not None and attribute.value is value and attribute.confidence >= confidence


# ---- how a case moves -------------------------------------------------------------------------


def expect_selfie(case: Case) -> None:
    """A selfie is welcome before a moderator has the case: not while they do, nor after."""
    if case.state not in {CaseState.UNVERIFIED, CaseState.RETRY, CaseState.SCREENING}:
        raise SelfieNotExpected(case.state)


def selfie_arrived(case: Case, key: str, sha256: str, now: datetime) -> Case:
    """A new selfie starts screening, unless the case is with a moderator or decided. It
    supersedes a selfie that was still being screened."""
    expect_selfie(case)
    return replace(
        case,
        state=CaseState.SCREENING,
        selfie_key=key,
        selfie_sha256=sha256,
        screening=None,
        reason=None,
        updated_at=now,
        version=case.version + 1,
    )


def screened(case: Case, result: Screening, now: datetime) -> tuple[Case, AuditEntry]:
    """The machine's triage lands: a retry (the selfie is no longer needed) or the queue."""
    if case.state is not CaseState.SCREENING:
        raise NotReviewable(case.state)
    retry = result.state is CaseState.RETRY
    moved = replace(
        case,
        state=result.state,
        screening=result,
        selfie_key=None if retry else case.selfie_key,
        submitted_at=case.submitted_at if retry else now,
        reason=result.reason.value if result.reason else None,
        updated_at=now,
        version=case.version + 1,
    )
    return moved, _entry(case, moved, SCREENING_ACTOR, "screened", now)


def decide(
    case: Case, moderator: str, approve: bool, reason: str | None, now: datetime
) -> tuple[Case, AuditEntry]:
    """A moderator's decision on a case in the queue; a rejection says why. Final: the selfie
    goes (the caller deletes the object; only its hash stays)."""
    if case.state is not CaseState.PENDING_REVIEW:
        raise NotReviewable(case.state)
    why = _reason(reason, required=not approve)
    moved = replace(
        case,
        state=CaseState.APPROVED if approve else CaseState.REJECTED,
        selfie_key=None,
        decided_by=moderator,
        reason=why,
        updated_at=now,
        version=case.version + 1,
    )
    return moved, _entry(case, moved, moderator, moved.state.value, now)


def appeal(case: Case, message: str | None, now: datetime) -> tuple[Case, AuditEntry]:
    """A rejected user may ask once for another look: the case goes back in the queue."""
    if case.state is not CaseState.REJECTED:
        raise NotReviewable(case.state)
    if case.appealed:
        raise AppealUsed()
    moved = replace(
        case,
        state=CaseState.PENDING_REVIEW,
        appealed=True,
        submitted_at=now,
        decided_by=None,
        reason=_reason(message, required=False),
        updated_at=now,
        version=case.version + 1,
    )
    return moved, _entry(case, moved, case.user_id, "appealed", now)


def _reason(text: str | None, *, required: bool) -> str | None:
    cleaned = " ".join((text or "").split())
    if required and not cleaned:
        raise BadRequest("A rejection needs a reason.", field="reason")
    if len(cleaned) > MAX_REASON_LENGTH:
        raise BadRequest(f"reason is longer than {MAX_REASON_LENGTH} characters.", field="reason")
    return cleaned or None


def _entry(before: Case, after: Case, actor: str, action: str, now: datetime) -> AuditEntry:
    return AuditEntry(
        user_id=after.user_id,
        at=now,
        actor=actor,
        action=action,
        previous=before.state,
        state=after.state,
        version=after.version,
        reason=after.reason,
    )
