"""Provisioning: customers, accounts, subscribers and their identities, statuses, buckets.

Partition records are written first (one script), then the global index keys (identity,
account and subscriber locators). An identity already taken answers ALREADY_EXISTS and the
subscriber record is removed again, so nothing half-written stays visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from ocs.balance import codec
from ocs.balance.engine import Engine
from ocs.balance.errors import InvalidRequest
from ocs.balance.identity import check_identity
from ocs.balance.keys import (
    PROFILE_CHANNEL,
    account_locator_key,
    identity_key,
    slot_of,
    subscriber_locator_key,
)
from ocs.balance.model import Bucket, Identity, OpResult, Outcome, Status, Unit


def _refused(outcome: Outcome, field: str, message: str) -> OpResult:
    return OpResult(outcome=outcome, replayed=False, field=field, message=message)


class Provisioning:
    """Creates and changes customers, accounts and subscribers through the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def _provision(
        self,
        kind: str,
        op_id: str,
        p: Any,
        keys: list[str],
        record: dict[str, Any],
        now_ms: int,
        actor: str,
        **extra: Any,
    ) -> dict[str, Any]:
        codec.check_text("op_id", op_id)
        codec.check_int("now_ms", now_ms)
        # scoped to the record it acts on (keys[0], e.g. ``sub:<id>``): the same op id for
        # another record is another operation with its own event id
        target = keys[0].removeprefix(p.prefix)
        scoped = f"{kind}:{target}:{op_id}"
        # undoing a creation deletes the creation's record, so a retry of it starts afresh
        created = f"subscriber:{target}:{op_id}" if kind == "subscriber_remove" else scoped
        op_key = p.operation("prov:" + created)
        request = {
            "kind": kind,
            "record": record,
            "now": now_ms,
            "actor": actor,
            "ttl": self.engine.ttl_ms,
            "eid": f"provision:{scoped}",
            **extra,
        }
        return await self.engine.script("provision", p, [op_key, *keys, p.stream], request)

    async def create_customer(
        self,
        op_id: str,
        customer_id: str,
        *,
        now_ms: int,
        name: str = "",
        profile: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> OpResult:
        codec.check_text("customer_id", customer_id)
        details = dict(profile or {})
        for key_name, value in details.items():
            codec.check_text("profile", key_name)
            codec.check_text(f"profile.{key_name}", value, empty=True)
        p = self.engine.keys[self.engine.partition_of(customer_id)]
        key = p.customer(customer_id)
        record: dict[str, Any] = {
            "id": customer_id,
            "cust": customer_id,
            "name": name,
            "created": now_ms,
        }
        if details:
            record["profile"] = details
        raw = await self._provision("customer", op_id, p, [key, key, key], record, now_ms, actor)
        return codec.op_result(raw)

    async def create_account(
        self,
        op_id: str,
        account_id: str,
        customer_id: str,
        *,
        currency: str,
        now_ms: int,
        credit_limit: int = 0,
        opening_balance: int = 0,
        parent_id: str = "",
        timezone: str = "UTC",
        bill_cycle_day: int = 1,
        low_balance: int | None = None,
        pool_limit: Mapping[str, int] | None = None,
        actor: str = "",
    ) -> OpResult:
        codec.check_text("account_id", account_id)
        codec.check_text("customer_id", customer_id)
        codec.check_text("currency", currency)
        codec.check_int("credit_limit", credit_limit)
        codec.check_int("opening_balance", opening_balance)
        codec.check_int("bill_cycle_day", bill_cycle_day, minimum=1)
        if bill_cycle_day > 28:
            raise InvalidRequest("bill_cycle_day", "must be in 1..28")
        low = low_balance if low_balance is not None else self.engine.config.low_balance
        if low is not None:
            codec.check_int("low_balance", low, signed=True)
        limits = dict(pool_limit or {})
        for unit, amount in limits.items():
            Unit(unit)
            codec.check_int(f"pool_limit.{unit}", amount)
        if limits and not parent_id:
            raise InvalidRequest("pool_limit", "only a member of a shared pool has one")
        p = self.engine.keys[self.engine.partition_of(customer_id)]
        aloc = account_locator_key(account_id)
        if await self.engine.execute(slot_of(aloc), "EXISTS", aloc):
            existing = await self.engine.locate_account(account_id)
            if existing != (customer_id, p.partition):
                return _refused(Outcome.ALREADY_EXISTS, "account_id", "account id is taken")
        record: dict[str, Any] = {
            "id": account_id,
            "cust": customer_id,
            "currency": currency,
            "credit_limit": credit_limit,
            "status": Status.ACTIVE.value,
            "parent": parent_id,
            "timezone": timezone,
            "bill_cycle_day": bill_cycle_day,
            "opening": opening_balance,
            "created": now_ms,
        }
        if low is not None:
            record["low_balance"] = low
        if limits:
            record["pool"] = {"limit": limits, "period": "", "used": {}, "held": {}}
        keys = [p.account(account_id), p.customer(customer_id), p.account(parent_id or account_id)]
        raw = await self._provision("account", op_id, p, keys, record, now_ms, actor)
        if raw["outcome"] == "OK":
            await self.engine.execute(
                slot_of(aloc), "SET", aloc, codec.pack([customer_id, p.partition])
            )
            self.engine.remember_parent(account_id, parent_id)
        return codec.op_result(raw)

    async def create_subscriber(
        self,
        op_id: str,
        subscriber_id: str,
        account_id: str,
        *,
        identities: Sequence[Identity],
        now_ms: int,
        offers: Sequence[str] = (),
        status: Status = Status.ACTIVE,
        actor: str = "",
    ) -> OpResult:
        codec.check_text("subscriber_id", subscriber_id)
        names = [
            check_identity(i.kind, i.value, f"identities[{n}]") for n, i in enumerate(identities)
        ]
        if len(set(names)) != len(names):
            raise InvalidRequest("identities", "an identity is listed twice")
        found = await self.engine.account_keys(account_id)
        if found is None:
            return _refused(Outcome.UNKNOWN_ACCOUNT, "account_id", f"no account {account_id}")
        p, _ = found
        located = await self.engine.locate_account(account_id)  # cached by account_keys
        assert located is not None
        customer_id = located[0]
        id_keys = [identity_key(i.kind, i.value) for i in identities]
        taken = await asyncio.gather(
            *(self.engine.execute(slot_of(k), "EXISTS", k) for k in id_keys)
        )
        for n, exists in enumerate(taken):
            if exists:
                return _refused(Outcome.ALREADY_EXISTS, f"identities[{n}]", "identity is taken")
        record = {
            "id": subscriber_id,
            "acct": account_id,
            "cust": customer_id,
            "status": Status(status).value,
            "identities": [[i.kind, i.value] for i in identities],
            "offers": list(offers),
            "created": now_ms,
        }
        keys = [p.subscriber(subscriber_id), p.account(account_id), p.members(account_id)]
        raw = await self._provision("subscriber", op_id, p, keys, record, now_ms, actor)
        if raw["outcome"] != "OK" or raw.get("replayed"):
            return codec.op_result(raw)
        locator = codec.pack([subscriber_id, account_id, customer_id, p.partition])
        claimed = await asyncio.gather(*(self._claim(k, locator) for k in id_keys))
        if not all(claimed):
            # lost a race for an identity: undo what this call wrote
            await asyncio.gather(
                *(
                    self.engine.execute(slot_of(k), "DEL", k)
                    for k, ok in zip(id_keys, claimed, strict=True)
                    if ok
                )
            )
            await self._provision(
                "subscriber_remove",
                op_id,
                p,
                keys,
                {"id": subscriber_id, "acct": account_id, "cust": customer_id},
                now_ms,
                actor,
            )
            n = claimed.index(False)
            return _refused(Outcome.ALREADY_EXISTS, f"identities[{n}]", "identity is taken")
        sloc = subscriber_locator_key(subscriber_id)
        await self.engine.execute(
            slot_of(sloc), "SET", sloc, codec.pack([account_id, customer_id, p.partition])
        )
        await self.engine.identities.publish(names)
        return codec.op_result(raw)

    async def _claim(self, key: str, locator: bytes) -> bool:
        """SET NX of an index key; ours too if a retried SET finds our own value there."""
        if await self.engine.execute(slot_of(key), "SET", key, locator, "NX"):
            return True
        return bool(await self.engine.execute(slot_of(key), "GET", key) == locator)

    async def set_subscriber_status(
        self,
        op_id: str,
        subscriber_id: str,
        status: Status,
        *,
        now_ms: int,
        actor: str = "",
        reason: str = "",
    ) -> OpResult:
        """Change a subscriber's status; ``reason`` is recorded in the event."""
        found = await self.engine.locate_subscriber(
            codec.check_text("subscriber_id", subscriber_id)
        )
        if found is None:
            return _refused(
                Outcome.UNKNOWN_SUBSCRIBER, "subscriber_id", f"no subscriber {subscriber_id}"
            )
        _, customer_id, partition = found
        p = self.engine.keys[partition]
        key = p.subscriber(subscriber_id)
        record = {
            "target": "subscriber",
            "status": Status(status).value,
            "cust": customer_id,
            "reason": reason,
        }
        raw = await self._provision(
            "status", op_id, p, [key, key, key], record, now_ms, actor, missing="UNKNOWN_SUBSCRIBER"
        )
        return codec.op_result(raw)

    async def change_identities(
        self,
        op_id: str,
        subscriber_id: str,
        *,
        now_ms: int,
        add: Sequence[Identity] = (),
        remove: Sequence[Identity] = (),
        actor: str = "",
    ) -> OpResult:
        """Add and remove identities of a subscriber (e.g. a new IMSI after a SIM swap).

        New index keys are claimed first (one taken: ALREADY_EXISTS, nothing changes), then the
        subscriber record is updated, then removed keys are deleted; every process's cache is
        told at once."""
        added = [check_identity(i.kind, i.value, f"add[{n}]") for n, i in enumerate(add)]
        removed = [check_identity(i.kind, i.value, f"remove[{n}]") for n, i in enumerate(remove)]
        if set(added) & set(removed) or len(set(added)) != len(added):
            raise InvalidRequest("add", "an identity is listed twice")
        found = await self.engine.locate_subscriber(
            codec.check_text("subscriber_id", subscriber_id)
        )
        if found is None:
            return _refused(Outcome.UNKNOWN_SUBSCRIBER, "subscriber_id", "no such subscriber")
        account_id, customer_id, partition = found
        p = self.engine.keys[partition]
        key = p.subscriber(subscriber_id)
        stored = await self.engine.execute(p.slot, "GET", key)
        if stored is None:
            return _refused(Outcome.UNKNOWN_SUBSCRIBER, "subscriber_id", "no such subscriber")
        current = codec.subscriber_from(codec.unpack(stored), partition)
        for n, identity in enumerate(remove):
            if identity not in current.identities:
                return _refused(
                    Outcome.INVALID, f"remove[{n}]", "not an identity of this subscriber"
                )
        locator = codec.pack([subscriber_id, account_id, customer_id, partition])
        add_keys = [identity_key(i.kind, i.value) for i in add if i not in current.identities]
        claimed = await asyncio.gather(*(self._claim(k, locator) for k in add_keys))
        if not all(claimed):
            await asyncio.gather(
                *(
                    self.engine.execute(slot_of(k), "DEL", k)
                    for k, ok in zip(add_keys, claimed, strict=True)
                    if ok
                )
            )
            n = claimed.index(False)
            return _refused(Outcome.ALREADY_EXISTS, f"add[{n}]", "identity is taken")
        record = {
            "cust": customer_id,
            "add": [[i.kind, i.value] for i in add if i not in current.identities],
            "remove": [[i.kind, i.value] for i in remove],
        }
        raw = await self._provision("identities", op_id, p, [key, key, key], record, now_ms, actor)
        if raw["outcome"] == "OK" and not raw.get("replayed"):
            for identity in remove:
                k = identity_key(identity.kind, identity.value)
                if await self.engine.execute(slot_of(k), "GET", k) == locator:
                    await self.engine.execute(slot_of(k), "DEL", k)
        await self.engine.identities.publish(added + removed)
        return codec.op_result(raw)

    async def change_offers(
        self,
        op_id: str,
        subscriber_id: str,
        *,
        now_ms: int,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        actor: str = "",
    ) -> OpResult:
        """Add offers to and remove offers from a subscriber's list (orders), in one script.

        An offer already held is not added twice; removing one the subscriber does not hold is
        INVALID (field ``remove[n]``) and changes nothing. Afterwards every process drops its
        cached rating profile of the subscriber (``ocs:profiles``), so the new rates apply at
        once. The offers' allowance buckets are the caller's business (``add_buckets``)."""
        added = [codec.check_text(f"add[{n}]", offer) for n, offer in enumerate(add)]
        removed = [codec.check_text(f"remove[{n}]", offer) for n, offer in enumerate(remove)]
        if len(set(added)) != len(added) or len(set(removed)) != len(removed):
            raise InvalidRequest("add", "an offer is listed twice")
        if set(added) & set(removed):
            raise InvalidRequest("remove", "an offer is both added and removed")
        found = await self.engine.locate_subscriber(
            codec.check_text("subscriber_id", subscriber_id)
        )
        if found is None:
            return _refused(Outcome.UNKNOWN_SUBSCRIBER, "subscriber_id", "no such subscriber")
        _, customer_id, partition = found
        p = self.engine.keys[partition]
        key = p.subscriber(subscriber_id)
        record = {"cust": customer_id, "add": added, "remove": removed}
        raw = await self._provision("offers", op_id, p, [key, key, key], record, now_ms, actor)
        if raw["outcome"] == "OK":
            # also on a replay: the first attempt may have stopped before publishing
            await self.engine.execute(
                slot_of(PROFILE_CHANNEL), "PUBLISH", PROFILE_CHANNEL, subscriber_id
            )
        return codec.op_result(raw)

    async def set_account_status(
        self, op_id: str, account_id: str, status: Status, *, now_ms: int, actor: str = ""
    ) -> OpResult:
        found = await self.engine.account_keys(account_id)
        if found is None:
            return _refused(Outcome.UNKNOWN_ACCOUNT, "account_id", f"no account {account_id}")
        p, _ = found
        key = p.account(account_id)
        record = {"target": "account", "status": Status(status).value, "cust": ""}
        raw = await self._provision(
            "status", op_id, p, [key, key, key], record, now_ms, actor, missing="UNKNOWN_ACCOUNT"
        )
        return codec.op_result(raw)

    async def add_buckets(
        self,
        order_id: str,
        account_id: str,
        buckets: Sequence[Bucket],
        *,
        now_ms: int,
        source: str = "",
        actor: str = "",
    ) -> OpResult:
        """Offer purchase (op id = the order id): new buckets on an account."""
        wire = []
        for n, bucket in enumerate(buckets):
            item = codec.bucket_wire(bucket, n)
            if not item["thresholds"] and bucket.unit != Unit.MONEY:
                item["thresholds"] = list(self.engine.config.allowance_thresholds)
            item["source"] = item["source"] or source
            wire.append(item)
        if len({b.id for b in buckets}) != len(buckets):
            raise InvalidRequest("buckets", "a bucket id is listed twice")
        return await self._buckets(order_id, account_id, wire, [], now_ms, source, actor)

    async def remove_buckets(
        self,
        op_id: str,
        account_id: str,
        bucket_ids: Sequence[str],
        *,
        now_ms: int,
        actor: str = "",
    ) -> OpResult:
        """Cancellation: the unreserved remainder of each bucket is forfeited."""
        return await self._buckets(op_id, account_id, [], list(bucket_ids), now_ms, "", actor)

    async def _buckets(
        self,
        op_id: str,
        account_id: str,
        add: list[dict[str, Any]],
        remove: list[str],
        now_ms: int,
        source: str,
        actor: str,
    ) -> OpResult:
        codec.check_text("op_id", op_id)
        codec.check_int("now_ms", now_ms)
        found = await self.engine.account_keys(account_id)
        if found is None:
            return _refused(Outcome.UNKNOWN_ACCOUNT, "account_id", f"no account {account_id}")
        p, _ = found
        scoped = f"{account_id}:{op_id}"
        request = {
            "op": op_id,
            "eid": f"buckets:{scoped}",
            "acct": account_id,
            "now": now_ms,
            "add": add,
            "remove": remove,
            "source": source,
            "actor": actor,
            "ttl": self.engine.ttl_ms,
            "fp": "add " + ",".join(b["id"] for b in add) + " remove " + ",".join(remove),
        }
        keys = [p.operation("buckets:" + scoped), p.account(account_id), p.bucket_expiry, p.stream]
        raw = await self.engine.script("buckets", p, keys, request)
        return codec.op_result(raw, "forfeited")
