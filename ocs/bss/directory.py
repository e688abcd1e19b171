"""The directory: a search index of customers, accounts and subscribers (name, MSISDN, IMSI,
ids), kept in the BSS database from the balance engine's provisioning events.

The balance engine keys its records by id and identity only; care searches by name and by
parts of numbers. The event feed (:mod:`ocs.bss.feed`) hands every ``provision`` event here;
the records it names are read again from the engine (the source of truth) and written to the
index, so a replayed or reordered event changes nothing. Exact look-ups (an MSISDN, an IMSI, an
id) go to the engine first, so they find a record the moment it exists; name searches find it
once the feed has read its event (``feed_interval_ms``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ocs.balance.events import Event
from ocs.balance.model import Account, Customer, Subscriber
from ocs.balance.store import BalanceStore
from ocs.bss.database import BssDatabase

DIGITS = re.compile(r"^\+?[0-9]{3,15}$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One search hit: a subscriber (with its account and customer), or a customer alone."""

    customer: str
    name: str
    account: str = ""
    subscriber: str = ""
    msisdn: str = ""
    imsi: str = ""
    status: str = ""
    email: str = ""


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def identities(subscriber: Subscriber) -> tuple[str, str]:
    msisdn = next((i.value for i in subscriber.identities if i.kind == "e164"), "")
    imsi = next((i.value for i in subscriber.identities if i.kind == "imsi"), "")
    return msisdn, imsi


