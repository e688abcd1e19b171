"""The public API of the balance engine: charging, money movements, reads, expiry.

``BalanceStore`` is a subsystem (``start``/``stop``). Every mutation is one script call in one
partition, carries an operation id and the caller's clock, and returns a result whose
``outcome`` says what happened; a repeat of an operation id returns the stored result with
``replayed=True`` and changes nothing. See docs/balance.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ocs import tally
from ocs.balance import codec, sessions
from ocs.balance.engine import CALLS, Engine, Executor, RedisTarget, count
from ocs.balance.errors import InvalidRequest
from ocs.balance.keys import PROFILE_CHANNEL, PartitionKeys, session_locator_key, slot_of
from ocs.balance.model import (
    MAX_INT,
    Bucket,
    Charge,
    DebitItem,
    DebitResult,
    OpResult,
    Outcome,
    RequestType,
    SessionOp,
    SessionResult,
    TopupResult,
)
from ocs.balance.provisioning import Provisioning
from ocs.balance.reads import Reads
from ocs.balance.records import Request
from ocs.config import BalanceConfig, RedisConfig

STALE_RETRIES = 3
LOCATOR_REFRESH_EVERY = 16
"""Every 16th CCR-U re-arms the TTL of the session's partition locator (ocs:loc)."""

_REQUEST_TYPES: dict[str, str] = {t.value: t.value for t in RequestType}
"""Request type (a RequestType or its value: they hash alike) -> the script's name for it."""
_SESSION_OK = tally.counter(CALLS, "session", "OK")


