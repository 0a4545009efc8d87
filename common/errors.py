"""One exception tree; every class declares its stable wire ``code`` and HTTP status.

``error_frame`` and ``error_body`` are the only places an exception becomes a reply. The code
is found by walking the class hierarchy (a subclass inherits its parent's code), so an unknown
exception can only ever become ``internal_error``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SottoError(Exception):
    """Base of every error that may reach a client."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(SottoError):
    """Malformed JSON, or a field that is missing or of the wrong type or range."""

    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, **({"field": field} if field else {}))


class UnknownAction(SottoError):
    code = "unknown_action"
    http_status = 400


class Unauthorized(SottoError):
    """No token, or a token that does not verify. Raised only at the handshake."""

    code = "unauthorized"
    http_status = 401


class Forbidden(SottoError):
    """Not a member of the conversation, not the owner of the clip."""

    code = "forbidden"
    http_status = 403


class NotAMember(Forbidden):
    """Worded alike for a conversation that exists and one that does not, so ids cannot be
    probed."""

    def __init__(self) -> None:
        super().__init__("You are not a member of that conversation.")


class NotVerified(Forbidden):
    code = "not_verified"


class NotFound(SottoError):
    code = "not_found"
    http_status = 404


class ClipNotUploaded(SottoError):
    """The clip id is known but its file never reached storage."""

    code = "clip_not_uploaded"
    http_status = 409


class ClipRejected(SottoError):
    """The clip's file is not usable audio; ``reason`` says why (see chat.audio.Rejection)."""

    code = "clip_rejected"
    http_status = 422

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)


class TooLarge(SottoError):
    code = "too_large"
    http_status = 413


class RateLimited(SottoError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)


class TooManyConnections(SottoError):
    """Refused at ``$connect``: the user already has as many connections as allowed."""

    code = "too_many_connections"
    http_status = 429


class Conflict(SottoError):
    """A write lost a race more times than we retry; the client may simply retry."""

    code = "conflict"
    http_status = 409


class PushUnavailable(SottoError):
    """This deployment has no push service for the device's platform."""

    code = "push_unavailable"
    http_status = 503


INTERNAL_MESSAGE = "Something went wrong on our side; it has been logged."


def error_frame(exc: BaseException, request_id: str | int | None = None) -> dict[str, Any]:
    """The WebSocket ``error`` frame for any exception; internals never leak."""
    frame: dict[str, Any] = {"type": "error"}
    if request_id is not None:
        frame["requestId"] = request_id
    frame.update(error_body(exc))
    return frame


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{"code", "message", ...details}`` for an HTTP body or an error frame."""
    if isinstance(exc, SottoError):
        return {"code": exc.code, "message": exc.message, **exc.details}
    return {"code": SottoError.code, "message": INTERNAL_MESSAGE}


def http_status(exc: BaseException) -> int:
    return exc.http_status if isinstance(exc, SottoError) else SottoError.http_status
