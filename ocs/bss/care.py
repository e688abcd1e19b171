"""Care operations on customers, accounts and subscribers, with their audit trail.

What a care agent (or an admin) does to a customer: find it, suspend or resume a subscriber,
swap its SIM (new IMSI) or change its number (MSISDN, e.g. porting), adjust a balance, change a
credit limit, delete a subscriber. Each is one call of the balance engine (through the gRPC
Admin handlers where one exists, so the rules and errors are the same), then a row in the
customer's activity trail naming the agent and the reason. Identity changes keep the subscriber
id, its account (so every balance and bucket) and its live sessions: a session is found by its
Session-Id after its first request, never by identity again, so the next CCR-U of a session
that started under the old IMSI is charged as before.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from ocs.api.auth import Principal
from ocs.api.convert import STATUS_PB
from ocs.api.errors import from_outcome, invalid, not_found, precondition
from ocs.api.v1 import admin_pb2, common_pb2
from ocs.balance.model import Identity, LiveSession, Outcome, Status, Subscriber
from ocs.bss import activity
from ocs.bss.access import ADMIN, STAFF, actor, call_of, require
from ocs.bss.context import Services
from ocs.bss.directory import Entry, identities
from ocs.charging.signals import Signal

DIGITS = re.compile(r"^[0-9]{5,15}$")
REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class Deleted:
    subscriber: str
    account: str
    sessions_aborted: int
    balances: str
    """What happens to the balances, in words (shown by the CLI and the portal)."""


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise invalid("reason", "required: it is recorded with the change")
    if len(reason) > REASON_MAX:
        raise invalid("reason", f"at most {REASON_MAX} characters")
    return reason


def _op(kind: str) -> str:
    return f"care:{kind}:{uuid.uuid4().hex}"


class Care:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def search(
        self, principal: Principal, query: str, offset: int = 0, limit: int = 20
    ) -> tuple[list[Entry], int]:
        require(principal, STAFF)
        if len(query) > 128:
            raise invalid("q", "at most 128 characters")
        if not 1 <= limit <= 500:
            raise invalid("limit", "must be 1..500")
        if offset < 0:
            raise invalid("offset", "must not be negative")
        return await self.s.directory.search(query, offset, limit)

    async def subscriber(self, subscriber_id: str, field: str = "subscriber") -> Subscriber:
        found = await self.s.store.get_subscriber(subscriber_id) if subscriber_id else None
        if found is None:
            raise not_found("subscriber", subscriber_id, field)
        return found

    async def live_sessions(self, principal: Principal, account_id: str) -> list[LiveSession]:
        require(principal, STAFF)
        if await self.s.store.get_account(account_id) is None:
            raise not_found("account", account_id, "account_id")
        return await self.s.store.live_sessions(account_id)

    async def set_status(
        self, principal: Principal, subscriber_id: str, status: Status, reason: str
    ) -> Subscriber:
        require(principal, STAFF)
        reason = _reason(reason)
        subscriber = await self.subscriber(subscriber_id)
        await self.s.admin.set_subscriber_status(
            admin_pb2.SetSubscriberStatusRequest(
                subscriber=common_pb2.SubscriberRef(subscriber_id=subscriber.id),
                status=STATUS_PB[status],
                reason=reason,
            ),
            call_of(principal),
        )
        await self._log(principal, subscriber, f"status:{status.value}", reason=reason)
        return await self.subscriber(subscriber.id)

    async def swap_sim(
        self, principal: Principal, subscriber_id: str, imsi: str, reason: str
    ) -> Subscriber:
        """A new SIM: the new IMSI replaces the old one; id, account, balances, sessions stay."""
        require(principal, STAFF)
        if not DIGITS.match(imsi):
            raise invalid("imsi", "digits only, 5..15 of them")
        return await self._replace(principal, subscriber_id, "imsi", imsi, reason, "sim_swap")

    async def change_msisdn(
        self, principal: Principal, subscriber_id: str, msisdn: str, reason: str
    ) -> Subscriber:
        """A new number (porting in, a number change): the old one is released."""
        require(principal, STAFF)
        msisdn = msisdn.lstrip("+")
        if not DIGITS.match(msisdn):
            raise invalid("msisdn", "E.164 digits only, 5..15 of them")
        return await self._replace(principal, subscriber_id, "e164", msisdn, reason, "msisdn")

    async def _replace(
        self,
        principal: Principal,
        subscriber_id: str,
        kind: str,
        value: str,
        reason: str,
        action: str,
    ) -> Subscriber:
        reason = _reason(reason)
        field = "imsi" if kind == "imsi" else "msisdn"
        subscriber = await self.subscriber(subscriber_id)
        if subscriber.status is Status.TERMINATED:
            raise precondition("SUBSCRIBER_TERMINATED", "the subscriber is terminated", field)
        old = [i for i in subscriber.identities if i.kind == kind]
        new = Identity(kind, value)
        if new in old:
            raise invalid(field, f"the subscriber already has {field} {value}")
        result = await self.s.store.change_identities(
            _op(action),
            subscriber.id,
            now_ms=self.s.clock(),
            add=[new],
            remove=old,
            actor=actor(principal),
        )
        if result.outcome is Outcome.ALREADY_EXISTS:
            raise from_outcome(result.outcome, f"{field} {value} is another subscriber's", field)
        if not result.ok:
            raise from_outcome(result.outcome, result.message, field, subscriber.id)
        changed = await self.subscriber(subscriber.id)
        await self.s.directory_put(changed)
        await self._log(
            principal,
            subscriber,
            action,
            reason=reason,
            old=",".join(i.value for i in old),
            new=value,
        )
        return changed

    async def adjust(
        self, principal: Principal, account_id: str, amount: int, reason: str, bucket: str = ""
    ) -> int:
        """A signed correction of one bucket (the main wallet by default); the balance after."""
        require(principal, STAFF)
        reason = _reason(reason)
        reply = await self.s.admin.adjust_balance(
            admin_pb2.AdjustBalanceRequest(
                adjustment_id=_op("adjust"),
                account_id=account_id,
                amount=amount,
                reason=reason,
                bucket_id=bucket,
            ),
            call_of(principal),
        )
        account = await self.s.store.get_account(account_id)
        await self.s.db.run(
            activity.log,
            self.s.db,
            self.s.clock(),
            actor(principal),
            "adjust",
            customer=account.customer_id if account else "",
            account=account_id,
            amount=amount,
            bucket=bucket or "money",
            reason=reason,
        )
        return int(reply.balance)

    async def set_credit_limit(
        self, principal: Principal, account_id: str, limit: int, reason: str
    ) -> int:
        require(principal, ADMIN)
        reason = _reason(reason)
        if not 0 <= limit < 2**53:
            raise invalid("credit_limit", "must be in [0, 2**53)")
        found = await self.s.store.account_keys(account_id)
        account = await self.s.store.get_account(account_id)
        if found is None or account is None:
            raise not_found("account", account_id, "account_id")
        if (limit > 0) != (account.credit_limit > 0):
            raise precondition(
                "ACCOUNT_KIND",
                "a credit limit turns a prepaid account into a postpaid one (or back): "
                "open a new account instead",
                "credit_limit",
            )
        p, _ = found
        op = _op("credit_limit")
        raw = await self.s.store.script(
            "credit_limit",
            p,
            [p.operation("credit_limit:" + op), p.account(account_id), p.stream],
            {
                "op": op,
                "eid": f"provision:{op}",
                "acct": account_id,
                "now": self.s.clock(),
                "limit": limit,
                "reason": reason,
                "actor": actor(principal),
                "ttl": self.s.store.ttl_ms,
            },
        )
        if raw["outcome"] != "OK":
            raise precondition("CREDIT_IN_USE", str(raw.get("message", "")), "credit_limit")
        await self.s.db.run(
            activity.log,
            self.s.db,
            self.s.clock(),
            actor(principal),
            "credit_limit",
            customer=account.customer_id,
            account=account_id,
            previous=account.credit_limit,
            credit_limit=limit,
            reason=reason,
        )
        return limit

    async def delete_subscriber(
        self, principal: Principal, subscriber_id: str, reason: str
    ) -> Deleted:
        """Terminate (live sessions aborted by ASR; their reservations go back to the account
        when they end or expire), then release its numbers for reuse. The subscriber record
        stays, terminated, for billing history; balances belong to the account and stay."""
        require(principal, ADMIN)
        reason = _reason(reason)
        subscriber = await self.subscriber(subscriber_id)
        sessions = await self.s.store.live_sessions(subscriber.account_id, subscriber.id)
        if subscriber.status is not Status.TERMINATED:
            result = await self.s.operations.terminate_subscriber(
                _op("terminate"), subscriber.id, actor=actor(principal), reason=reason
            )
            if not result.ok:
                raise from_outcome(result.outcome, result.message, "subscriber", subscriber.id)
        if subscriber.identities:
            released = await self.s.store.change_identities(
                _op("release"),
                subscriber.id,
                now_ms=self.s.clock(),
                remove=list(subscriber.identities),
                actor=actor(principal),
            )
            if not released.ok:
                raise from_outcome(released.outcome, released.message, "subscriber")
        account = await self.s.store.get_account(subscriber.account_id)
        others = [s for s in (account.subscribers if account else ()) if s != subscriber.id]
        money = account.money if account else 0
        buckets = len(account.buckets) if account else 0
        balances = (
            f"balances stay on account {subscriber.account_id} (main wallet {money} minor units, "
            f"{buckets} bucket(s)); "
            + (
                f"{len(others)} other subscriber(s) keep using them"
                if others
                else "no other subscriber uses them: refund or close the account"
            )
        )
        await self.s.directory_put(await self.subscriber(subscriber.id))
        await self._log(
            principal,
            subscriber,
            "delete",
            reason=reason,
            sessions=len(sessions),
            balances=balances,
        )
        return Deleted(subscriber.id, subscriber.account_id, len(sessions), balances)

    async def _log(
        self, principal: Principal, subscriber: Subscriber, action: str, **detail: object
    ) -> None:
        msisdn, _ = identities(subscriber)
        await self.s.db.run(
            activity.log,
            self.s.db,
            self.s.clock(),
            actor(principal),
            action,
            customer=subscriber.customer_id,
            account=subscriber.account_id,
            subscriber=subscriber.id,
            msisdn=msisdn,
            **detail,
        )

    async def reauthorize(self, account_id: str) -> None:
        sessions = await self.s.store.live_sessions(account_id)
        await self.s.operations.signals.signal(
            Signal.REAUTHORIZE, [s for s in sessions if s.state != "ok"]
        )