class BalanceStore:
    """The balance engine as the rest of ocs uses it: charging operations (here), provisioning
    (:class:`Provisioning`), reads (:class:`Reads`) and the plumbing they run on
    (:class:`Engine`), composed.

    The engine's and provisioning's operations are exposed as the store's own attributes (the
    bound methods themselves: no extra call on the hot path)."""

    name = "balance"

    def __init__(
        self,
        target: RedisTarget | Callable[[], RedisTarget],
        config: BalanceConfig,
        partitions: int,
        redis: RedisConfig | None = None,
    ) -> None:
        self.engine = engine = Engine(target, config, partitions, redis)
        self.provisioning = provisioning = Provisioning(engine)
        self.config, self.partitions, self.keys = engine.config, engine.partitions, engine.keys
        self.ttl_ms, self.scripts = engine.ttl_ms, engine.scripts
        self.health, self.pubsub, self.identities = engine.health, engine.pubsub, engine.identities
        # the plumbing
        self.start, self.stop, self.load_scripts = engine.start, engine.stop, engine.load_scripts
        self.execute, self.call, self.script = engine.execute, engine.call, engine.script
        self.partition, self.partition_of = engine.partition, engine.partition_of
        self.locate_account, self.locate_subscriber = (
            engine.locate_account,
            engine.locate_subscriber,
        )
        self.account_keys, self.remember_parent = engine.account_keys, engine.remember_parent
        self.remember_route = engine.remember_route
        self._parents, self._routes = engine.parents, engine.routes
        # provisioning
        self.create_customer = provisioning.create_customer
        self.create_account = provisioning.create_account
        self.create_subscriber = provisioning.create_subscriber
        self.set_subscriber_status = provisioning.set_subscriber_status
        self.set_account_status = provisioning.set_account_status
        self.change_identities = provisioning.change_identities
        self.change_offers = provisioning.change_offers
        self.add_buckets = provisioning.add_buckets
        self.remove_buckets = provisioning.remove_buckets
        # reads
        self.reads = reads = Reads(engine)
        self.lookup, self.get_customer = reads.lookup, reads.get_customer
        self.get_account, self.get_subscriber = reads.get_account, reads.get_subscriber
        self.locate_session, self.get_session = reads.locate_session, reads.get_session
        self.live_session_count, self.live_sessions = reads.live_session_count, reads.live_sessions

        self._tombstone_ms = config.session_tombstone_s * 1000
        self._idle_ms = config.session_idle_s * 1000

    @property
    def executor(self) -> Executor:
        return self.engine.executor

    @property
    def target(self) -> RedisTarget | Callable[[], RedisTarget]:
        """What the store was made with (another store on the same Redis: tests, tools)."""
        return self.engine.target

    # -- charging ---------------------------------------------------------------------------

    async def session(self, op: SessionOp) -> SessionResult:
        """CCR-I/U/T: commit used units, release the rest, reserve the next grant.

        A Session-Id is one session system-wide: a CCR-I first claims the session's global
        locator (``SET NX``); if another partition holds it (a live or recently ended session of
        another customer), the request is refused with SESSION_EXISTS and changes nothing. In
        the same partition the script itself tells a repeat from a second session."""
        p, request, info, acct, parent, sub = self.session_request(op)
        rt = request[Request.TYPE]
        locator = None
        if rt == "initial":
            if not await self._claim_session(op.session_id, p.partition):
                count("session", "SESSION_EXISTS")
                return sessions.session_result({"outcome": "SESSION_EXISTS"})
        elif rt == "update" and request[Request.RN] % LOCATOR_REFRESH_EVERY == 0:
            key = session_locator_key(op.session_id)
            ttl = self.config.locator_ttl_s
            locator = asyncio.ensure_future(
                self.execute(slot_of(key), "SET", key, p.partition, "EX", ttl)
            )
        try:
            result = await self._session_call(p, request, info, acct, parent, sub)
        finally:
            if locator is not None:
                await locator
        if result.outcome is Outcome.OK:
            if rt == "terminate":
                self.remember_route(op.session_id, None)
            elif not result.replayed:
                route = (request[Request.ACCT], request[Request.PARENT], request[Request.SUB])
                self.remember_route(op.session_id, route)
        return result

    async def _claim_session(self, session_id: str, partition: int) -> bool:
        """Claim the session's global locator for ``partition``; False if another partition
        holds it (it is kept ``locator_ttl_s`` after the session's last request)."""
        key = session_locator_key(session_id)
        slot, ttl = slot_of(key), self.config.locator_ttl_s
        if await self.execute(slot, "SET", key, partition, "NX", "EX", ttl):
            return True
        held = await self.execute(slot, "GET", key)
        if held is None:  # expired in between: claim it again
            return bool(await self.execute(slot, "SET", key, partition, "NX", "EX", ttl))
        if int(held) != partition:
            return False
        await self.execute(slot, "EXPIRE", key, ttl)
        return True

    def session_request(
        self, op: SessionOp
    ) -> tuple[PartitionKeys, list[Any], bytes, str, str, str]:
        """The request array of ``lua/session.lua`` (routing fields set by session_keys) and
        the packed service information (ARGV[2], copied into the event as it is): what
        :meth:`session` sends (ocs.bench.balance replays the same bytes on a raw connection)."""
        sid, rn, now = op.session_id, op.request_number, op.now_ms
        if not (
            type(sid) is str
            and sid
            and type(rn) is int
            and 0 <= rn < MAX_INT
            and type(now) is int
            and 0 <= now < MAX_INT
        ):
            codec.check_text("session_id", sid)
            codec.check_int("request_number", rn)
            codec.check_int("now_ms", now)
        rt = _REQUEST_TYPES.get(op.request_type) or RequestType(op.request_type).value
        p = self.partition(op.partition)
        items = [codec.session_item_wire(item, n) for n, item in enumerate(op.items)]
        acct, sub = op.account_id, op.subscriber_id
        if not acct or not sub:
            route = self._routes.get(sid)
            if route is not None:
                acct, sub = route[0], route[2]
        info = op.service_info
        request = [  # records.Request, in order
            sid,
            rn,
            rt,
            now,
            "",  # ACCT, PARENT, SUB: set by session_keys
            "",
            "",
            op.origin_host,
            op.origin_realm,
            items,
            f"session:{sid}:{rn}",
            self._tombstone_ms,
            self._idle_ms,
        ]
        packed_info = codec.pack(info if type(info) is dict else dict(info))
        return p, request, packed_info, acct, self._parents.get(acct, ""), sub

    async def _session_call(
        self,
        p: PartitionKeys,
        request: list[Any],
        info: bytes,
        acct: str,
        parent: str,
        sub: str,
    ) -> SessionResult:
        for _ in range(STALE_RETRIES):
            keys = session_keys(p, request, acct, parent, sub)
            raw = codec.unpack(await self.call("session", p, keys, codec.pack(request), info))
            if type(raw) is list:
                _SESSION_OK.total += 1
                return sessions.session_result(raw)
            count("session", raw["outcome"])
            if raw["outcome"] != "STALE":
                break
            acct, parent, sub = raw["acct"], raw["parent"], raw["sub"]
            self.remember_parent(acct, parent)
        return sessions.session_result(raw)

    async def debit(
        self,
        op_id: str,
        account_id: str,
        items: Sequence[DebitItem],
        *,
        now_ms: int,
        subscriber_id: str = "",
        service_info: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> DebitResult:
        """Direct debit (EVENT): each item charged in full, or NO_CREDIT and nothing changes.

        Idempotent by ``op_id`` on this account (a repeat with other items is ALREADY_EXISTS).
        ``dry_run``: the same decision from the same script, nothing written or recorded (a
        balance check)."""
        codec.check_text("op_id", op_id)
        codec.check_int("now_ms", now_ms)
        wire = [codec.debit_item_wire(item, n) for n, item in enumerate(items)]
        found = await self.account_keys(account_id)
        if found is None:
            return DebitResult(Outcome.UNKNOWN_ACCOUNT, (), False, 0)
        p, parent = found
        scoped = f"{account_id}:{op_id}"
        request: dict[str, Any] = {
            "op": op_id,
            "eid": f"debit:{scoped}",
            "now": now_ms,
            "sub": subscriber_id,
            "items": wire,
            "info": dict(service_info or {}),
            "ttl": self.ttl_ms,
            "fp": debit_fingerprint(items),
            "dry": dry_run,
        }
        sub_key = p.subscriber(subscriber_id) if subscriber_id else p.account(account_id)
        raw = await self._with_parent(
            "debit",
            p,
            account_id,
            parent,
            request,
            lambda parent: [
                p.operation("debit:" + scoped),
                p.account(account_id),
                p.account(parent or account_id),
                sub_key,
                p.stream,
            ],
        )
        return DebitResult(
            outcome=codec.OUTCOMES[raw["outcome"]],
            items=tuple(codec.item_result(i) for i in raw.get("items") or ()),
            replayed=bool(raw.get("replayed", False)),
            balance_after=raw.get("balance", 0),
            field=raw.get("field", ""),
            message=raw.get("message", ""),
        )

    async def _with_parent(
        self,
        name: str,
        p: PartitionKeys,
        account_id: str,
        parent: str,
        request: dict[str, Any],
        keys: Callable[[str], list[str]],
    ) -> dict[str, Any]:
        """Run a script that names the account's parent (pool); on STALE (the cached parent
        was wrong) learn it from the answer and run it again."""
        for _ in range(STALE_RETRIES):
            request["parent"] = parent
            raw = await self.script(name, p, keys(parent), request)
            if raw["outcome"] != "STALE":
                return raw
            parent = raw["parent"]
            self.remember_parent(account_id, parent)
        return raw

    async def refund(
        self,
        op_id: str,
        account_id: str,
        *,
        now_ms: int,
        refund_of: str = "",
        amount: int = 0,
        reason: str = "",
        actor: str = "",
        subscriber_id: str = "",
        unreferenced_cap: int = 0,
    ) -> OpResult:
        """Money back, never more than was charged: the reversal of debit ``refund_of`` of this
        account (all it charged and is not refunded yet, or ``amount`` of its money), or, with
        no ``refund_of``, ``amount`` to the main wallet within ``unreferenced_cap`` per account
        and calendar month (0: refused). Idempotent by ``op_id`` on this account."""
        codec.check_text("op_id", op_id)
        codec.check_int("now_ms", now_ms)
        codec.check_int("amount", amount)
        codec.check_int("unreferenced_cap", unreferenced_cap)
        if not refund_of and not amount:
            raise InvalidRequest("amount", "an unreferenced refund needs an amount")
        found = await self.account_keys(account_id)
        if found is None:
            return OpResult(Outcome.UNKNOWN_ACCOUNT, False, field="account_id")
        p, parent = found
        scoped = f"{account_id}:{op_id}"
        op_key = p.operation("refund:" + scoped)
        request: dict[str, Any] = {
            "op": op_id,
            "eid": f"refund:{scoped}",
            "now": now_ms,
            "of": refund_of,
            "amount": amount,
            "reason": reason,
            "actor": actor,
            "sub": subscriber_id,
            "cap": unreferenced_cap,
            "ttl": self.ttl_ms,
            "fp": f"refund of {refund_of or 'nothing named'}: {amount or 'all'}",
        }
        of_key = p.operation(f"debit:{account_id}:{refund_of}") if refund_of else op_key
        raw = await self._with_parent(
            "refund",
            p,
            account_id,
            parent,
            request,
            lambda parent: [
                op_key,
                p.account(account_id),
                p.account(parent or account_id),
                of_key,
                p.stream,
            ],
        )
        return codec.op_result(raw, "credited")

    async def topup(
        self,
        payment_id: str,
        account_id: str,
        amount: int,
        currency: str,
        *,
        now_ms: int,
        bucket: str = "money",
        actor: str = "",
        info: Mapping[str, str] | None = None,
    ) -> TopupResult:
        """Money in, idempotent by the caller's payment id."""
        codec.check_text("payment_id", payment_id)
        codec.check_int("amount", amount, minimum=1)
        codec.check_text("currency", currency)
        codec.check_int("now_ms", now_ms)
        found = await self.account_keys(account_id)
        if found is None:
            return TopupResult(Outcome.UNKNOWN_ACCOUNT, 0, (), False)
        p, _ = found
        scoped = f"{account_id}:{payment_id}"
        request = {
            "op": payment_id,
            "eid": f"topup:{scoped}",
            "acct": account_id,
            "now": now_ms,
            "amount": amount,
            "currency": currency,
            "bucket": bucket,
            "actor": actor,
            "info": dict(info or {}),
            "ttl": self.ttl_ms,
            "fp": f"{amount} {currency} to {bucket}",
        }
        keys = [
            p.operation("topup:" + scoped),
            p.account(account_id),
            p.live(account_id),
            p.stream,
        ]
        raw = await self.script("topup", p, keys, request)
        sessions = codec.live_sessions((s["sid"], s) for s in raw.get("sessions") or ())
        return TopupResult(
            outcome=codec.OUTCOMES[raw["outcome"]],
            balance=raw.get("balance", 0),
            sessions=tuple(sessions),
            replayed=bool(raw.get("replayed", False)),
            field=raw.get("field", ""),
            message=raw.get("message", ""),
        )

    async def adjust(
        self,
        op_id: str,
        account_id: str,
        bucket_id: str,
        amount: int,
        *,
        reason: str,
        actor: str,
        now_ms: int,
    ) -> OpResult:
        """Operator correction (signed amount) of one bucket; never below the credit floor."""
        codec.check_text("op_id", op_id)
        codec.check_int("amount", amount, signed=True)
        codec.check_text("reason", reason)
        codec.check_text("actor", actor)
        codec.check_int("now_ms", now_ms)
        found = await self.account_keys(account_id)
        if found is None:
            return OpResult(Outcome.UNKNOWN_ACCOUNT, False, field="account_id")
        p, _ = found
        scoped = f"{account_id}:{op_id}"
        request = {
            "op": op_id,
            "eid": f"adjust:{scoped}",
            "acct": account_id,
            "now": now_ms,
            "bucket": bucket_id,
            "amount": amount,
            "reason": reason,
            "actor": actor,
            "ttl": self.ttl_ms,
            "fp": f"{amount:+d} on {bucket_id}",
        }
        keys = [p.operation("adjust:" + scoped), p.account(account_id), p.stream]
        return codec.op_result(await self.script("adjust", p, keys, request))

    async def purchase(
        self,
        op_id: str,
        subscriber_id: str,
        offer_id: str,
        *,
        kind: str,
        charges: Sequence[Charge],
        buckets: Sequence[Bucket],
        now_ms: int,
        renew_at: int | None = None,
        actor: str = "",
        info: Mapping[str, str] | None = None,
    ) -> OpResult:
        """An offer bought (``kind`` purchase) or renewed for a bill period (renewal), in one
        script: ``charges`` from money (never below the credit floor: else NO_CREDIT and
        nothing changes), ``buckets`` added, the offer on the subscriber's list, its next
        renewal at ``renew_at`` (kept if earlier), one ``purchase`` event. Idempotent by
        ``op_id`` on the subscriber's account (another request under it: ALREADY_EXISTS)."""
        codec.check_text("op_id", op_id)
        codec.check_text("offer_id", offer_id)
        codec.check_int("now_ms", now_ms)
        if kind not in ("purchase", "renewal"):
            raise InvalidRequest("kind", "purchase or renewal")
        wire_charges: list[dict[str, Any]] = []
        for n, charge in enumerate(charges):
            if charge.what not in ("price", "fee"):
                raise InvalidRequest(f"charges[{n}].what", "price or fee")
            codec.check_int(f"charges[{n}].amount", charge.amount)
            wire_charges.append(
                {"what": charge.what, "amount": charge.amount, "period": charge.period}
            )
        if sum(charge.amount for charge in charges) >= MAX_INT:
            raise InvalidRequest("charges", "must add up to less than 2**53")
        wire_buckets = []
        for n, bucket in enumerate(buckets):
            item = codec.bucket_wire(bucket, n)
            if not item["thresholds"] and bucket.unit != "money":
                item["thresholds"] = list(self.config.allowance_thresholds)
            item["source"] = item["source"] or offer_id
            wire_buckets.append(item)
        if renew_at is not None:
            codec.check_int("renew_at", renew_at)
        found = await self.locate_subscriber(codec.check_text("subscriber_id", subscriber_id))
        if found is None:
            return OpResult(Outcome.UNKNOWN_SUBSCRIBER, False, field="subscriber_id")
        account_id, _, partition = found
        p = self.keys[partition]
        parent = self._parents.get(account_id, "")
        scoped = f"{account_id}:{op_id}"
        amounts = ", ".join(f"{c['what']} {c['amount']}" for c in wire_charges) or "nothing"
        request: dict[str, Any] = {
            "op": op_id,
            "eid": f"purchase:{scoped}",
            "now": now_ms,
            "kind": kind,
            "offer": offer_id,
            "sub": subscriber_id,
            "charges": wire_charges,
            "add": wire_buckets,
            "renew_at": renew_at if renew_at is not None else False,
            "actor": actor,
            "info": dict(info or {}),
            "ttl": self.ttl_ms,
            "fp": f"{kind} of {offer_id} for {subscriber_id}: {amounts}",
        }
        raw = await self._with_parent(
            "purchase",
            p,
            account_id,
            parent,
            request,
            lambda parent: [
                p.operation("purchase:" + scoped),
                p.account(account_id),
                p.account(parent or account_id),
                p.subscriber(subscriber_id),
                p.bucket_expiry,
                p.renewals,
                p.stream,
            ],
        )
        if raw["outcome"] == "OK":
            # every process drops its rating profile of the subscriber (the offer's rates)
            await self.execute(slot_of(PROFILE_CHANNEL), "PUBLISH", PROFILE_CHANNEL, subscriber_id)
        return codec.op_result(raw, "charged")


def debit_fingerprint(items: Sequence[DebitItem]) -> str:
    """What a debit asks for, as a repeat must ask it again: rating group, units and unit of
    each item (not the tariff: a retransmission across a tariff change is still a repeat)."""
    return ", ".join(f"rg {i.rating_group}: {i.units} {i.unit.value}" for i in items)


def session_keys(
    p: PartitionKeys, request: list[Any], acct: str, parent: str, sub: str
) -> list[str]:
    """KEYS of session.lua (and the routing fields of its request, set in place)."""
    request[Request.ACCT], request[Request.PARENT], request[Request.SUB] = acct, parent, sub
    return [
        p.session(request[Request.SID]),
        p.account(acct),
        p.account(parent or acct),
        p.subscriber(sub),
        p.live(acct),
        p.live(parent or acct),
        p.reservation_expiry,
        p.stream,
    ]
