"""Orders: buy or cancel a catalog offer for a subscriber (fulfilment, state in Redis).

Protocol-neutral (the Admin service and any other caller use it). An order is recorded first
(``ACCEPTED``, key ``ocs:order:<order id>``, set only if absent), then fulfilled, then marked
``COMPLETED`` or ``FAILED``:

purchase
    one balance script (``BalanceStore.purchase``, op id ``order:<id>``) charges the offer's
    price (and, when the catalog says the price does not cover the bill period it is bought
    in, that period's recurring fee) from money, adds its allowance buckets (ids
    ``<offer>.<allowance>.<order id>``, validity from the order's creation time), puts the
    offer on the subscriber's list and schedules its recurring fee for the next period start
    (``ocs.charging.renewals``), all or nothing; no credit -> ``FAILED`` and nothing changed.
    Then the account's sessions that were blocked or on their final grant are re-authorized
    (RAR).
cancel
    1. record which buckets of the account came from the offer;
    2. remove them (``remove_buckets``: the unreserved remainder is forfeited, no refund);
    3. remove the offer from the subscriber's offers (no more recurring fees).

If a process stops halfway, the order stays ``ACCEPTED``; repeating the same request (same
order id, subscriber and offer) resumes it, and every step already done replays without effect,
so the price is charged once.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import grpc

from ocs.api.errors import ApiError, invalid, not_found, precondition
from ocs.balance import codec
from ocs.balance.keys import slot_of
from ocs.balance.model import Account, Charge, Outcome, Status, Subscriber
from ocs.balance.store import BalanceStore
from ocs.charging.core import wall_clock_ms
from ocs.charging.operations import AccountOperations
from ocs.charging.renewals import account_period, epoch_ms
from ocs.charging.signals import Signal
from ocs.policy.catalog import Catalog
from ocs.policy.offers import allowance_buckets

ORDER_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
ORDER_TTL_S = 400 * 86400


class OrderState(enum.StrEnum):
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    kind: str
    """``purchase`` or ``cancel``."""
    subscriber_id: str
    account_id: str
    offer_id: str
    state: OrderState
    created_ms: int
    failure: str = ""
    charged: int = 0
    bucket_ids: tuple[str, ...] = ()
    completed_ms: int = 0
    actor: str = ""
    steps: tuple[str, ...] = field(default=())
    """Steps done so far (for care and for tests of an interrupted fulfilment)."""

    def same_request(self, kind: str, subscriber_id: str, offer_id: str) -> bool:
        return (self.kind, self.subscriber_id, self.offer_id) == (kind, subscriber_id, offer_id)


def order_key(order_id: str) -> str:
    return f"ocs:order:{order_id}"


class Orders:
    def __init__(
        self,
        store: BalanceStore,
        catalog: Catalog,
        operations: AccountOperations,
        clock: Callable[[], int] = wall_clock_ms,
        invalidate: Callable[[str], None] = lambda subscriber_id: None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.operations = operations
        self.clock = clock
        self.invalidate = invalidate
        """Drops this process's rating profile at once (other processes hear ocs:profiles)."""

    # -- records ----------------------------------------------------------------------------

    async def get(self, order_id: str) -> Order | None:
        key = order_key(check_order_id(order_id))
        raw = await self.store.execute(slot_of(key), "GET", key)
        if raw is None:
            return None
        data: dict[str, Any] = codec.unpack(raw)
        data["state"] = OrderState(data["state"])
        data["bucket_ids"] = tuple(data.get("bucket_ids") or ())
        data["steps"] = tuple(data.get("steps") or ())
        return Order(**data)

    async def _save(self, order: Order, *, create: bool = False) -> bool:
        key = order_key(order.order_id)
        data = asdict(order)
        data["state"] = order.state.value
        data["bucket_ids"] = list(order.bucket_ids)
        data["steps"] = list(order.steps)
        args: list[Any] = ["SET", key, codec.pack(data), "EX", ORDER_TTL_S]
        if create:
            args.append("NX")
        return bool(await self.store.execute(slot_of(key), *args))

    async def _open(
        self, order_id: str, kind: str, subscriber: Subscriber, offer_id: str, actor: str
    ) -> tuple[Order, bool]:
        """(order, fresh): a new ACCEPTED record, or the stored one of the same request."""
        order = Order(
            order_id=order_id,
            kind=kind,
            subscriber_id=subscriber.id,
            account_id=subscriber.account_id,
            offer_id=offer_id,
            state=OrderState.ACCEPTED,
            created_ms=self.clock(),
            actor=actor,
        )
        if await self._save(order, create=True):
            return order, True
        stored = await self.get(order_id)
        if stored is None:  # expired in between: start again
            return await self._open(order_id, kind, subscriber, offer_id, actor)
        if not stored.same_request(kind, subscriber.id, offer_id):
            raise ApiError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"order {order_id} was used for another request ({stored.kind} of "
                f"{stored.offer_id} for {stored.subscriber_id})",
                field="order_id",
            )
        return stored, False

    async def _step(self, order: Order, step: str, **changes: Any) -> Order:
        order = replace(order, steps=(*order.steps, step), **changes)
        await self._save(order)
        return order

    async def _finish(self, order: Order, state: OrderState, failure: str = "") -> Order:
        order = replace(order, state=state, failure=failure, completed_ms=self.clock())
        await self._save(order)
        return order

    # -- purchase ---------------------------------------------------------------------------

    async def purchase(
        self, order_id: str, subscriber: Subscriber, offer_id: str, *, actor: str = ""
    ) -> Order:
        check_order_id(order_id)
        offer = self.catalog.offer(offer_id)
        if offer is None:
            raise not_found("offer", offer_id, "offer_id")
        stored = await self.get(order_id)
        if stored is None:
            self._check_purchase(subscriber, offer_id, offer.kind)
        order, _ = await self._open(order_id, "purchase", subscriber, offer_id, actor)
        if order.state is not OrderState.ACCEPTED:
            return order
        return await self._fulfil_purchase(order)

    def _check_purchase(self, subscriber: Subscriber, offer_id: str, kind: str) -> None:
        if subscriber.status is Status.TERMINATED:
            raise precondition(
                "SUBSCRIBER_TERMINATED", "the subscriber is terminated", "subscriber"
            )
        if kind == "base":
            held = [o for o in subscriber.offers if self._kind(o) == "base" and o != offer_id]
            if held:
                raise precondition(
                    "BASE_OFFER_HELD",
                    f"the subscriber holds base offer {held[0]}: cancel it first",
                    "offer_id",
                )

    def _kind(self, offer_id: str) -> str:
        offer = self.catalog.offer(offer_id)
        return offer.kind if offer is not None else ""

    async def _fulfil_purchase(self, order: Order) -> Order:
        account = await self.store.get_account(order.account_id)
        if account is None:
            return await self._finish(order, OrderState.FAILED, "unknown account")
        charges, renew_at = purchase_charges(
            self.catalog, order.offer_id, account, order.created_ms
        )
        buckets = allowance_buckets(self.catalog, order.offer_id, order.created_ms, order.order_id)
        bought = await self.store.purchase(
            f"order:{order.order_id}",
            order.subscriber_id,
            order.offer_id,
            kind="purchase",
            charges=charges,
            buckets=buckets,
            now_ms=order.created_ms,
            renew_at=renew_at,
            actor=order.actor,
            info={"order": order.order_id},
        )
        self.invalidate(order.subscriber_id)
        if bought.outcome is Outcome.NO_CREDIT:
            return await self._finish(order, OrderState.FAILED, "no credit for the offer price")
        if bought.outcome is Outcome.DENIED:
            return await self._finish(
                order, OrderState.FAILED, "the subscriber or account is not active"
            )
        if not bought.ok:
            return await self._finish(
                order, OrderState.FAILED, bought.message or bought.outcome.value.lower()
            )
        order = replace(
            order,
            charged=bought.money,
            bucket_ids=tuple(b.id for b in buckets),
            steps=("charged", "provisioned"),
        )
        order = await self._finish(order, OrderState.COMPLETED)
        sessions = await self.store.live_sessions(order.account_id)
        await self.operations.signals.signal(
            Signal.REAUTHORIZE, [s for s in sessions if s.state != "ok"]
        )
        return order

    # -- cancel -----------------------------------------------------------------------------

    async def cancel(
        self, order_id: str, subscriber: Subscriber, offer_id: str, *, actor: str = ""
    ) -> Order:
        check_order_id(order_id)
        if not offer_id:
            raise invalid("offer_id", "required")
        stored = await self.get(order_id)
        if stored is None and offer_id not in subscriber.offers:
            raise precondition(
                "OFFER_NOT_HELD", f"the subscriber does not hold offer {offer_id}", "offer_id"
            )
        order, _ = await self._open(order_id, "cancel", subscriber, offer_id, actor)
        if order.state is not OrderState.ACCEPTED:
            return order
        if "listed" not in order.steps:
            account = await self.store.get_account(order.account_id)
            if account is None:
                raise not_found("account", order.account_id, "subscriber")
            prefix = f"{offer_id}."
            ids = tuple(
                b.id for b in account.buckets if b.source == offer_id and b.id.startswith(prefix)
            )
            order = await self._step(order, "listed", bucket_ids=ids)
        op = f"cancel:{order.order_id}"
        if order.bucket_ids:
            removed = await self.store.remove_buckets(
                op, order.account_id, list(order.bucket_ids), now_ms=order.created_ms, actor=actor
            )
            if not removed.ok and not removed.replayed:
                return await self._finish(order, OrderState.FAILED, removed.message)
        changed = await self.store.change_offers(
            op, order.subscriber_id, now_ms=order.created_ms, remove=[offer_id], actor=actor
        )
        self.invalidate(order.subscriber_id)
        if not changed.ok:
            return await self._finish(order, OrderState.FAILED, changed.message)
        return await self._finish(order, OrderState.COMPLETED)


def purchase_charges(
    catalog: Catalog, offer_id: str, account: Account, now_ms: int
) -> tuple[list[Charge], int | None]:
    """What buying ``offer_id`` at ``now_ms`` charges, and when its recurring fee is next due
    (the start of the account's next bill period; None without a recurring fee). The price;
    plus this period's fee unless the catalog says the price covers the period."""
    offer = catalog.offer(offer_id)
    assert offer is not None
    charges = [Charge("price", offer.price)] if offer.price else []
    if not offer.recurring_fee:
        return charges, None
    period = account_period(account, now_ms)
    if not offer.price_covers_first_period:
        charges.append(Charge("fee", offer.recurring_fee, period.id))
    return charges, epoch_ms(period.end)


def check_order_id(order_id: str) -> str:
    if not order_id:
        raise invalid("order_id", "required")
    if not ORDER_ID.match(order_id):
        raise invalid("order_id", "letters, digits and . _ : @ - only, at most 128")
    return order_id
