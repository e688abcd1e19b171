"""Reconciliation (revenue assurance): balances in Redis vs the event streams vs the ledger vs
the issued documents. Every discrepancy is reported; any one makes ``ocs billing reconcile``
exit non-zero.

Per partition:

1. **stream vs ledger**: every entry of the stream (what retention kept) is in the ledger under
   its event id, from the same entry and with the same content digest; an event id twice in
   the stream is a duplicate; an undecodable or deleted entry is reported; a ledger event whose
   entry falls inside the stream's retained range but is no longer in it is reported.
2. **balances vs ledger**: replaying the ledger's deltas (every event since the account was
   created) gives each account's balances in Redis, bucket by bucket. The balances are read
   between two reads of the stream's last id; if an event arrived in between, they are read
   again, so live traffic does not cause false alarms. A balance change whose event is missing
   shows here.
3. **ledger vs documents**: every issued invoice or statement of the period still equals what
   the ledger gives now (a late or lost event shows here), and adds up (lines, tax, total).

Before checking, the bridge must have acknowledged everything (it may be given ``wait_s`` to
catch up); a bridge still behind is itself a discrepancy.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgpack

from ocs.balance.errors import BalanceError
from ocs.balance.events import UnsupportedEvent, decode, replay
from ocs.balance.store import BalanceStore
from ocs.billing_bridge import metrics
from ocs.billing_bridge.anomalies import Anomaly, usage_anomalies
from ocs.billing_bridge.consumer import caught_up
from ocs.billing_bridge.ingest import digest
from ocs.billing_bridge.invoices import round_half_up
from ocs.billing_bridge.issuing import account_snapshot, compute, period_bounds, stored
from ocs.billing_bridge.ledger import Ledger, split_stream_id
from ocs.billing_bridge.run import ledger_accounts
from ocs.billing_bridge.settlement import month_bounds
from ocs.config import BillingConfig
from ocs.policy.catalog import Catalog

SNAPSHOT_TRIES = 20


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: str
    """ledger_behind, missing_from_ledger, missing_from_stream, duplicated, mismatched,
    corrupt, balance_mismatch, document_mismatch, document_arithmetic."""
    detail: str
    partition: int | None = None
    account: str = ""
    event_id: str = ""


@dataclass(slots=True)
class ReconcileReport:
    period: str
    discrepancies: list[Discrepancy] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def add(self, kind: str, detail: str, **where: Any) -> None:
        self.discrepancies.append(Discrepancy(kind, detail, **where))

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "ok": self.ok,
            "counts": dict(self.counts),
            "discrepancies": [asdict(d) for d in self.discrepancies],
            "anomalies": [asdict(a) for a in self.anomalies],
        }

    def write(self, out_dir: Path) -> Path:
        path = out_dir / "reconcile" / f"{self.period}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


async def wait_caught_up(store: BalanceStore, wait_s: float) -> list[int]:
    """Partitions whose entries are not all acknowledged after waiting up to ``wait_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        states = await asyncio.gather(*(caught_up(store, p) for p in range(store.partitions)))
        behind = [p for p, done in enumerate(states) if not done]
        if not behind or loop.time() >= deadline:
            return behind
        await asyncio.sleep(0.1)


async def reconcile(
    store: BalanceStore,
    ledger: Ledger,
    catalog: Catalog,
    period: str,
    config: BillingConfig,
    wait_s: float = 0.0,
) -> ReconcileReport:
    report = ReconcileReport(period)
    for p in await wait_caught_up(store, wait_s):
        report.add("ledger_behind", "the bridge has not acknowledged every entry", partition=p)
    accounts = ledger_accounts(ledger)
    by_partition: dict[int, list[str]] = defaultdict(list)
    for account in accounts:
        found = await store.locate_account(account)
        if found is None:
            report.add("balance_mismatch", "account unknown to the balance engine", account=account)
            continue
        by_partition[found[1]].append(account)
    for p in range(store.partitions):
        await _partition(store, ledger, p, by_partition.get(p, []), report)
    _stream_anomalies(ledger, report)
    await _documents(store, ledger, catalog, period, report)
    start, end = month_bounds(period)
    report.anomalies = usage_anomalies(
        ledger,
        start,
        end,
        factor=config.anomaly_factor,
        history_days=config.anomaly_history_days,
        min_history_days=config.anomaly_min_history_days,
    )
    metrics.ANOMALIES.inc(len(report.anomalies))
    for d in report.discrepancies:
        metrics.DISCREPANCIES.labels(d.kind).inc()
    return report


