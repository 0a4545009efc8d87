"""Verification's pure rules: screening on Rekognition-shaped answers (and blind to gender), and
how a case may move."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common.errors import BadRequest
from verification.errors import AppealUsed, NotReviewable, SelfieNotExpected
from verification.model import Case, CaseState, RetryReason
from verification.policy import appeal, decide, faces_in, screen, screened, selfie_arrived

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rekognition"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def selfie(**changes: Any) -> dict[str, Any]:
    """The good selfie's answer, with top-level keys of its one face replaced or removed."""
    response: dict[str, Any] = json.loads((FIXTURES / "selfie.json").read_text())
    face = response["FaceDetails"][0]
    for key, value in changes.items():
        if value is None:
            face.pop(key, None)
        else:
            face[key] = value
    return response


def verdict(response: dict[str, Any]) -> tuple[CaseState, RetryReason | None]:
    result = screen(faces_in(response))
    return result.state, result.reason


def test_one_clear_face_goes_to_a_moderator() -> None:
    result = screen(faces_in(selfie()))
    assert (result.state, result.reason, result.faces) == (CaseState.PENDING_REVIEW, None, 1)
    assert (result.brightness, result.sharpness) == (71.36, 78.64)


def test_gender_in_the_answer_changes_nothing() -> None:
    """AWS: gender prediction is not for deciding access. Screening never reads it."""
    female = faces_in(selfie())
    for gender in ({"Value": "Male", "Confidence": 99.9}, {"Value": "Male", "Confidence": 1.0}):
        assert faces_in(selfie(Gender=gender)) == female
    assert faces_in(selfie(Gender=None, AgeRange=None, Emotions=None)) == female
    for response in (selfie(Quality={"Brightness": 5.0, "Sharpness": 80.0}), selfie()):
        flipped = copy.deepcopy(response)
        flipped["FaceDetails"][0]["Gender"] = {"Value": "Male", "Confidence": 99.9}
        assert screen(faces_in(flipped)) == screen(faces_in(response))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Quality": {"Brightness": 70.0, "Sharpness": 12.0}}, RetryReason.BLURRY),
        ({"Quality": {"Brightness": 9.0, "Sharpness": 80.0}}, RetryReason.TOO_DARK),
        ({"Quality": {"Brightness": 98.5, "Sharpness": 80.0}}, RetryReason.TOO_BRIGHT),
        ({"EyesOpen": {"Value": False, "Confidence": 96.0}}, RetryReason.EYES_CLOSED),
        ({"Sunglasses": {"Value": True, "Confidence": 97.0}}, RetryReason.SUNGLASSES),
        ({"FaceOccluded": {"Value": True, "Confidence": 91.0}}, RetryReason.FACE_COVERED),
        ({"Pose": {"Roll": 0, "Yaw": 62.0, "Pitch": 4.0}}, RetryReason.NOT_FACING_CAMERA),
        (
            {"BoundingBox": {"Width": 0.09, "Height": 0.12, "Left": 0.4, "Top": 0.4}},
            RetryReason.FACE_TOO_SMALL,
        ),
    ],
)
def test_a_poor_selfie_asks_for_another_with_a_reason(
    changes: dict[str, Any], reason: RetryReason
) -> None:
    assert verdict(selfie(**changes)) == (CaseState.RETRY, reason)


def test_unsure_attributes_do_not_refuse_a_selfie() -> None:
    unsure = selfie(
        EyesOpen={"Value": False, "Confidence": 55.0},
        Sunglasses={"Value": True, "Confidence": 60.0},
        FaceOccluded=None,
    )
    assert verdict(unsure) == (CaseState.PENDING_REVIEW, None)


def test_no_face_several_faces_and_faces_in_the_background() -> None:
    assert verdict({"FaceDetails": []}) == (CaseState.RETRY, RetryReason.NO_FACE)
    face = selfie()["FaceDetails"][0]
    two = {"FaceDetails": [face, {**face, "BoundingBox": {"Width": 0.3, "Height": 0.35}}]}
    assert verdict(two) == (CaseState.RETRY, RetryReason.SEVERAL_FACES)
    poster = {**face, "BoundingBox": {"Width": 0.03, "Height": 0.04}}
    assert verdict({"FaceDetails": [face, poster]}) == (CaseState.PENDING_REVIEW, None)
    doubtful = {**face, "Confidence": 62.0}
    assert verdict({"FaceDetails": [doubtful]}) == (CaseState.RETRY, RetryReason.NO_FACE)


