"""Cases and their audit trail on moto: one transaction per change, two moderators cannot both
decide, the queue oldest first with paging, audit entries written once and never changed; and
the Rekognition adapter, stubbed at the client with answers shaped like the real API."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from chat.model import UserProfile
from chat.store import UserDirectory
from common.clients import Clients
from common.errors import NotFound
from tests.functional.conftest import AtomicRequests
from verification.errors import CaseChanged
from verification.model import Case, CaseState, RetryReason
from verification.policy import decide, faces_in, screen, screened, selfie_arrived
from verification.rekognition import ATTRIBUTES, FaceDetector, UnreadableImage
from verification.store import AuditEntryExists, CaseStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SELFIE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "rekognition" / "selfie.json").read_text()
)


@pytest.fixture
def store(aws: Clients) -> CaseStore:
    settings = aws.settings
    return CaseStore(
        aws.dynamodb, settings.verifications_table, settings.audit_table, settings.users_table
    )


def queued(store: CaseStore, user_id: str, at: datetime) -> Case:
    """A signed-up user's case taken through a selfie and screening into the queue."""
    users = UserDirectory(store._client, store._users)
    users.ensure(UserProfile(user_id, user_id, user_id), at)
    case = Case(user_id, CaseState.UNVERIFIED, at)
    assert store.open(case)
    arrived = selfie_arrived(case, f"selfies/{user_id}/s1", "ab" * 32, at)
    store.change(arrived, case.version)
    waiting, entry = screened(arrived, screen(faces_in(SELFIE)), at)
    store.change(waiting, arrived.version, entry)
    return waiting


def test_a_case_is_opened_once_and_read_back_whole(store: CaseStore) -> None:
    case = queued(store, "u-1", NOW)
    assert store.open(Case("u-1", CaseState.UNVERIFIED, NOW)) is False
    assert store.get("u-1") == case
    assert store.get("nobody") is None


