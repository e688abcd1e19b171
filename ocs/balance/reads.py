"""Reads of the balance records: customers, accounts, subscribers, sessions, by id or identity.

What care, the APIs and the tools look at; nothing here writes. Part of
:class:`ocs.balance.store.BalanceStore`, which exposes these methods as its own.
"""

from __future__ import annotations

import asyncio

from ocs.balance import codec, sessions
from ocs.balance.engine import Engine
from ocs.balance.keys import session_locator_key, slot_of
from ocs.balance.model import Account, Customer, LiveSession, Locator, SessionView, Subscriber


class Reads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def lookup(self, kind: str, value: str) -> Locator | None:
        """Identity (e.g. ``("e164", "491700000001")``) -> subscriber locator, cached."""
        return await self.engine.identities.lookup(kind, value)

    async def get_customer(self, customer_id: str) -> Customer | None:
        p = self.engine.keys[self.engine.partition_of(codec.check_text("customer_id", customer_id))]
        raw = await self.engine.execute(p.slot, "GET", p.customer(customer_id))
        return codec.customer_from(codec.unpack(raw), p.partition) if raw else None

    async def get_account(self, account_id: str) -> Account | None:
        found = await self.engine.account_keys(account_id)
        if found is None:
            return None
        p = found[0]
        raw, members = await asyncio.gather(
            self.engine.execute(p.slot, "GET", p.account(account_id)),
            self.engine.execute(p.slot, "SMEMBERS", p.members(account_id)),
        )
        if not raw:
            return None
        subscribers = tuple(sorted(m.decode() for m in members))
        return codec.account_from(codec.unpack(raw), p.partition, subscribers)

    async def get_subscriber(self, subscriber_id: str) -> Subscriber | None:
        found = await self.engine.locate_subscriber(
            codec.check_text("subscriber_id", subscriber_id)
        )
        if found is None:
            return None
        p = self.engine.keys[found[2]]
        raw = await self.engine.execute(p.slot, "GET", p.subscriber(subscriber_id))
        return codec.subscriber_from(codec.unpack(raw), p.partition) if raw else None

    async def locate_session(self, session_id: str) -> int | None:
        """The partition of a live session (for a CCR-U that carries no identity)."""
        key = session_locator_key(codec.check_text("session_id", session_id))
        raw = await self.engine.execute(slot_of(key), "GET", key)
        return int(raw) if raw is not None else None

    async def get_session(
        self, session_id: str, partition: int | None = None, *, closed: bool = False
    ) -> SessionView | None:
        """A live session; with ``closed``, also a session that ended and is still kept as a
        tombstone (its route, for answering a repeat of its last request)."""
        if partition is None:
            partition = await self.locate_session(session_id)
            if partition is None:
                return None
        p = self.engine.partition(partition)
        raw = await self.engine.execute(p.slot, "GET", p.session(session_id))
        return None if raw is None else sessions.session_view(raw, closed=closed)

    async def live_session_count(self, partition: int) -> int:
        """Sessions of one partition that hold reservations (they are in its expiry index)."""
        p = self.engine.partition(partition)
        return int(await self.engine.execute(p.slot, "ZCARD", p.reservation_expiry))

    async def live_sessions(self, account_id: str, subscriber_id: str = "") -> list[LiveSession]:
        """Live sessions of an account (of a shared pool: its members' too), with the gateway
        (origin host/realm) that owns each; optionally one subscriber's only."""
        found = await self.engine.account_keys(account_id)
        if found is None:
            return []
        p = found[0]
        flat = await self.engine.execute(p.slot, "HGETALL", p.live(account_id))
        sids = [flat[i].decode() for i in range(0, len(flat), 2)]
        if not sids:
            return []
        # the entry changes with the state only: the expiry is the session record's
        records = await self.engine.execute(p.slot, "MGET", *(p.session(sid) for sid in sids))
        entries = []
        for n, (sid, record) in enumerate(zip(sids, records, strict=True)):
            entry = codec.unpack(flat[2 * n + 1])
            entry["exp"] = sessions.session_expiry(record)
            entries.append((sid, entry))
        live = codec.live_sessions(sorted(entries, key=lambda e: e[0]))
        if subscriber_id:
            live = [s for s in live if s.subscriber_id == subscriber_id]
        return live
