"""The Balance service: balances with buckets, top-up, usage history, live balance changes.

Subscriber tokens may read (GetBalance, ListUsage, WatchBalance) their own account only; TopUp
credits money and needs a care-agent or admin token (see protos/ocs/api/v1/balance.proto).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ocs.api import resolve
from ocs.api.convert import bucket_out, money_available, quantity
from ocs.api.errors import exhausted, from_outcome, invalid, not_found
from ocs.api.rpc import SELF_CARE, STAFF, Call, Methods
from ocs.api.usage import BadCursor, UsageEntry, UsageHistory, UsageQuery
from ocs.api.v1 import balance_pb2
from ocs.api.watch import WatchHub
from ocs.balance.events import Event
from ocs.balance.model import Account, Outcome
from ocs.balance.store import BalanceStore
from ocs.charging.core import ChargingCore
from ocs.charging.operations import AccountOperations
from ocs.policy.catalog import Catalog

SERVICE = balance_pb2.DESCRIPTOR.services_by_name["Balance"]
DEFAULT_PAGE = 50
MAX_PAGE = 500


class BalanceService:
    def __init__(
        self,
        store: BalanceStore,
        catalog: Catalog,
        operations: AccountOperations,
        usage: UsageHistory,
        watch: WatchHub,
        core: ChargingCore,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.operations = operations
        self.usage = usage
        self.watch = watch
        self.core = core

    def methods(self) -> Methods:
        return {
            "GetBalance": (SELF_CARE, self.get_balance),
            "TopUp": (STAFF, self.top_up),
            "ListUsage": (SELF_CARE, self.list_usage),
            "WatchBalance": (SELF_CARE, self.watch_balance),
        }

    async def _account(self, account_id: str) -> Account:
        account = await self.store.get_account(account_id)
        if account is None:
            raise not_found("account", account_id, "account_id")
        return account

    def view(self, account: Account) -> balance_pb2.BalanceView:
        return balance_pb2.BalanceView(
            account_id=account.id,
            currency=account.currency,
            credit_limit=account.credit_limit,
            money_available=money_available(account, self.core.clock()),
            buckets=[bucket_out(b, account, self.catalog) for b in account.buckets],
            parent_account_id=account.parent_id,
            minor_unit_digits=self.catalog.minor_digits,
        )

    async def get_balance(
        self, request: balance_pb2.AccountSelector, call: Call
    ) -> balance_pb2.BalanceView:
        account_id = await resolve.account_id(self.store, request, call, "")
        return self.view(await self._account(account_id))

    async def top_up(
        self, request: balance_pb2.TopUpRequest, call: Call
    ) -> balance_pb2.TopUpResponse:
        if not request.HasField("account"):
            raise invalid("account", "required")
        if not request.payment_id:
            raise invalid("payment_id", "required: the idempotency key")
        if request.amount_minor <= 0:
            raise invalid("amount_minor", f"must be > 0, got {request.amount_minor}")
        quantity("amount_minor", request.amount_minor)
        account_id = await resolve.account_id(self.store, request.account, call)
        currency = request.currency
        if not currency:
            currency = (await self._account(account_id)).currency
        result = await self.operations.topup(
            request.payment_id, account_id, request.amount_minor, currency, actor=call.actor
        )
        if result.outcome is Outcome.CURRENCY_MISMATCH:
            account = await self._account(account_id)
            raise invalid("currency", f"the account's currency is {account.currency}")
        if result.outcome is not Outcome.OK:
            field = "amount_minor" if result.field == "amount" else result.field
            raise from_outcome(result.outcome, result.message, field, account_id)
        return balance_pb2.TopUpResponse(
            balance_minor=result.balance,
            replayed=result.replayed,
            sessions_reauthorized=sum(1 for s in result.sessions if _diameter(s.origin_host)),
        )

    async def list_usage(
        self, request: balance_pb2.ListUsageRequest, call: Call
    ) -> balance_pb2.ListUsageResponse:
        if not request.HasField("account"):
            raise invalid("account", "required")
        size = request.page_size or DEFAULT_PAGE
        if not 0 < size <= MAX_PAGE:
            raise invalid("page_size", f"must be 1..{MAX_PAGE}, got {request.page_size}")
        if request.from_ms < 0 or request.to_ms < 0:
            raise invalid("from_ms" if request.from_ms < 0 else "to_ms", "must not be negative")
        if request.to_ms and request.from_ms >= request.to_ms:
            raise invalid("to_ms", "must be after from_ms")
        groups: set[int] | None = None
        if request.HasField("rating_group"):
            groups = {request.rating_group}
        if request.service:
            service = self.catalog.service_by_name.get(request.service)
            if service is None:
                known = ", ".join(sorted(self.catalog.service_by_name))
                raise invalid("service", f"unknown service {request.service!r} ({known})")
            groups = {service.rating_group} if groups is None else groups & {service.rating_group}
        account_id = await resolve.account_id(self.store, request.account, call)
        query = UsageQuery(
            account_id=account_id,
            from_ms=request.from_ms,
            to_ms=request.to_ms,
            rating_groups=frozenset(groups) if groups is not None else None,
            page_size=size,
            cursor=request.page_token,
        )
        try:
            page = await self.usage.page(query)
        except BadCursor as exc:
            raise invalid("page_token", str(exc)) from None
        return balance_pb2.ListUsageResponse(
            records=[usage_record(entry) for entry in page.entries],
            next_page_token=page.cursor,
            history_from_ms=page.history_from_ms,
        )

    async def watch_balance(
        self, request: balance_pb2.AccountSelector, call: Call
    ) -> AsyncIterator[balance_pb2.BalanceNotification]:
        account_id = await resolve.account_id(self.store, request, call, "")
        located = await self.store.locate_account(account_id)
        if located is None:
            raise not_found("account", account_id, "account_id")
        async with self.watch.watch(account_id, located[1]) as watcher:
            account = await self._account(account_id)
            yield balance_pb2.BalanceNotification(
                type="snapshot",
                time_ms=self.core.clock(),
                money_balance=account.money,
                buckets=[bucket_out(b, account, self.catalog) for b in account.buckets],
            )
            while True:
                event = await watcher.queue.get()
                if event is None:
                    if watcher.overflowed:
                        raise exhausted("this watcher fell behind the balance changes; watch again")
                    return
                yield await self.notification(event, account_id)

    async def notification(self, event: Event, watched: str) -> balance_pb2.BalanceNotification:
        data = event.data
        labels = _own_labels(data, watched)
        account = await self.store.get_account(watched)
        note = balance_pb2.BalanceNotification(
            event_id=event.id,
            time_ms=int(data.get("ts", 0)),
            type=str(data.get("type", "")),
            subscriber_id=str(data.get("sub", "") or ""),
        )
        balances: Mapping[str, int] = data.get("balances") or {}
        if "money" in balances and data.get("acct") == watched:
            note.money_balance = int(balances["money"])
        elif account is not None:
            note.money_balance = account.money
        if account is not None:
            note.buckets.extend(
                bucket_out(b, account, self.catalog) for b in account.buckets if b.id in labels
            )
        if event.type.value == "threshold":
            kind = str(data.get("kind", ""))
            mark = int(data.get("mark", 0))
            note.threshold.CopyFrom(
                balance_pb2.Threshold(
                    bucket_id=str(data.get("bucket", "")).rpartition("/")[2],
                    percent_used=mark if kind == "used_percent" else 0,
                    remaining=int(data.get("balance", 0)),
                    kind=kind,
                    floor=mark if kind == "low_balance" else 0,
                )
            )
        return note


def _diameter(origin_host: str) -> bool:
    """Sessions of a Diameter gateway get a RAR; gRPC clients (``grpc:<id>``) have no such push."""
    return bool(origin_host) and not origin_host.startswith("grpc:")


def _own_labels(data: Mapping[str, Any], watched: str) -> set[str]:
    """Bucket ids of ``watched`` an event touched (its own labels, or ``<watched>/<bucket>``)."""
    labels = set(data.get("balances") or {}) | set(data.get("delta") or {})
    if data.get("bucket"):
        labels.add(str(data["bucket"]))
    own = data.get("acct") == watched
    result = set()
    for label in labels:
        owner, _, bucket = label.rpartition("/")
        if (owner == "" and own) or owner == watched:
            result.add(bucket)
    return result


def usage_record(entry: UsageEntry) -> balance_pb2.UsageRecord:
    return balance_pb2.UsageRecord(
        event_id=entry.event_id,
        time_ms=entry.time_ms,
        type=entry.type,
        subscriber_id=entry.subscriber_id,
        session_id=entry.session_id,
        rating_group=entry.rating_group,
        service=entry.service,
        unit=entry.unit,
        units=entry.units,
        money_minor=entry.money,
        charged=dict(entry.charged),
        visited_network=entry.visited_network,
        account_id=entry.account_id,
    )
