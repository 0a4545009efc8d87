"""Group roles, the send rate limit's arithmetic and the connection rules: pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat.logic import rate_decision
from chat.membership import (
    check_may_add,
    check_may_remove,
    check_may_set_role,
    check_title,
    new_members,
    successor,
)
from chat.model import Member, Role
from common.errors import BadRequest, Forbidden, TooManyConnections
from connections.logic import allowed_origins, check_connection_cap, check_origin

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = Member("o", Role.OWNER, T0)
ADMIN = Member("a", Role.ADMIN, T0 + timedelta(minutes=1))
MEMBER = Member("m", Role.MEMBER, T0 + timedelta(minutes=2))


def test_only_owners_and_admins_add() -> None:
    check_may_add(OWNER)
    check_may_add(ADMIN)
    with pytest.raises(Forbidden):
        check_may_add(MEMBER)


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (OWNER, ADMIN, True),
        (OWNER, MEMBER, True),
        (ADMIN, MEMBER, True),
        (ADMIN, OWNER, False),
        (ADMIN, Member("a2", Role.ADMIN, T0), False),
        (MEMBER, Member("m2", Role.MEMBER, T0), False),
    ],
)
def test_who_may_remove_whom(actor: Member, target: Member, allowed: bool) -> None:
    if allowed:
        check_may_remove(actor, target)
    else:
        with pytest.raises(Forbidden):
            check_may_remove(actor, target)


def test_removing_yourself_is_leaving() -> None:
    with pytest.raises(BadRequest):
        check_may_remove(OWNER, OWNER)


def test_only_the_owner_sets_roles_and_not_its_own_or_to_the_same() -> None:
    check_may_set_role(OWNER, MEMBER, Role.ADMIN)
    with pytest.raises(Forbidden):
        check_may_set_role(ADMIN, MEMBER, Role.ADMIN)
    with pytest.raises(BadRequest):
        check_may_set_role(OWNER, OWNER, Role.ADMIN)
    with pytest.raises(BadRequest):
        check_may_set_role(OWNER, ADMIN, Role.ADMIN)


def test_titles_are_trimmed_and_bounded() -> None:
    assert check_title("  The \n Band ") == "The Band"
    for bad in ("   ", "x" * 101):
        with pytest.raises(BadRequest):
            check_title(bad)


def test_new_members_skips_the_present_and_the_actor_and_respects_room() -> None:
    assert new_members(["b", "c", "b", "o", "m"], ["m"], 5, "o") == ["b", "c"]
    with pytest.raises(BadRequest):
        new_members(["b", "c"], [], 1, "o")


def test_the_longest_standing_admin_inherits_else_the_longest_standing_member() -> None:
    late_admin = Member("late", Role.ADMIN, T0 + timedelta(hours=1))
    assert successor([OWNER, MEMBER, late_admin, ADMIN], "o") == ADMIN
    assert (
        successor([OWNER, MEMBER, Member("n", Role.MEMBER, T0 + timedelta(hours=2))], "o") == MEMBER
    )
    assert successor([OWNER], "o") is None


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "expected"),
    [
        (0, 10, 30, None),  # within the limit
        (0, 11, 30, 36),  # this window alone is over: 30 s to the next, then 6 s of fading
        (10, 1, 0, 6),  # the last window weighs fully at first, and fades
        (10, 1, 6, None),  # ...until enough of it has faded
        (5, 5, 30, None),
    ],
)
def test_the_sliding_window_allows_or_says_how_long_to_wait(
    previous: int, current: int, elapsed: float, expected: int | None
) -> None:
    assert rate_decision(previous, current, elapsed, limit=10, window=60) == expected


def test_waiting_as_long_as_told_is_enough() -> None:
    for previous, current, elapsed in [(10, 1, 0), (3, 11, 30), (20, 5, 15)]:
        wait = rate_decision(previous, current, elapsed, limit=10, window=60)
        assert wait is not None
        later = elapsed + wait
        if later < 60:
            assert rate_decision(previous, current, later, limit=10, window=60) is None
        else:  # the next window: this one's count (without the refused send) is its past
            assert rate_decision(current - 1, 1, later - 60, limit=10, window=60) is None


def test_browsers_need_an_allowed_origin_and_native_clients_none() -> None:
    allowed = allowed_origins("https://app.sotto.chat/, http://localhost:5173")
    check_origin(None, allowed)
    check_origin("https://APP.sotto.chat", allowed)
    check_origin("http://localhost:5173", allowed)
    with pytest.raises(Forbidden):
        check_origin("https://evil.example", allowed)
    with pytest.raises(Forbidden):
        check_origin("https://app.sotto.chat", allowed_origins(None))
    check_origin("https://anything.example", allowed_origins("*"))


def test_the_connection_cap_counts_the_open_ones() -> None:
    check_connection_cap(9, 10)
    with pytest.raises(TooManyConnections):
        check_connection_cap(10, 10)
