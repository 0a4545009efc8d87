"""Verification's domain values: frozen, plain, no I/O.

A user's case moves through these states (see ``verification.policy`` for who moves it):

    unverified -> screening -> retry (the app asks for another selfie)
                            -> pending_review -> approved | rejected
    rejected -(appeal, once)-> pending_review

Only ``approved`` users may chat. Screening (Rekognition) looks at the photo's quality, never at
who the person is: eligibility is a moderator's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CaseState(StrEnum):
    UNVERIFIED = "unverified"  # signed up, no selfie yet
    SCREENING = "screening"  # a selfie arrived, the machine is looking at it
    RETRY = "retry"  # the selfie cannot be reviewed: the user sends another
    PENDING_REVIEW = "pending_review"  # in the moderators' queue
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self in {CaseState.APPROVED, CaseState.REJECTED}


class RetryReason(StrEnum):
    """Why a selfie cannot be reviewed, in words the app can show."""

    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    BLURRY = "blurry"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    EYES_CLOSED = "eyes_closed"
    FACE_TOO_SMALL = "face_too_small"
    SUNGLASSES = "sunglasses"
    FACE_COVERED = "face_covered"
    NOT_FACING_CAMERA = "not_facing_camera"
    UNREADABLE_IMAGE = "unreadable_image"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class Likely:
    """A yes/no attribute as Rekognition reports it: the answer and its confidence (0-100)."""

    value: bool
    confidence: float


@dataclass(frozen=True)
class Face:
    """What screening may look at in one detected face: where it is, how well it can be seen.

    Deliberately nothing about who the person is: no gender, no age, no emotions."""

    confidence: float
    width: float  # of the bounding box, as a fraction of the image
    height: float
    brightness: float  # 0-100
    sharpness: float  # 0-100
    yaw: float = 0.0  # degrees; 0 is facing the camera
    pitch: float = 0.0
    eyes_open: Likely | None = None
    sunglasses: Likely | None = None
    occluded: Likely | None = None


@dataclass(frozen=True)
class Screening:
    """The machine's triage of a selfie: fit for a moderator to review, or ask for another."""

    state: CaseState  # RETRY or PENDING_REVIEW
    reason: RetryReason | None  # why a retry; None when it goes to review
    faces: int
    brightness: float | None = None  # of the face, for the moderator
    sharpness: float | None = None


@dataclass(frozen=True)
class Case:
    """One user's verification: the current state and the selfie that is under way."""

    user_id: str
    state: CaseState
    updated_at: datetime
    version: int = 0  # bumped by every change: two moderators cannot both decide
    selfie_key: str | None = None  # deleted (None) once the decision is final
    selfie_sha256: str | None = None  # kept, so the case can show which selfie was judged
    screening: Screening | None = None
    submitted_at: datetime | None = None  # when it entered the queue: the queue's order
    appealed: bool = False
    decided_by: str | None = None
    reason: str | None = None  # the moderator's reason, or the screening's retry reason


@dataclass(frozen=True)
class AuditEntry:
    """One change of a case, as it happened: never updated, never deleted."""

    user_id: str
    at: datetime
    actor: str  # "screening" for the machine, else the moderator's user id
    action: str  # screened | approved | rejected | appealed
    previous: CaseState
    state: CaseState
    version: int  # the case's version after the change: one entry per change, in order
    reason: str | None = None
