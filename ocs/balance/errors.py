"""Errors of the balance engine, in one place.

    BalanceError (ocs.errors.OcsError)   .outcome: the engine's outcome code
    +-- InvalidRequest      INVALID: a bad argument, caught before Redis; .field names it
    +-- BalanceUnavailable  Redis cannot be reached, or the connection dropped while a call was
    |                       in flight: its effect is unknown. Retry with the same operation id
    |                       (the store does so itself a bounded number of times).
    +-- ScriptFailed        Redis answered with an error: a bug or a misconfigured server

Business outcomes (NO_CREDIT, UNKNOWN_SESSION, ALREADY_EXISTS, ...) are not exceptions: they
are the ``outcome`` of the result objects in ``ocs.balance.model``. Redis errors become these
types at this boundary (``raise ... from exc``).
"""

from __future__ import annotations

from ocs.balance.model import Outcome
from ocs.errors import OcsError


class BalanceError(OcsError):
    """Base of the balance engine's errors; ``outcome`` is what the adapters map."""

    outcome: Outcome = Outcome.INVALID


class InvalidRequest(BalanceError):
    """A request the engine refuses before touching Redis; ``field`` names the argument."""

    outcome = Outcome.INVALID

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class BalanceUnavailable(BalanceError):
    """Redis is unreachable or the connection dropped mid-call (effect unknown: retry)."""

    outcome = Outcome.UNAVAILABLE


class ScriptFailed(BalanceError):
    """Redis returned an error for a command or script."""

    outcome = Outcome.UNAVAILABLE