async def _partition(
    store: BalanceStore, ledger: Ledger, p: int, accounts: list[str], report: ReconcileReport
) -> None:
    keys = store.keys[p]
    balances, last = await _balance_snapshot(store, p, accounts)
    entries = []
    start = "-"
    while True:  # the stream up to the snapshot, in pages
        page = await store.execute(keys.slot, "XRANGE", keys.stream, start, last, "COUNT", 5000)
        entries += page
        if len(page) < 5000:
            break
        ms, seq = split_stream_id(page[-1][0].decode())
        start = f"{ms}-{seq + 1}"
    rows = ledger.query(
        "SELECT event_id, stream_ms, stream_seq, digest, payload FROM events WHERE partition = ?",
        (p,),
    )
    last_key = split_stream_id(last)
    in_ledger = {r[0]: ((int(r[1]), int(r[2])), r[3]) for r in rows}
    seen: Counter[str] = Counter()
    report.counts["stream_entries"] += len(entries)
    report.counts["ledger_events"] += len(rows)
    for stream_id_raw, fields in entries:
        stream_id = stream_id_raw.decode()
        raw = dict(zip(fields[::2], fields[1::2], strict=True)).get(b"e", b"")
        try:
            event_id = decode(stream_id, {b"e": raw}).id
        except (UnsupportedEvent, ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            report.add("corrupt", f"entry {stream_id}: {type(exc).__name__}", partition=p)
            continue
        seen[event_id] += 1
        if seen[event_id] == 2:
            report.add(
                "duplicated",
                f"event id appears twice in the stream (again at {stream_id})",
                partition=p,
                event_id=event_id,
            )
        known = in_ledger.get(event_id)
        if known is None:
            report.add(
                "missing_from_ledger",
                f"entry {stream_id} is not in the ledger",
                partition=p,
                event_id=event_id,
            )
        elif known[0] == split_stream_id(stream_id) and known[1] != digest(raw):
            report.add(
                "mismatched",
                f"entry {stream_id} differs from the ledger's copy",
                partition=p,
                event_id=event_id,
            )
    first_key = split_stream_id(entries[0][0].decode()) if entries else last_key
    for event_id, (key, _) in in_ledger.items():
        if first_key <= key <= last_key and event_id not in seen:
            report.add(
                "missing_from_stream",
                f"ledger event from entry {key[0]}-{key[1]} is not in the stream",
                partition=p,
                event_id=event_id,
            )
    events = [
        decode(f"{r[1]}-{r[2]}", {b"e": bytes(r[4])})
        for r in rows
        if (int(r[1]), int(r[2])) <= last_key
    ]
    replayed = replay(events)
    for account in accounts:
        report.counts["accounts"] += 1
        expected = {k: v for k, v in replayed.get(account, {}).items() if v}
        actual = {k: v for k, v in balances.get(account, {}).items() if v}
        for bucket in sorted(set(expected) | set(actual)):
            if expected.get(bucket, 0) != actual.get(bucket, 0):
                report.add(
                    "balance_mismatch",
                    f"bucket {bucket}: redis {actual.get(bucket, 0)}, "
                    f"ledger {expected.get(bucket, 0)}",
                    partition=p,
                    account=account,
                )


async def _balance_snapshot(
    store: BalanceStore, p: int, accounts: list[str]
) -> tuple[dict[str, dict[str, int]], str]:
    """Balances of the accounts and the stream's last id, read with no event in between."""
    keys = store.keys[p]
    for _ in range(SNAPSHOT_TRIES):
        before = await _last_id(store, keys.slot, keys.stream)
        views = await asyncio.gather(*(store.get_account(a) for a in accounts))
        after = await _last_id(store, keys.slot, keys.stream)
        if before == after:
            balances = {v.id: {b.id: b.balance for b in v.buckets} for v in views if v is not None}
            return balances, after
    raise BalanceError(f"partition {p} kept changing: could not read a consistent snapshot")


async def _last_id(store: BalanceStore, slot: int, stream: str) -> str:
    entry = await store.execute(slot, "XREVRANGE", stream, "+", "-", "COUNT", 1)
    return entry[0][0].decode() if entry else "0-0"


def _stream_anomalies(ledger: Ledger, report: ReconcileReport) -> None:
    for p, ms, seq, event_id, same in ledger.query(
        "SELECT partition, stream_ms, stream_seq, event_id, same_content FROM stream_duplicates"
    ):
        what = "same content" if same else "different content"
        detail = f"entry {ms}-{seq} repeats an event id already in the ledger ({what})"
        if not any(d.kind == "duplicated" and d.event_id == event_id for d in report.discrepancies):
            report.add("duplicated", detail, partition=int(p), event_id=event_id)
    for p, ms, seq, reason in ledger.query(
        "SELECT partition, stream_ms, stream_seq, reason FROM stream_rejects"
    ):
        report.add("corrupt", f"entry {ms}-{seq}: {reason}", partition=int(p))


async def _documents(
    store: BalanceStore, ledger: Ledger, catalog: Catalog, period: str, report: ReconcileReport
) -> None:
    accounts = [r[0] for r in ledger.query("SELECT DISTINCT account FROM invoices")]
    for account_id in accounts:
        snapshot = await account_snapshot(store, account_id)
        if snapshot is None:
            continue
        period_id = period_bounds(snapshot, period)[0]
        docs = stored(ledger, account_id, period_id)
        for doc in docs:
            report.counts["documents"] += 1
            tax = round_half_up(Fraction(doc.net * doc.tax_percent, 100))
            if sum(x.amount for x in doc.lines) != doc.net or doc.total != doc.net + tax:
                report.add(
                    "document_arithmetic", f"{doc.number} does not add up", account=account_id
                )
        live = [d for d in docs if d.kind != "credit_note"]
        if not live:
            continue
        issued = live[-1]
        fresh = compute(ledger, catalog, replace(snapshot, subscribers=issued.subscribers), period)
        if not issued.same_charges(fresh):
            report.add(
                "document_mismatch",
                f"{issued.number}: issued total {issued.total}, the ledger now gives "
                f"{fresh.total} (a correction issues a credit note)",
                account=account_id,
            )