# ---- how a case moves -------------------------------------------------------------------------


def new_case() -> Case:
    return Case("u-1", CaseState.UNVERIFIED, NOW)


def in_queue() -> Case:
    case = selfie_arrived(new_case(), "selfies/u-1/s1", "ab" * 32, NOW)
    queued, _ = screened(case, screen(faces_in(selfie())), NOW + timedelta(seconds=2))
    return queued


def test_a_selfie_is_screened_and_queued_and_each_step_is_audited() -> None:
    arrived = selfie_arrived(new_case(), "selfies/u-1/s1", "ab" * 32, NOW)
    assert (arrived.state, arrived.selfie_key, arrived.version) == (
        CaseState.SCREENING,
        "selfies/u-1/s1",
        1,
    )
    later = NOW + timedelta(seconds=2)
    queued, entry = screened(arrived, screen(faces_in(selfie())), later)
    assert (queued.state, queued.submitted_at, queued.version) == (
        CaseState.PENDING_REVIEW,
        later,
        2,
    )
    assert (entry.actor, entry.action, entry.previous, entry.state, entry.version) == (
        "screening",
        "screened",
        CaseState.SCREENING,
        CaseState.PENDING_REVIEW,
        2,
    )


def test_a_retry_forgets_the_selfie_but_keeps_its_hash_and_takes_a_new_one() -> None:
    arrived = selfie_arrived(new_case(), "selfies/u-1/s1", "ab" * 32, NOW)
    dark = screen(faces_in(selfie(Quality={"Brightness": 3.0, "Sharpness": 80.0})))
    retry, entry = screened(arrived, dark, NOW)
    assert (retry.state, retry.reason, retry.selfie_key, retry.selfie_sha256) == (
        CaseState.RETRY,
        "too_dark",
        None,
        "ab" * 32,
    )
    assert entry.reason == "too_dark"
    again = selfie_arrived(retry, "selfies/u-1/s2", "cd" * 32, NOW)
    assert (again.state, again.selfie_key, again.reason) == (
        CaseState.SCREENING,
        "selfies/u-1/s2",
        None,
    )


def test_no_selfie_is_taken_while_a_moderator_has_the_case_or_after_the_decision() -> None:
    for case in (in_queue(), decide(in_queue(), "mod-1", True, None, NOW)[0]):
        with pytest.raises(SelfieNotExpected) as refused:
            selfie_arrived(case, "selfies/u-1/s9", "ef" * 32, NOW)
        assert refused.value.code == "invalid_state"


def test_a_decision_is_final_and_drops_the_selfie() -> None:
    approved, entry = decide(in_queue(), "mod-1", True, "  looks  fine ", NOW)
    assert (approved.state, approved.selfie_key, approved.decided_by, approved.reason) == (
        CaseState.APPROVED,
        None,
        "mod-1",
        "looks fine",
    )
    assert (entry.actor, entry.action, entry.previous) == (
        "mod-1",
        "approved",
        CaseState.PENDING_REVIEW,
    )
    with pytest.raises(NotReviewable):
        decide(approved, "mod-2", False, "changed my mind", NOW)
    with pytest.raises(BadRequest) as refused:
        decide(in_queue(), "mod-1", False, "   ", NOW)
    assert refused.value.details == {"field": "reason"}


def test_a_rejection_may_be_appealed_once() -> None:
    rejected, _ = decide(in_queue(), "mod-1", False, "not eligible", NOW)
    later = NOW + timedelta(days=1)
    back, entry = appeal(rejected, "Please look again", later)
    assert (back.state, back.appealed, back.submitted_at, back.decided_by) == (
        CaseState.PENDING_REVIEW,
        True,
        later,
        None,
    )
    assert (entry.actor, entry.action, entry.reason) == ("u-1", "appealed", "Please look again")
    rejected_again, _ = decide(back, "mod-2", False, "still not eligible", later)
    with pytest.raises(AppealUsed) as refused:
        appeal(rejected_again, "again", later)
    assert refused.value.code == "appeal_used"
    with pytest.raises(NotReviewable):
        appeal(in_queue(), "not decided yet", later)