class Directory:
    def __init__(self, db: BssDatabase, store: BalanceStore) -> None:
        self.db = db
        self.store = store

    # -- keeping it -------------------------------------------------------------------------

    async def on_events(self, events: Iterable[Event], now_ms: int) -> None:
        customers: set[str] = set()
        accounts: set[str] = set()
        subscribers: set[str] = set()
        for event in events:
            data = event.data
            if data.get("type") != "provision":
                continue
            kind = data.get("kind")
            if kind == "customer":
                customers.add(str(data.get("cust") or ""))
            elif kind == "account":
                accounts.add(str(data.get("acct") or ""))
                customers.add(str(data.get("cust") or ""))
            elif kind in ("subscriber", "subscriber_remove", "status", "identities", "offers"):
                if data.get("sub"):
                    subscribers.add(str(data["sub"]))
                elif data.get("acct"):
                    accounts.add(str(data["acct"]))
        for customer_id in customers - {""}:
            customer = await self.store.get_customer(customer_id)
            if customer is not None:
                await self.db.run(self.put_customer, customer, now_ms)
        for account_id in accounts - {""}:
            account = await self.store.get_account(account_id)
            if account is not None:
                await self.db.run(self.put_account, account, now_ms)
        for subscriber_id in subscribers:
            subscriber = await self.store.get_subscriber(subscriber_id)
            if subscriber is not None:
                await self.db.run(self.put_subscriber, subscriber, now_ms)
            else:
                await self.db.run(
                    self.db.write,
                    "DELETE FROM directory_subscribers WHERE id = ?",
                    (subscriber_id,),
                )

    def put_customer(self, customer: Customer, now_ms: int) -> None:
        profile = dict(customer.profile)
        name = customer.name or customer.id
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM directory_customers WHERE id = ?", (customer.id,))
            cur.execute(
                "INSERT INTO directory_customers (id, name, name_key, email, segment, updated_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    customer.id,
                    name,
                    name_key(name),
                    profile.get("email", ""),
                    profile.get("segment", "consumer"),
                    now_ms,
                ),
            )

    def put_account(self, account: Account, now_ms: int) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM directory_accounts WHERE id = ?", (account.id,))
            cur.execute(
                "INSERT INTO directory_accounts (id, customer, postpaid, updated_ms) "
                "VALUES (?, ?, ?, ?)",
                (account.id, account.customer_id, int(account.credit_limit > 0), now_ms),
            )

    def put_subscriber(self, subscriber: Subscriber, now_ms: int) -> None:
        msisdn, imsi = identities(subscriber)
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM directory_subscribers WHERE id = ?", (subscriber.id,))
            cur.execute(
                "INSERT INTO directory_subscribers (id, account, customer, msisdn, imsi, status, "
                "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    subscriber.id,
                    subscriber.account_id,
                    subscriber.customer_id,
                    msisdn,
                    imsi,
                    subscriber.status.value,
                    now_ms,
                ),
            )

    # -- reading it -------------------------------------------------------------------------

    async def search(self, query: str, offset: int, limit: int) -> tuple[list[Entry], int]:
        """(a page of hits, how many there are): exact ids and identities first (from the
        engine), then the index (name parts, number prefixes)."""
        query = query.strip()
        exact = await self._exact(query)
        found, total = await self.db.run(self._search, query, offset, limit)
        seen = {(e.customer, e.subscriber) for e in exact}
        merged = exact + [e for e in found if (e.customer, e.subscriber) not in seen]
        extra = len(merged) - len(found)
        return merged[:limit] if offset == 0 else found, total + extra

    async def _exact(self, query: str) -> list[Entry]:
        if not query:
            return []
        subscribers: list[Subscriber] = []
        digits = query.lstrip("+")
        if DIGITS.match(query):
            for kind in ("e164", "imsi"):
                locator = await self.store.lookup(kind, digits)
                if locator is not None:
                    found = await self.store.get_subscriber(locator.subscriber_id)
                    if found is not None:
                        subscribers.append(found)
        if re.match(r"^[A-Za-z0-9._:@-]{1,128}$", query):
            found = await self.store.get_subscriber(query)
            if found is not None:
                subscribers.append(found)
            account = await self.store.get_account(query)
            if account is not None:
                for sub_id in account.subscribers:
                    sub = await self.store.get_subscriber(sub_id)
                    if sub is not None:
                        subscribers.append(sub)
        entries: list[Entry] = []
        for sub in subscribers:
            customer = await self.store.get_customer(sub.customer_id)
            msisdn, imsi = identities(sub)
            entries.append(
                Entry(
                    sub.customer_id,
                    (customer.name if customer else "") or sub.customer_id,
                    sub.account_id,
                    sub.id,
                    msisdn,
                    imsi,
                    sub.status.value,
                    dict(customer.profile).get("email", "") if customer else "",
                )
            )
        unique = {(e.customer, e.subscriber): e for e in entries}
        return list(unique.values())

    def _search(self, query: str, offset: int, limit: int) -> tuple[list[Entry], int]:
        digits = query.lstrip("+")
        clauses = ["c.name_key LIKE ?", "c.id = ?", "s.account = ?", "s.id = ?"]
        params: list[object] = [f"%{name_key(query)}%", query, query, query]
        if digits.isdigit():
            clauses += ["s.msisdn LIKE ?", "s.imsi LIKE ?"]
            params += [f"{digits}%", f"{digits}%"]
        base = (
            "FROM directory_customers c LEFT JOIN directory_subscribers s ON s.customer = c.id "
            f"WHERE ({' OR '.join(clauses)})"
        )
        total_row = self.db.one(f"SELECT COUNT(*) {base}", tuple(params))
        total = int(total_row[0]) if total_row else 0
        rows = self.db.rows(
            "SELECT c.id, c.name, COALESCE(s.account, ''), COALESCE(s.id, ''), "
            "COALESCE(s.msisdn, ''), COALESCE(s.imsi, ''), COALESCE(s.status, ''), c.email "
            f"{base} ORDER BY c.name_key, c.id, s.id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [Entry(*row) for row in rows], total

    def segment(self, customer: str) -> str:
        row = self.db.one("SELECT segment FROM directory_customers WHERE id = ?", (customer,))
        return str(row[0]) if row else "consumer"

    def email(self, customer: str) -> str:
        row = self.db.one("SELECT email FROM directory_customers WHERE id = ?", (customer,))
        return str(row[0]) if row else ""
