"""Finding what a request names: a subscriber by any identity, an account directly or through
one of its subscribers. Unknown ids are NOT_FOUND naming the field; a subscriber token that names
anything but its own account is PERMISSION_DENIED, whether that exists or not (no probing)."""

from __future__ import annotations

from ocs.api.convert import ref_identity
from ocs.api.errors import invalid, not_found, permission_denied
from ocs.api.rpc import Call
from ocs.api.v1 import balance_pb2, common_pb2
from ocs.balance.model import Subscriber
from ocs.balance.store import BalanceStore


async def subscriber_id_of(
    store: BalanceStore, ref: common_pb2.SubscriberRef, field: str
) -> str | None:
    kind, value = ref_identity(ref, field)
    if kind == "subscriber_id":
        return value
    locator = await store.lookup(kind, value)
    return locator.subscriber_id if locator is not None else None


async def subscriber(
    store: BalanceStore, ref: common_pb2.SubscriberRef, field: str, call: Call | None = None
) -> Subscriber:
    found = None
    subscriber_id = await subscriber_id_of(store, ref, field)
    if subscriber_id is not None:
        found = await store.get_subscriber(subscriber_id)
    if call is not None and call.is_subscriber:
        if found is None or found.account_id != call.principal.account_id:
            raise permission_denied("a subscriber token may only use its own account")
    if found is None:
        raise not_found("subscriber", ref_identity(ref, field)[1], field)
    return found


async def account_id(
    store: BalanceStore, selector: balance_pb2.AccountSelector, call: Call, field: str = "account"
) -> str:
    """The account an AccountSelector names, checked against a subscriber token. ``field`` is
    the selector's field in the request ("" when the selector is the request)."""
    prefix = f"{field}." if field else ""
    which = selector.WhichOneof("target")
    if which == "account_id":
        if not selector.account_id:
            raise invalid(f"{prefix}account_id", "must not be empty")
        call.require_account(selector.account_id)
        return selector.account_id
    if which == "subscriber":
        found = await subscriber(store, selector.subscriber, f"{prefix}subscriber", call)
        return found.account_id
    raise invalid(field or "target", "name an account_id or a subscriber")
