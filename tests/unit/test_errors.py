from __future__ import annotations

from common.errors import (
    BadRequest,
    Forbidden,
    NotVerified,
    RateLimited,
    SottoError,
    error_body,
    error_frame,
    http_status,
)


def test_a_domain_error_becomes_its_code_and_message() -> None:
    frame = error_frame(Forbidden("Not yours."), "r1")
    assert frame == {
        "type": "error",
        "requestId": "r1",
        "code": "forbidden",
        "message": "Not yours.",
    }


def test_details_travel_with_the_error() -> None:
    assert error_body(BadRequest("size must be positive", field="size"))["field"] == "size"
    assert error_body(RateLimited("slow down", retry_after=3))["retryAfter"] == 3


def test_a_subclass_keeps_its_parents_status_but_has_its_own_code() -> None:
    assert NotVerified.code == "not_verified"
    assert http_status(NotVerified("verify first")) == 403


def test_unknown_errors_become_internal_error_without_leaking() -> None:
    frame = error_frame(KeyError("secret-table-name"))
    assert frame["code"] == SottoError.code == "internal_error"
    assert "secret" not in frame["message"]
    assert "requestId" not in frame
    assert http_status(KeyError("x")) == 500
