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
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from ocs.balance.errors import BalanceError
from ocs.balance.events import UnsupportedEvent, decode, replay
from ocs.balance.model import MAX_INT
from ocs.balance.store import BalanceStore
from ocs.billing_bridge import metrics
from ocs.billing_bridge.anomalies import Anomaly, usage_anomalies
from ocs.billing_bridge.consumer import caught_up
from ocs.billing_bridge.ingest import SAME_CONTENT, SAME_EFFECT, digest
from ocs.billing_bridge.ledger import Ledger, split_stream_id
from ocs.billing_bridge.movements import delta_problems
from ocs.billing_bridge.reconcile_documents import check_documents
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
        states = await asyncio.gather(
            *(caught_up(store.engine, p) for p in range(store.partitions))
        )
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
    duplicates = _known_duplicates(ledger)
    for p in range(store.partitions):
        await _partition(store, ledger, p, by_partition.get(p, []), duplicates, report)
    _stream_anomalies(duplicates, ledger, report)
    for problem in await check_documents(store, ledger, catalog, period, report.counts):
        report.add(problem.kind, problem.detail, account=problem.account)
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
    store: BalanceStore,
    ledger: Ledger,
    p: int,
    accounts: list[str],
    duplicates: dict[tuple[int, int, int], tuple[str, int]],
    report: ReconcileReport,
) -> None:
    """Stream vs ledger, entry by entry (by stream position); every event's deltas vs its own
    amounts; the balances in Redis vs the ledger's replay; every balance within bounds."""
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
    at = {(int(r[1]), int(r[2])): (str(r[0]), str(r[3])) for r in rows}
    report.counts["stream_entries"] += len(entries)
    report.counts["ledger_events"] += len(rows)
    positions = set()
    seen_ids: set[str] = set()
    for stream_id_raw, fields in entries:
        stream_id = stream_id_raw.decode()
        key = split_stream_id(stream_id)
        positions.add(key)
        raw = dict(zip(fields[::2], fields[1::2], strict=True)).get(b"e", b"")
        try:
            event_id = decode(stream_id, {b"e": raw}).id
        except (UnsupportedEvent, ValueError, KeyError, TypeError, msgpack.UnpackException) as exc:
            report.add("corrupt", f"entry {stream_id}: {type(exc).__name__}", partition=p)
            continue
        seen_ids.add(event_id)
        stored = at.get(key)
        if stored is None:
            known = duplicates.get((p, *key))
            if known is not None and known[1] == SAME_EFFECT:
                # the same operation applied again after Redis lost its first write (a
                # failover): the ledger has it once, with the same effect
                report.counts["reapplied"] += 1
            elif known is not None and known[1] == SAME_CONTENT:
                report.add(
                    "duplicated",
                    f"entry {stream_id} repeats an event already in the ledger (same content): "
                    "the engine wrote one event twice",
                    partition=p,
                    event_id=event_id,
                )
            else:
                report.add(
                    "missing_from_ledger",
                    f"entry {stream_id} is not in the ledger",
                    partition=p,
                    event_id=event_id,
                )
        elif stored[1] != digest(raw):
            report.add(
                "mismatched",
                f"entry {stream_id} differs from the ledger's copy",
                partition=p,
                event_id=event_id,
            )
        elif stored[0] != event_id:
            report.add(
                "id_reused",
                f"entry {stream_id} reuses the id of an earlier, different event (both are in "
                f"the ledger; this one as {stored[0]})",
                partition=p,
                event_id=event_id,
            )
    first_key = split_stream_id(entries[0][0].decode()) if entries else last_key
    for key, (event_id, _) in at.items():
        if first_key <= key <= last_key and key not in positions and event_id not in seen_ids:
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
    for event in events:
        for problem in delta_problems(event):
            report.add(
                "movement_mismatch",
                f"{event.type.value} event: {problem}",
                partition=p,
                account=str(event.data.get("acct", "")),
                event_id=event.id,
            )
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
            for where, value in (
                ("redis", actual.get(bucket, 0)),
                ("ledger", expected.get(bucket, 0)),
            ):
                if not -MAX_INT < value < MAX_INT:
                    report.add(
                        "balance_out_of_bounds",
                        f"bucket {bucket}: {where} {value} is beyond 2^53 - 1 (not exact)",
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


def _known_duplicates(ledger: Ledger) -> dict[tuple[int, int, int], tuple[str, int]]:
    """Stream entries the bridge found carrying an event id already in the ledger:
    (partition, ms, seq) -> (event id, what they were: ``ingest.OTHER_EVENT``,
    ``SAME_CONTENT`` or ``SAME_EFFECT``)."""
    rows = ledger.query(
        "SELECT partition, stream_ms, stream_seq, event_id, same_content FROM stream_duplicates"
    )
    return {(int(p), int(ms), int(seq)): (str(e), int(same)) for p, ms, seq, e, same in rows}


def _stream_anomalies(
    duplicates: dict[tuple[int, int, int], tuple[str, int]], ledger: Ledger, report: ReconcileReport
) -> None:
    """What the bridge recorded that the streams (trimmed since, perhaps) no longer show."""
    for (p, ms, seq), (event_id, what) in duplicates.items():
        if what == SAME_EFFECT:
            continue  # an operation applied again after a failover: not a discrepancy
        kind = "duplicated" if what == SAME_CONTENT else "id_reused"
        if any(d.kind == kind and d.event_id == event_id for d in report.discrepancies):
            continue
        text = (
            "the same event written twice"
            if what == SAME_CONTENT
            else "another event reusing its id"
        )
        report.add(kind, f"entry {ms}-{seq}: {text}", partition=p, event_id=event_id)
    for p, ms, seq, reason in ledger.query(
        "SELECT partition, stream_ms, stream_seq, reason FROM stream_rejects"
    ):
        report.add("corrupt", f"entry {ms}-{seq}: {reason}", partition=int(p))
