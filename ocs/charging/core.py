"""The charging core: one protocol-neutral decision per credit-control request.

Diameter Gy/Ro and gRPC both call :meth:`ChargingCore.handle` with a
:class:`~ocs.charging.types.ChargingRequest` and translate the
:class:`~ocs.charging.types.ChargingResult` back. A session request (INITIAL,
UPDATE, TERMINATE) is one balance-engine call that commits the used units of
every rating group, releases what is left of their holdings and reserves the
next grants; EVENT requests are handled by :mod:`ocs.charging.events`.

Exceptions: :class:`ChargingUnavailable` when the balance store cannot be
reached (adapters answer TOO_BUSY / UNAVAILABLE so the client fails over).
Everything else a client can cause is answered with a result code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ocs.balance.errors import BalanceError, BalanceUnavailable
from ocs.balance.model import Outcome, SessionOp, SessionResult
from ocs.balance.model import RequestType as BalanceRequestType
from ocs.balance.store import BalanceStore
from ocs.charging.events import EventHandler
from ocs.charging.metrics import record_units
from ocs.charging.plan import PlannedItem, answer_item, plan_item
from ocs.charging.profiles import Profile, Profiles
from ocs.charging.types import (
    ChargingRequest,
    ChargingResult,
    ItemAnswer,
    RequestType,
    ResultCode,
)
from ocs.errors import OcsError
from ocs.policy.catalog import Catalog
from ocs.policy.periods import bill_period

Clock = Callable[[], int]
"""Epoch milliseconds."""

_BALANCE_TYPES = {
    RequestType.INITIAL: BalanceRequestType.INITIAL,
    RequestType.UPDATE: BalanceRequestType.UPDATE,
    RequestType.TERMINATE: BalanceRequestType.TERMINATE,
}

_SESSION_OUTCOMES = {
    Outcome.UNKNOWN_SESSION: (ResultCode.UNKNOWN_SESSION_ID, "no such session", None),
    Outcome.SESSION_EXISTS: (
        ResultCode.INVALID_AVP_VALUE,
        "Session-Id is in use by another session (live or recently ended)",
        "Session-Id",
    ),
    Outcome.OUT_OF_SEQUENCE: (
        ResultCode.INVALID_AVP_VALUE,
        "CC-Request-Number is lower than one already processed",
        "CC-Request-Number",
    ),
    Outcome.UNKNOWN_ACCOUNT: (ResultCode.USER_UNKNOWN, "unknown account", None),
    Outcome.UNKNOWN_SUBSCRIBER: (ResultCode.USER_UNKNOWN, "unknown subscriber", None),
    Outcome.DENIED: (ResultCode.END_USER_SERVICE_DENIED, "subscriber not active", None),
}


@dataclass(slots=True)
class Prepared:
    """A session request rated and ready for its one balance call (``op``), or answered
    already (``answer``: unknown subscriber or session)."""

    request: ChargingRequest
    profile: Profile | None
    planned: list[PlannedItem]
    asked: list[PlannedItem]
    op: SessionOp | None
    answer: ChargingResult | None = None


class ChargingUnavailable(OcsError):
    """The balance store cannot be reached; the request changed nothing that was not recorded."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ChargingCore:
    def __init__(
        self,
        catalog: Catalog,
        store: BalanceStore,
        profiles: Profiles | None = None,
        *,
        clock: Clock = wall_clock_ms,
        grace_ms: int = 30_000,
        unreferenced_refund_cap: int = 0,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.profiles = profiles or Profiles(store)
        self.clock = clock
        self.grace_ms = grace_ms
        self._periods: dict[tuple[ZoneInfo, int], tuple[datetime, datetime, str]] = {}
        self._second = -1
        self._now = datetime.fromtimestamp(0, UTC)
        # The event handler reads the core's clock, so setting ``core.clock`` (tests) covers both.
        self.events = EventHandler(
            catalog,
            store,
            self.profiles,
            lambda: self.clock(),
            self.period_id,
            unreferenced_refund_cap=unreferenced_refund_cap,
        )

    async def handle(self, request: ChargingRequest) -> ChargingResult:
        try:
            if request.request_type is RequestType.EVENT:
                return await self.events.handle(request)
            return await self._session(request)
        except BalanceUnavailable as exc:
            raise ChargingUnavailable(str(exc)) from exc

    async def _session(self, request: ChargingRequest) -> ChargingResult:
        profile = await self._profile(request)
        prepared = self.prepare_session(request, profile)
        if prepared.op is None:
            assert prepared.answer is not None
            return prepared.answer
        try:
            result = await self.store.session(prepared.op)
        except BalanceUnavailable:
            raise
        except BalanceError as exc:
            return ChargingResult(ResultCode.UNABLE_TO_COMPLY, error_message=str(exc))
        return self.finish_session(prepared, result)

    def prepare_session(self, request: ChargingRequest, profile: Profile | None) -> Prepared:
        """Everything before the balance call of a session request: rate every item, decide
        what to ask the engine. No I/O: the profile is already known (or unknown)."""
        if profile is None:
            if request.request_type is RequestType.INITIAL:
                unknown = ChargingResult(
                    ResultCode.USER_UNKNOWN, error_message="unknown subscriber"
                )
            else:
                unknown = ChargingResult(
                    ResultCode.UNKNOWN_SESSION_ID, error_message="no such session"
                )
            return Prepared(request, None, [], [], None, unknown)
        now_ms = self.clock()
        now = self._at_second(now_ms // 1000)
        period_id = self.period_id(now, profile)
        visited = request.service_info.get("visited_network") or None
        planned = [
            plan_item(
                self.catalog,
                profile,
                item,
                request.request_type,
                request.service_context_id,
                visited,
                now,
                period_id,
                self.grace_ms,
            )
            for item in request.items
        ]
        asked = [plan for plan in planned if plan.balance_item is not None]
        op = SessionOp(
            session_id=request.session_id,
            request_number=request.request_number,
            request_type=_BALANCE_TYPES[request.request_type],
            partition=profile.locator.partition,
            customer_id=profile.locator.customer_id,
            account_id=profile.account_id,
            subscriber_id=profile.subscriber_id,
            now_ms=now_ms,
            items=tuple(plan.balance_item for plan in asked if plan.balance_item is not None),
            origin_host=request.origin_host,
            origin_realm=request.origin_realm,
            service_info=request.service_info,
        )
        return Prepared(request, profile, planned, asked, op)

    def finish_session(self, prepared: Prepared, result: SessionResult) -> ChargingResult:
        """Everything after the balance call: the answer for every item (no I/O)."""
        request, profile = prepared.request, prepared.profile
        assert profile is not None
        if result.outcome is not Outcome.OK:
            code, message, failed = _SESSION_OUTCOMES.get(
                result.outcome, (ResultCode.UNABLE_TO_COMPLY, result.outcome.value, None)
            )
            if result.outcome is Outcome.UNKNOWN_SESSION:
                self.profiles.forget_session(request.session_id)
            return ChargingResult(code, error_message=message, failed_field=failed)
        if request.request_type is RequestType.TERMINATE:
            self.profiles.forget_session(request.session_id)
        else:
            self.profiles.remember_session(request.session_id, profile)
        for plan, item_result in zip(prepared.asked, result.items, strict=True):
            plan.result = item_result
            if plan.rating_group is not None and plan.service is not None:
                record_units(
                    plan.rating_group,
                    plan.service.config.unit,
                    item_result.granted,
                    item_result.used,
                )
        answers = [answer_item(plan, plan.result) for plan in prepared.planned]
        return ChargingResult(_command_code(request, answers), answers)

    def _at_second(self, second: int) -> datetime:
        """``now`` for rating (UTC, whole seconds: bands and bill periods start on whole
        minutes), made once per second rather than once per request."""
        if second != self._second:
            self._now = datetime.fromtimestamp(second, UTC)
            self._second = second
        return self._now

    def period_id(self, now: datetime, profile: Profile) -> str:
        """The bill period of ``now`` for the profile's time zone and cycle day (cached until
        the period ends: computing it converts time zones, a few microseconds)."""
        key = (profile.timezone, profile.bill_cycle_day)
        cached = self._periods.get(key)
        if cached is None or not cached[0] <= now < cached[1]:
            period = bill_period(now, profile.timezone, profile.bill_cycle_day)
            # bounds in UTC, like ``now``: aware datetimes with the same tzinfo compare without
            # asking the zone for offsets
            start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
            cached = self._periods[key] = (start, end, period.id)
        return cached[2]

    async def _profile(self, request: ChargingRequest) -> Profile | None:
        if request.request_type is RequestType.INITIAL:
            return await self.profiles.by_identities(request.subscription_ids, request.user_name)
        return await self.profiles.by_session(request.session_id)


def _command_code(request: ChargingRequest, answers: list[ItemAnswer]) -> ResultCode:
    """Command-level Result-Code: per-item codes travel in the MSCCs (RFC 8506 §5.1.2).

    Without MSCCs the single item's code is the command's.
    """
    if not request.multiple_services and answers:
        return answers[0].result_code
    return ResultCode.SUCCESS


__all__ = ["ChargingCore", "ChargingUnavailable", "PlannedItem", "wall_clock_ms"]
