"""Subscriber profiles for rating: offers, time zone and bill cycle, cached in the process.

Rating needs a subscriber's offers (which rates apply), and the account's time
zone and bill cycle day (time bands, tier periods). A CCR-INITIAL resolves the
subscriber from its identities; later requests of the session find the profile
by Session-Id, in this process's cache or, after a failover to another
process, through the balance engine's session locator.

The cache only feeds rating. Money and status are checked inside the balance
scripts, so a stale profile can never let a suspended subscriber spend. When a
subscriber's offers change (``BalanceStore.change_offers``, e.g. an order),
the engine publishes the subscriber id on ``ocs:profiles`` and every process
drops its entry at once (through the engine's shared pub/sub connection; after
a reconnect the whole cache is cleared, since messages may have been missed);
``ttl`` is the safety net.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ocs.balance.keys import PROFILE_CHANNEL
from ocs.balance.model import Locator
from ocs.balance.store import BalanceStore
from ocs.charging.types import IDENTITY_KIND, SubscriptionIdType

SESSION_CACHE_LIMIT = 500_000
PROFILE_CACHE_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class Profile:
    locator: Locator
    offers: tuple[str, ...]
    timezone: ZoneInfo
    bill_cycle_day: int
    currency: str
    parent_id: str

    @property
    def subscriber_id(self) -> str:
        return self.locator.subscriber_id

    @property
    def account_id(self) -> str:
        return self.locator.account_id


class Profiles:
    def __init__(
        self,
        store: BalanceStore,
        ttl: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.monotonic = monotonic
        self._by_subscriber: OrderedDict[str, tuple[Profile, float]] = OrderedDict()
        self._by_session: OrderedDict[str, str] = OrderedDict()
        self.invalidations = 0
        """Invalidations received (tests and tools wait on it)."""
        store.pubsub.listen(PROFILE_CHANNEL, self._on_message, reset=self._by_subscriber.clear)

    def _on_message(self, data: bytes) -> None:
        self.invalidate(data.decode())
        self.invalidations += 1

    async def by_identities(
        self, subscription_ids: Iterable[tuple[SubscriptionIdType, str]], user_name: str | None
    ) -> Profile | None:
        """The first identity naming a known subscriber wins (Subscription-Ids, then User-Name)."""
        candidates = [(IDENTITY_KIND.get(kind), value) for kind, value in subscription_ids]
        if user_name:
            candidates.append(("username", user_name))
        for kind, value in candidates:
            if kind is None or not value:
                continue
            locator = await self.store.lookup(kind, value)
            if locator is not None:
                return await self.of(locator)
        return None

    async def by_session(self, session_id: str) -> Profile | None:
        """The profile of a session's subscriber: a live session's, or one that ended and is
        still kept as a tombstone (its last request may be repeated, from another process or
        after a restart, and is answered from the record). None: no such session."""
        subscriber_id = self._by_session.get(session_id)
        if subscriber_id is not None:
            cached = self._fresh(subscriber_id)
            if cached is not None:
                return cached
        partition = await self.store.locate_session(session_id)
        if partition is None:
            return None
        view = await self.store.get_session(session_id, partition, closed=True)
        if view is None:
            return None
        locator = Locator(view.subscriber_id, view.account_id, view.customer_id, partition)
        profile = await self.of(locator)
        if profile is not None and not view.closed:
            self.remember_session(session_id, profile)
        return profile

    async def of(self, locator: Locator) -> Profile | None:
        cached = self._fresh(locator.subscriber_id)
        if cached is not None:
            return cached
        subscriber = await self.store.get_subscriber(locator.subscriber_id)
        account = await self.store.get_account(locator.account_id)
        if subscriber is None or account is None:
            return None
        profile = Profile(
            locator=locator,
            offers=tuple(subscriber.offers),
            timezone=ZoneInfo(account.timezone or "UTC"),
            bill_cycle_day=account.bill_cycle_day or 1,
            currency=account.currency,
            parent_id=account.parent_id,
        )
        self._by_subscriber[locator.subscriber_id] = (profile, self.monotonic() + self.ttl)
        if len(self._by_subscriber) > PROFILE_CACHE_LIMIT:
            self._by_subscriber.popitem(last=False)
        return profile

    def remember_session(self, session_id: str, profile: Profile) -> None:
        if self._by_session.get(session_id) == profile.subscriber_id:
            return
        self._by_session[session_id] = profile.subscriber_id
        if len(self._by_session) > SESSION_CACHE_LIMIT:
            self._by_session.popitem(last=False)

    def forget_session(self, session_id: str) -> None:
        self._by_session.pop(session_id, None)

    def invalidate(self, subscriber_id: str) -> None:
        self._by_subscriber.pop(subscriber_id, None)

    def _fresh(self, subscriber_id: str) -> Profile | None:
        entry = self._by_subscriber.get(subscriber_id)
        if entry is None:
            return None
        profile, expires = entry
        if self.monotonic() >= expires:
            del self._by_subscriber[subscriber_id]
            return None
        return profile
