"""Usage history, read from the balance engine's partition event streams.

Behind :class:`UsageHistory` so it can later read the billing ledger (SQL) instead: the
streams keep events only for ``[balance] stream_retention_s`` (30 days by default), so history
reaches back that far and no further (``history_from_ms`` says how far it goes now).

A customer's accounts share one partition stream with the other customers of the partition, so
a page is found by scanning the stream newest first (XREVRANGE in batches) and keeping the
account's charge events. The scan is bounded per call (``scan_limit`` entries); a page can come
back with fewer records than asked and a token to go on. Stream entry ids carry Redis' clock
while the period filter uses each event's own ``ts`` (the caller's clock), so the scan uses the
period only to skip, with ``CLOCK_SKEW_MS`` of slack.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ocs.balance.events import Event, decode
from ocs.balance.store import BalanceStore
from ocs.policy.catalog import Catalog

CLOCK_SKEW_MS = 3_600_000
BATCH = 500
SCAN_LIMIT = 20_000
USAGE_TYPES = frozenset({"session", "debit", "refund", "topup", "adjust", "expire", "purchase"})


class BadCursor(ValueError):
    """A page token this history did not hand out."""


@dataclass(frozen=True, slots=True)
class UsageQuery:
    account_id: str
    from_ms: int = 0
    to_ms: int = 0
    """Exclusive; 0 = no upper bound."""
    rating_groups: frozenset[int] | None = None
    """Only these rating groups (money movements without one are left out); None = all."""
    page_size: int = 50
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class UsageEntry:
    event_id: str
    time_ms: int
    type: str
    account_id: str
    subscriber_id: str
    session_id: str
    rating_group: int
    service: str
    unit: str
    units: int
    money: int
    """Money charged; negative for credits (top-up, refund, positive adjustment)."""
    charged: Mapping[str, int] = field(default_factory=dict)
    visited_network: str = ""


@dataclass(frozen=True, slots=True)
class UsagePage:
    entries: list[UsageEntry]
    cursor: str
    """Empty when there is nothing older to read."""
    history_from_ms: int
    complete: bool = True
    """False when the scan limit ended the page before the start of the period."""


class UsageHistory(Protocol):
    async def page(self, query: UsageQuery) -> UsagePage: ...

    async def recent(self, account_ids: Iterable[str], from_ms: int, limit: int) -> UsagePage: ...


def _encode(stream_id: str, index: int | None) -> str:
    """Resume at entry ``index`` of event ``stream_id``; None: after that event."""
    where = "after" if index is None else str(index)
    return base64.urlsafe_b64encode(f"v1:{stream_id}:{where}".encode()).decode()


def _decode(cursor: str) -> tuple[str, int | None]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        version, stream_id, where = text.split(":")
        ms, seq = stream_id.split("-")
        if version != "v1" or not ms.isdigit() or not seq.isdigit():
            raise ValueError(text)
        if where != "after" and not where.isdigit():
            raise ValueError(text)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadCursor("not a page token of this history") from None
    return stream_id, None if where == "after" else int(where)


class StreamUsageHistory:
    def __init__(self, store: BalanceStore, catalog: Catalog, scan_limit: int = SCAN_LIMIT) -> None:
        self.store = store
        self.catalog = catalog
        self.scan_limit = scan_limit

    async def page(self, query: UsageQuery) -> UsagePage:
        start_id, skip = _decode(query.cursor) if query.cursor else ("", None)
        return await self._scan(
            {query.account_id},
            query.from_ms,
            query.to_ms,
            query.rating_groups,
            query.page_size,
            start_id,
            skip,
        )

    async def recent(self, account_ids: Iterable[str], from_ms: int, limit: int) -> UsagePage:
        """Every usage entry of these accounts (one customer: one partition) since ``from_ms``,
        newest first, up to the scan limit."""
        return await self._scan(set(account_ids), from_ms, 0, None, limit, "", None)

    async def _scan(
        self,
        accounts: set[str],
        from_ms: int,
        to_ms: int,
        groups: frozenset[int] | None,
        size: int,
        start_id: str,
        skip: int | None,
    ) -> UsagePage:
        located = None
        for account in sorted(accounts):
            located = await self.store.locate_account(account)
            if located is not None:
                break
        if located is None:
            return UsagePage([], "", 0)
        p = self.store.partition(located[1])
        first = await self.store.execute(p.slot, "XRANGE", p.stream, "-", "+", "COUNT", 1)
        history_from = int(first[0][0].decode().split("-")[0]) if first else 0
        if start_id:
            end = f"({start_id}" if skip is None else start_id
        else:
            end = "+"
        if to_ms and not start_id:
            end = str(to_ms + CLOCK_SKEW_MS)
        low = str(max(0, from_ms - CLOCK_SKEW_MS)) if from_ms else "-"
        found: list[UsageEntry] = []
        scanned = 0
        while scanned < self.scan_limit:
            count = min(BATCH, self.scan_limit - scanned)
            batch = await self.store.execute(
                p.slot, "XREVRANGE", p.stream, end, low, "COUNT", count
            )
            if not batch:
                return UsagePage(found, "", history_from)
            for raw_id, fields in batch:
                stream_id = raw_id.decode()
                scanned += 1
                event = decode(raw_id, fields)
                entries = list(self._entries(event, accounts, from_ms, to_ms, groups))
                begin = (skip or 0) if stream_id == start_id else 0
                for index in range(begin, len(entries)):
                    if len(found) == size:
                        return UsagePage(found, _encode(stream_id, index), history_from)
                    found.append(entries[index])
                end = f"({stream_id}"
            if len(batch) < count:
                return UsagePage(found, "", history_from)
        return UsagePage(found, _encode(end[1:], None), history_from, complete=False)

    def _entries(
        self,
        event: Event,
        accounts: set[str],
        from_ms: int,
        to_ms: int,
        groups: frozenset[int] | None,
    ) -> Iterable[UsageEntry]:
        data: Mapping[str, Any] = event.data
        kind = data.get("type")
        if kind not in USAGE_TYPES:
            return
        account = data.get("acct", "")
        if account not in accounts and data.get("parent", "") not in accounts:
            return
        ts = int(data.get("ts", 0))
        if ts < from_ms or (to_ms and ts >= to_ms):
            return
        info = data.get("info") or {}
        visited = info.get("visited_network", "") if isinstance(info, dict) else ""
        common = {
            "event_id": event.id,
            "time_ms": ts,
            "type": kind,
            "account_id": account,
            "subscriber_id": data.get("sub", "") or "",
            "session_id": data.get("sess", "") or "",
            "visited_network": visited,
        }
        if kind in ("session", "debit"):
            for item in data.get("items") or ():
                rg = int(item.get("rg", 0))
                used, money = int(item.get("used", 0)), int(item.get("money_charged", 0))
                if not used and not money:
                    continue  # a reservation only: nothing charged yet
                if groups is not None and rg not in groups:
                    continue
                service = self.catalog.services.get(rg)
                yield UsageEntry(
                    rating_group=rg,
                    service=service.name if service is not None else "",
                    unit=str(item.get("unit", "")),
                    units=used,
                    money=money,
                    charged=dict(item.get("charged") or {}),
                    **common,
                )
            return
        if groups is not None:
            return
        delta: Mapping[str, int] = data.get("delta") or {}
        yield UsageEntry(
            rating_group=0,
            service="",
            unit="money",
            units=0,
            money=-int(delta.get("money", 0)),
            charged={label: -amount for label, amount in delta.items()},
            **common,
        )
