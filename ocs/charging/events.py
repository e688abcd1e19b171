"""One-time events (RFC 8506 §6): price enquiry, balance check, direct debit, refund.

The rating group comes from the request's item (or the Service-Context-Id's
default service); the units from its Requested-Service-Unit, in the service's
unit or as money (CC-Money: no rating needed). Operation id of a debit or
refund: ``event:<Session-Id>:<CC-Request-Number>``, so a retransmission
returns the first answer and charges nothing again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ocs.balance.model import Account, Bucket, DebitItem, Outcome, Tariff
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
from ocs.policy.rating import Verdict, rate
from ocs.policy.tariff import affordable, cost

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
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.profiles = profiles
        self.clock = clock
        self.period_id = period_id

    def cost_information(self, amount: int) -> CostInformation:
        data = self.catalog.data
        return CostInformation(amount, -data.minor_unit_digits, data.currency_code)

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
        money = requested.money if requested is not None else None
        units = requested.amount(unit) if requested is not None else None
        if money is None and units is None and action is not RequestedAction.CHECK_BALANCE:
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
        if action is RequestedAction.CHECK_BALANCE:
            enough = await self._can_cover(
                profile, rating_group, unit, units, money, tariff, now_ms
            )
            result = _answer(ItemAnswer(rating_group, item.service_id, ResultCode.SUCCESS))
            result.check_balance = (
                CheckBalanceResult.ENOUGH_CREDIT if enough else CheckBalanceResult.NO_CREDIT
            )
            return result
        op_id = f"event:{request.session_id}:{request.request_number}"
        if action is RequestedAction.DIRECT_DEBITING:
            debit = DebitItem(
                rating_group=rating_group,
                service_id=item.service_id,
                units=money if money is not None else (units or 0),
                tariff=None if money is not None else tariff,
            )
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
                answer = ItemAnswer(
                    rating_group, item.service_id, ResultCode.END_USER_SERVICE_DENIED
                )
                return _answer(answer)
            if outcome.outcome is not Outcome.OK:
                return ChargingResult(
                    ResultCode.UNABLE_TO_COMPLY, error_message=outcome.outcome.value
                )
            charged = sum(part.money_charged for part in outcome.items)
            record_units(rating_group, unit if money is None else "money", 0, debit.units)
            granted = (
                ServiceUnits(money=money)
                if money is not None
                else ServiceUnits.of(unit, units or 0)
            )
            answer = ItemAnswer(rating_group, item.service_id, ResultCode.SUCCESS, granted=granted)
            return _answer(answer, self.cost_information(charged))
        # REFUND_ACCOUNT: the money amount asked for, or the price of the units
        amount = money if money is not None else cost(tariff, 0, units or 0)
        refund = await self.store.refund(
            op_id, profile.account_id, now_ms=now_ms, amount=amount, reason="REFUND_ACCOUNT"
        )
        if not refund.ok:
            return ChargingResult(ResultCode.UNABLE_TO_COMPLY, error_message=refund.message)
        answer = ItemAnswer(rating_group, item.service_id, ResultCode.SUCCESS)
        return _answer(answer, self.cost_information(amount))

    async def _can_cover(
        self,
        profile: Profile,
        rating_group: int,
        unit: str,
        units: int | None,
        money: int | None,
        tariff: Tariff,
        now_ms: int,
    ) -> bool:
        """Whether the balance covers the units (or money) now, without reserving anything."""
        account = await self.store.get_account(profile.account_id)
        if account is None:
            return False
        accounts = [account]
        if account.parent_id:
            parent = await self.store.get_account(account.parent_id)
            if parent is not None:
                accounts.append(parent)
        allowance = sum(
            _available(bucket, acct)
            for acct in accounts
            for bucket in acct.buckets
            if bucket.unit == unit and _usable(bucket, rating_group, now_ms)
        )
        wallet = sum(
            _available(bucket, acct)
            for acct in accounts
            for bucket in acct.buckets
            if bucket.unit == "money" and _usable(bucket, rating_group, now_ms)
        )
        if money is not None:
            return wallet >= money
        if units is None:
            return allowance > 0 or wallet > 0
        rest = max(0, units - allowance)
        return rest == 0 or affordable(tariff, allowance, wallet, limit=rest) >= rest


def _usable(bucket: Bucket, rating_group: int, now_ms: int) -> bool:
    if bucket.valid_from > now_ms or (bucket.expires and bucket.expires <= now_ms):
        return False
    return not bucket.applies_to or rating_group in bucket.applies_to


def _available(bucket: Bucket, account: Account) -> int:
    floor = account.credit_limit if bucket.id == "money" else 0
    return max(0, bucket.balance + floor - bucket.reserved)


def _answer(item: ItemAnswer, cost_info: CostInformation | None = None) -> ChargingResult:
    # One item per event: its code is also the command's (an SMSC reads the command level).
    return ChargingResult(item.result_code, [item], cost=cost_info)
