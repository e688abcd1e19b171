"""Settlement records per partner and period, from the ledger's charges.

Partners are defined in the catalog (``[partners.<id>]``):

* ``roaming``: charges whose visited network (the event's ``info.visited_network``, the
  3GPP-SGSN-MCC-MNC) is one of the partner's ``networks``;
* ``content``: charges of the partner's ``services`` (rating groups);
* ``wholesale`` (MVNO host network): charges of the partner's ``services``, every network.

The period is a calendar month in UTC (``YYYY-MM``): partners settle on one calendar whatever
the subscribers' bill cycles. Per partner, rating group and unit: event count, units, gross
amount (money charged to subscribers; usage covered by allowances counts units, not money),
the partner's ``share_percent`` of the gross (rounded half away from zero once per row), the
usage charge of the partner's wholesale ``rates`` for the service (``price`` per started
``block`` of the row's units), the amount owed (both) and what is retained (gross minus owed:
negative when the traffic cost more than subscribers paid for it, e.g. roaming data from a
bundle). Exported as CSV and JSON.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from ocs.billing_bridge import metrics
from ocs.billing_bridge.invoices import round_half_up, service_name
from ocs.billing_bridge.ledger import Ledger
from ocs.policy.catalog import Catalog
from ocs.policy.schema import Partner


@dataclass(frozen=True, slots=True)
class SettlementRow:
    partner: str
    partner_name: str
    kind: str
    period: str
    rating_group: int
    service: str
    unit: str
    events: int
    units: int
    gross: int
    share_percent: int
    share_owed: int
    usage_rate: str
    """``"<price> per <block> <unit>"`` of the partner's rates, or empty."""
    usage_owed: int
    owed: int
    retained: int


def month_bounds(period: str) -> tuple[int, int]:
    """``2026-11`` -> epoch ms of 2026-11-01T00:00Z and 2026-12-01T00:00Z."""
    year, month = (int(part) for part in period.split("-")[:2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _where(catalog: Catalog, partner: Partner) -> tuple[str, list[object]]:
    if partner.kind == "roaming":
        marks = ",".join("?" * len(partner.networks)) or "NULL"
        return f"visited_network IN ({marks})", list(partner.networks)
    groups = [catalog.service_by_name[s].rating_group for s in partner.services]
    marks = ",".join("?" * len(groups)) or "NULL"
    return f"rating_group IN ({marks})", list(groups)


def settle(ledger: Ledger, catalog: Catalog, period: str) -> list[SettlementRow]:
    start, end = month_bounds(period)
    rows: list[SettlementRow] = []
    for partner_id, partner in sorted(catalog.data.partners.items()):
        clause, params = _where(catalog, partner)
        found = ledger.query(
            "SELECT rating_group, unit, COUNT(DISTINCT event_id), SUM(used), SUM(money) "
            f"FROM charges WHERE ts >= ? AND ts < ? AND {clause} "
            "GROUP BY rating_group, unit ORDER BY rating_group, unit",
            (start, end, *params),
        )
        rates = {rate.service: rate for rate in partner.rates}
        for rating_group, unit, events, units, gross in found:
            share = round_half_up(Fraction(int(gross) * partner.share_percent, 100))
            service = catalog.services.get(int(rating_group))
            rate = rates.get(service.name) if service is not None else None
            usage_rate, usage = "", 0
            if rate is not None:
                usage_rate = f"{rate.price} per {rate.block} {unit}"
                usage = -(-int(units) // rate.block) * rate.price  # per started block
            owed = share + usage
            rows.append(
                SettlementRow(
                    partner_id,
                    partner.name,
                    partner.kind,
                    period,
                    int(rating_group),
                    service_name(catalog, int(rating_group)),
                    unit,
                    int(events),
                    int(units),
                    int(gross),
                    partner.share_percent,
                    share,
                    usage_rate,
                    usage,
                    owed,
                    int(gross) - owed,
                )
            )
    metrics.SETTLEMENT_RUNS.inc()
    return rows


def export(rows: list[SettlementRow], catalog: Catalog, period: str, out_dir: Path) -> list[Path]:
    """``settlement/<period>/<partner>.csv|.json`` per partner (also for partners with no
    traffic: an empty file says so), and ``summary.json``."""
    directory = out_dir / "settlement" / period
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    fields = list(SettlementRow.__dataclass_fields__)
    summary = []
    for partner_id, partner in sorted(catalog.data.partners.items()):
        mine = [r for r in rows if r.partner == partner_id]
        csv_path = directory / f"{partner_id}.csv"
        with csv_path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(asdict(r) for r in mine)
        totals = {
            "partner": partner_id,
            "name": partner.name,
            "kind": partner.kind,
            "period": period,
            "currency": catalog.currency,
            "minor_unit_digits": catalog.minor_digits,
            "share_percent": partner.share_percent,
            "events": sum(r.events for r in mine),
            "gross": sum(r.gross for r in mine),
            "share_owed": sum(r.share_owed for r in mine),
            "usage_owed": sum(r.usage_owed for r in mine),
            "owed": sum(r.owed for r in mine),
            "retained": sum(r.retained for r in mine),
        }
        json_path = directory / f"{partner_id}.json"
        json_path.write_text(
            json.dumps({**totals, "rows": [asdict(r) for r in mine]}, indent=2) + "\n"
        )
        summary.append(totals)
        paths += [csv_path, json_path]
    summary_path = directory / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return [*paths, summary_path]