def test_two_moderators_cannot_both_decide_one_case(aws: Clients) -> None:
    settings = aws.settings
    atomic = AtomicRequests(aws.dynamodb)  # DynamoDB's per-request atomicity, which moto lacks
    store = CaseStore(
        atomic,  # type: ignore[arg-type]
        settings.verifications_table,
        settings.audit_table,
        settings.users_table,
    )
    case = queued(store, "u-1", NOW)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def moderator(name: str, approve: bool) -> None:
        read = store.get("u-1")
        assert read is not None
        decided, entry = decide(read, name, approve, None if approve else "no", NOW)
        start.wait()
        try:
            store.change(decided, read.version, entry)
            outcomes.append(f"{name} decided")
        except CaseChanged as lost:
            outcomes.append(f"{name} was {lost.code}")

    threads = [
        threading.Thread(target=moderator, args=("mod-1", True)),
        threading.Thread(target=moderator, args=("mod-2", False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(o.split(maxsplit=1)[1] for o in outcomes) == ["decided", "was conflict"]
    final = store.get("u-1")
    assert final is not None and final.version == case.version + 1
    decisions = [e for e in store.history("u-1") if e.actor.startswith("mod-")]
    assert len(decisions) == 1 and decisions[0].state is final.state
    assert final.decided_by == decisions[0].actor


def test_the_queue_is_oldest_first_and_pages(store: CaseStore) -> None:
    for i, user in enumerate(["u-c", "u-a", "u-d", "u-b"]):
        queued(store, user, NOW + timedelta(minutes=[3, 1, 4, 2][i]))
    decided, entry = decide(queued(store, "u-e", NOW), "mod-1", True, None, NOW)
    store.change(decided, decided.version - 1, entry)

    first, following = store.queue(limit=3)
    assert [c.user_id for c in first] == ["u-a", "u-b", "u-c"]  # u-e is decided: not queued
    assert following is not None
    rest, following = store.queue(limit=3, after=following)
    assert [c.user_id for c in rest] == ["u-d"]
    assert following is None or store.queue(limit=3, after=following)[0] == []


def test_audit_entries_are_written_once_and_never_changed(store: CaseStore) -> None:
    waiting = queued(store, "u-1", NOW)
    [entry] = store.history("u-1")
    assert (entry.action, entry.state, entry.reason) == ("screened", CaseState.PENDING_REVIEW, None)

    # A change that tries to write the same audit entry again is refused whole: neither the
    # entry nor the case changes.
    decided, _ = decide(waiting, "mod-1", False, "not eligible", NOW)
    with pytest.raises(AuditEntryExists):
        store.change(decided, waiting.version, entry.__class__(**{**entry.__dict__}))
    assert store.history("u-1") == [entry]
    assert store.get("u-1") == waiting
    # The store has no way to update or delete an entry.
    assert not [name for name in dir(store) if name.startswith(("update", "delete", "remove"))]


def test_a_retry_and_its_reason_are_audited(store: CaseStore) -> None:
    case = Case("u-1", CaseState.UNVERIFIED, NOW)
    store.open(case)
    arrived = selfie_arrived(case, "selfies/u-1/s1", "ab" * 32, NOW)
    store.change(arrived, case.version)
    dark = {
        "FaceDetails": [
            {**SELFIE["FaceDetails"][0], "Quality": {"Brightness": 4.0, "Sharpness": 80.0}}
        ]
    }
    retry, entry = screened(arrived, screen(faces_in(dark)), NOW)
    store.change(retry, arrived.version, entry)
    stored = store.get("u-1")
    assert stored is not None and stored.screening is not None
    assert (stored.state, stored.screening.reason, stored.selfie_key) == (
        CaseState.RETRY,
        RetryReason.TOO_DARK,
        None,
    )
    assert [(e.action, e.reason) for e in store.history("u-1")] == [("screened", "too_dark")]


# ---- the Rekognition adapter --------------------------------------------------------------------


def test_detect_faces_asks_for_no_gender_and_reads_the_answer() -> None:
    client = boto3.client("rekognition", region_name="us-east-1")
    expected = {
        "Image": {"S3Object": {"Bucket": "selfies", "Name": "selfies/u-1/s1"}},
        "Attributes": ATTRIBUTES,
    }
    answer = {k: v for k, v in SELFIE.items() if k != "ResponseMetadata"}
    with Stubber(client) as stub:
        stub.add_response("detect_faces", answer, expected)
        faces = FaceDetector(client).detect("selfies", "selfies/u-1/s1")
        stub.assert_no_pending_responses()
    assert "GENDER" not in ATTRIBUTES and "ALL" not in ATTRIBUTES
    assert faces == faces_in(SELFIE)


def test_a_file_rekognition_cannot_read_is_unreadable() -> None:
    client = boto3.client("rekognition", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("detect_faces", "InvalidImageFormatException", http_status_code=400)
        with pytest.raises(UnreadableImage):
            FaceDetector(client).detect("selfies", "selfies/u-1/s1")


def test_a_decision_sets_the_users_verified_flag_in_the_same_transaction(
    store: CaseStore, aws: Clients
) -> None:
    users = UserDirectory(aws.dynamodb, aws.settings.users_table)
    waiting = queued(store, "u-1", NOW)
    approved, entry = decide(waiting, "mod-1", True, None, NOW)
    store.change(approved, waiting.version, entry)
    profile = users.get("u-1")
    assert profile is not None and profile.verified

    # No profile, no decision: nothing of it lands.
    orphan = queued(store, "u-2", NOW)
    aws.dynamodb.delete_item(TableName=aws.settings.users_table, Key={"userId": {"S": "u-2"}})
    rejected, entry = decide(orphan, "mod-1", False, "no", NOW)
    with pytest.raises(NotFound):
        store.change(rejected, orphan.version, entry)
    assert store.get("u-2") == orphan
    assert [e.action for e in store.history("u-2")] == ["screened"]
