"""Charge traffic made with the real balance engine: the events the bridge consumes."""

from __future__ import annotations

from ocs.balance.events import Event, read_partition
from ocs.balance.model import DebitItem, RequestType
from ocs.balance.store import BalanceStore
from tests.balance.helpers import DATA, NOW, ccr, item, make_subscriber, ok


async def make_traffic(
    store: BalanceStore, subscribers: int = 4, sessions: int = 3, first: int = 0
) -> None:
    """Provisioning, sessions (I/U/T), debits, top-ups and a refund on a few subscribers
    (numbered from ``first``, so a test can add more later)."""
    for s in range(first, first + subscribers):
        ids = await make_subscriber(store, f"49301{s:04d}", opening=100_000)
        for n in range(sessions):
            sid = f"sess-{s}-{n}"
            ok(await ccr(store, ids, sid, 0, RequestType.INITIAL, [item(requested=5000)]))
            ok(await ccr(store, ids, sid, 1, RequestType.UPDATE, [item(used=4000, requested=5000)]))
            ok(await ccr(store, ids, sid, 2, RequestType.TERMINATE, [item(used=2500)]))
        await store.debit(f"sms-{s}", ids[1], [DebitItem(300, None, 1, DATA)], now_ms=NOW)
        await store.topup(f"pay-{s}", ids[1], 500, "EUR", now_ms=NOW)
        await store.refund(f"ref-{s}", ids[1], now_ms=NOW, refund_of=f"sms-{s}")


async def stream_events(store: BalanceStore) -> list[Event]:
    events: list[Event] = []
    for p in range(store.partitions):
        events += await read_partition(store, p)
    return events


async def pending(store: BalanceStore) -> int:
    total = 0
    for p in store.keys:
        summary = await store.execute(p.slot, "XPENDING", p.stream, "billing")
        total += int(summary[0] or 0)
    return total
