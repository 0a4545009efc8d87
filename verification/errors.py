"""Verification's refusals, in the one exception tree (``common.errors``)."""

from __future__ import annotations

from common.errors import Conflict, SottoError
from verification.model import CaseState


class InvalidState(SottoError):
    """The case is not in a state that allows this."""

    code = "invalid_state"
    http_status = 409

    def __init__(self, message: str, state: CaseState) -> None:
        super().__init__(message, state=state.value)


class NotReviewable(InvalidState):
    """Not waiting for this step: decided already (by another moderator, say), or not yet
    in the queue."""

    def __init__(self, state: CaseState) -> None:
        super().__init__("That case is not waiting for this step.", state)


class SelfieNotExpected(InvalidState):
    def __init__(self, state: CaseState) -> None:
        super().__init__(
            "A selfie is not expected now: the case is with a moderator or decided.", state
        )


class AppealUsed(InvalidState):
    code = "appeal_used"

    def __init__(self) -> None:
        super().__init__("A rejection can be appealed once, and it was.", CaseState.REJECTED)


class CaseChanged(Conflict):
    """Someone else changed the case between our read and our write (two moderators deciding
    at once): the loser is told, the winner's decision stands."""

    def __init__(self) -> None:
        super().__init__("That case changed meanwhile: reload it.")
