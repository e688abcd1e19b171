"""One-time events (RFC 8506 §6): price enquiry, balance check, direct debit, refund.

The rating group comes from the request's item (or the Service-Context-Id's
default service); the units from its Requested-Service-Unit, in the service's
unit or as money (CC-Money, RFC 8506 §8.22: Unit-Value in currency units of
Currency-Code, turned into minor units of the account's currency or refused;
no rating needed). Operation id of a debit or refund:
``event:<Session-Id>:<CC-Request-Number>`` (on the subscriber's account), so a
retransmission returns the first answer and charges nothing again; a debit's
answer names it (Refund-Information) for a later refund, which never credits
more than the debit charged. A balance check is a dry run of the debit script.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ocs.balance.model import DebitItem, Outcome
from ocs.balance.store import BalanceStore
from ocs.charging.metrics import record_units
from ocs.charging.plan import rating_group_of
from ocs.charging.profiles import Profile, Profiles
from ocs.charging.types import (
    ChargingRequest,
    ChargingResult,
    CheckBalanceResult,
    CostInformation,
    ItemAnswer,
    RequestedAction,
    ResultCode,
    ServiceUnits,
    UsageItem,
)
from ocs.policy.catalog import Catalog
from ocs.policy.currency import Currency, Money, MoneyError, currency, minor_units, money_of
from ocs.policy.rating import Verdict, rate
from ocs.policy.tariff import cost

_VERDICT_CODES = {
    Verdict.UNKNOWN_SERVICE: ResultCode.RATING_FAILED,
    Verdict.NO_TARIFF: ResultCode.RATING_FAILED,
    Verdict.NOT_IN_OFFER: ResultCode.END_USER_SERVICE_DENIED,
    Verdict.ZERO_RATED: ResultCode.CREDIT_CONTROL_NOT_APPLICABLE,
}


def _missing(field: str) -> ChargingResult:
    return ChargingResult(
        ResultCode.MISSING_AVP, error_message=f"{field} is required", failed_field=field
    )


class EventHandler:
    def __init__(
        self,
        catalog: Catalog,
        store: BalanceStore,
        profiles: Profiles,
        clock: Callable[[], int],
        period_id: Callable[[datetime, Profile], str],
        *,
        unreferenced_refund_cap: int = 0,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.profiles = profiles
        self.clock = clock
        self.period_id = period_id
        self.unreferenced_refund_cap = unreferenced_refund_cap

    def cost_information(self, amount: int) -> CostInformation:
        """``amount`` minor units as Cost-Information: (amount, -minor digits, currency)."""
        return CostInformation(amount, -self.catalog.minor_digits, self.catalog.currency_code)

    def money(self, amount: int) -> Money:
        """``amount`` minor units as CC-Money of the catalog's currency."""
        return money_of(amount, self.catalog.money, self.catalog.minor_digits)

    async def handle(self, request: ChargingRequest) -> ChargingResult:
        action = request.requested_action
        if action is None:
            return _missing("Requested-Action")
        profile = await self.profiles.by_identities(request.subscription_ids, request.user_name)
        if profile is None:
            if not request.subscription_ids and not request.user_name:
                return _missing("Subscription-Id")
            return ChargingResult(ResultCode.USER_UNKNOWN, error_message="unknown subscriber")
        item = request.items[0] if request.items else UsageItem()
        requested = item.requested
        if requested is None and action is not RequestedAction.CHECK_BALANCE:
            if not (action is RequestedAction.REFUND_ACCOUNT and request.refund_reference):
                return _missing("Requested-Service-Unit")
        rating_group = rating_group_of(self.catalog, item, request.service_context_id)
        if rating_group is None:
            return _answer(ItemAnswer(None, item.service_id, ResultCode.RATING_FAILED))
        now_ms = self.clock()
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        period_id = self.period_id(now, profile)
        visited = request.service_info.get("visited_network") or None
        rating = rate(
            self.catalog, rating_group, profile.offers, visited, now, profile.timezone, period_id
        )
        if rating.verdict is not Verdict.RATED or rating.tariff is None or rating.service is None:
            code = _VERDICT_CODES[rating.verdict]
            return _answer(ItemAnswer(rating_group, item.service_id, code))
        unit = rating.service.config.unit
        money: int | None = None
        if requested is not None and requested.money is not None:
            try:
                money = minor_units(
                    requested.money, self._currency(profile), self.catalog.minor_digits
                )
            except MoneyError as exc:
                return ChargingResult(
                    ResultCode.INVALID_AVP_VALUE,
                    error_message=exc.message,
                    failed_field=exc.field,
                )
        units = requested.amount(unit) if requested is not None else None
        if (
            money is None
            and units is None
            and action not in (RequestedAction.CHECK_BALANCE, RequestedAction.REFUND_ACCOUNT)
        ):
            return ChargingResult(
                ResultCode.INVALID_AVP_VALUE,
                error_message=f"Requested-Service-Unit carries no {unit} and no CC-Money",
                failed_field="Requested-Service-Unit",
            )
        tariff = rating.tariff
        if action is RequestedAction.PRICE_ENQUIRY:
            price = money if money is not None else cost(tariff, 0, units or 0)
            answer = ItemAnswer(rating_group, item.service_id, ResultCode.SUCCESS)
            return _answer(answer, self.cost_information(price))
        debit = DebitItem(
            rating_group=rating_group,
            service_id=item.service_id,
            units=money if money is not None else (units or 0),
            tariff=None if money is not None else tariff,
            zone=rating.zone,
        )
        if action is RequestedAction.CHECK_BALANCE:
            return await self._check_balance(request, profile, debit, now_ms)
        op_id = f"event:{request.session_id}:{request.request_number}"
        if action is RequestedAction.REFUND_ACCOUNT:
            return await self._refund(request, profile, debit, money, op_id, now_ms)
        outcome = await self.store.debit(
            op_id,
            profile.account_id,
            [debit],
            now_ms=now_ms,
            subscriber_id=profile.subscriber_id,
            service_info=request.service_info,
        )
        if outcome.outcome is Outcome.NO_CREDIT:
            answer = ItemAnswer(rating_group, item.service_id, ResultCode.CREDIT_LIMIT_REACHED)
            return _answer(answer)
        if outcome.outcome is Outcome.DENIED:
            answer = ItemAnswer(rating_group, item.service_id, ResultCode.END_USER_SERVICE_DENIED)
            return _answer(answer)
        if outcome.outcome is Outcome.ALREADY_EXISTS:
            return _reused(request)
        if outcome.outcome is not Outcome.OK:
            return ChargingResult(ResultCode.UNABLE_TO_COMPLY, error_message=outcome.outcome.value)
        charged = sum(part.money_charged for part in outcome.items)
        record_units(rating_group, unit if money is None else "money", 0, debit.units)
        granted = (
            ServiceUnits(money=self.money(money))
            if money is not None
            else ServiceUnits.of(unit, units or 0)
        )
        answer = ItemAnswer(rating_group, item.service_id, ResultCode.SUCCESS, granted=granted)
        result = _answer(answer, self.cost_information(charged))
        result.refund_reference = op_id
        return result

    def _currency(self, profile: Profile) -> Currency:
        try:
            return currency(profile.currency)
        except KeyError:
            return self.catalog.money

    async def _check_balance(
        self, request: ChargingRequest, profile: Profile, debit: DebitItem, now_ms: int
    ) -> ChargingResult:
        """Whether the balance covers the units (or money; without either, the smallest
        amount), asked of the debit script itself as a dry run: nothing is reserved, and the
        answer follows the same bucket rules (zones, pools, pool limits) as the debit would."""
        if not debit.units:
            debit = DebitItem(debit.rating_group, debit.service_id, 1, debit.tariff, debit.zone)
        dry = await self.store.debit(
            f"check:{request.session_id}:{request.request_number}",
            profile.account_id,
            [debit],
            now_ms=now_ms,
            subscriber_id=profile.subscriber_id,
            dry_run=True,
        )
        item = request.items[0] if request.items else UsageItem()
        result = _answer(ItemAnswer(debit.rating_group, item.service_id, ResultCode.SUCCESS))
        result.check_balance = (
            CheckBalanceResult.ENOUGH_CREDIT
            if dry.outcome is Outcome.OK
            else CheckBalanceResult.NO_CREDIT
        )
        return result

    async def _refund(
        self,
        request: ChargingRequest,
        profile: Profile,
        debit: DebitItem,
        money: int | None,
        op_id: str,
        now_ms: int,
    ) -> ChargingResult:
        """REFUND_ACCOUNT: with a refund reference (Refund-Information), that debit's money
        (CC-Money: that much of it; otherwise all of it that is not refunded yet); without
        one, CC-Money or the price of the units, within the unreferenced-refund cap."""
        item = request.items[0] if request.items else UsageItem()
        reference = request.refund_reference
        if reference:
            refund = await self.store.refund(
                op_id,
                profile.account_id,
                now_ms=now_ms,
                refund_of=reference,
                amount=money or 0,
                reason="REFUND_ACCOUNT",
                subscriber_id=profile.subscriber_id,
            )
        else:
            if not self.unreferenced_refund_cap:
                return ChargingResult(
                    ResultCode.MISSING_AVP,
                    error_message="a refund must name the debit it refunds (Refund-Information)"
                    "; refunds that name none are turned off",
                    failed_field="Refund-Information",
                )
            amount = money if money is not None else _price(debit)
            if not amount:
                return ChargingResult(
                    ResultCode.INVALID_AVP_VALUE,
                    error_message="nothing to refund: the amount is 0",
                    failed_field="Requested-Service-Unit",
                )
            refund = await self.store.refund(
                op_id,
                profile.account_id,
                now_ms=now_ms,
                amount=amount,
                reason="REFUND_ACCOUNT",
                subscriber_id=profile.subscriber_id,
                unreferenced_cap=self.unreferenced_refund_cap,
            )
        if refund.outcome is Outcome.ALREADY_EXISTS:
            return _reused(request)
        if not refund.ok:
            # a reference the debit does not know or has refunded, more than the debit has
            # left: the AVP is at fault; an unreferenced refund beyond the cap: refused whole
            failed = {"refund_of": "Refund-Information", "amount": "CC-Money"}.get(refund.field)
            if failed and (reference or failed == "Refund-Information"):
                return ChargingResult(
                    ResultCode.INVALID_AVP_VALUE, error_message=refund.message, failed_field=failed
                )
            return ChargingResult(ResultCode.UNABLE_TO_COMPLY, error_message=refund.message)
        answer = ItemAnswer(debit.rating_group, item.service_id, ResultCode.SUCCESS)
        return _answer(answer, self.cost_information(refund.money))


def _price(debit: DebitItem) -> int:
    return cost(debit.tariff, 0, debit.units) if debit.tariff is not None else debit.units


def _reused(request: ChargingRequest) -> ChargingResult:
    return ChargingResult(
        ResultCode.INVALID_AVP_VALUE,
        error_message=f"CC-Request-Number {request.request_number} of this Session-Id was "
        "already used for another event",
        failed_field="CC-Request-Number",
    )


def _answer(item: ItemAnswer, cost_info: CostInformation | None = None) -> ChargingResult:
    # One item per event: its code is also the command's (an SMSC reads the command level).
    return ChargingResult(item.result_code, [item], cost=cost_info)
