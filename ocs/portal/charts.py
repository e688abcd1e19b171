"""The usage chart of the last 30 days: units per day and service, from the billing ledger's
charge rows, drawn as server-side SVG (no script, readable by a screen reader through its
titles and the table beside it)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from ocs.bss.database import BssDatabase
from ocs.policy.catalog import Catalog
from ocs.portal.pages import quantity

DAYS = 30
HOUR_MS = 3_600_000
COLORS = ("#1d4ed8", "#b45309", "#047857", "#7e22ce", "#be123c", "#0e7490")


@dataclass(frozen=True, slots=True)
class Series:
    service: str
    unit: str
    per_day: tuple[int, ...]
    money: int

    @property
    def total(self) -> int:
        return sum(self.per_day)


def usage_by_day(
    db: BssDatabase, catalog: Catalog, account: str, now_ms: int, timezone: str
) -> tuple[list[str], list[Series]]:
    """(the 30 local days, one series per service used), today last."""
    zone = ZoneInfo(timezone)
    today = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), zone)
    rows = db.rows(
        "SELECT ts / ?, rating_group, unit, SUM(used), SUM(money) FROM charges "
        "WHERE account = ? AND ts >= ? GROUP BY ts / ?, rating_group, unit",
        (HOUR_MS, account, int(start.timestamp() * 1000), HOUR_MS),
    )
    index = {day: n for n, day in enumerate(days)}
    used: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * DAYS)
    money: dict[tuple[int, str], int] = defaultdict(int)
    for hour, group, unit, units, charged in rows:
        day = datetime.fromtimestamp(int(hour) * 3600, UTC).astimezone(zone).date()
        if day in index:
            used[(int(group), str(unit))][index[day]] += int(units)
            money[(int(group), str(unit))] += int(charged)
    series = []
    for (group, unit), values in sorted(used.items()):
        info = catalog.services.get(group)
        name = (info.config.description or info.name) if info else f"Rating group {group}"
        series.append(Series(name, unit, tuple(values), money[(group, unit)]))
    return [d.isoformat() for d in days], series


def svg(days: list[str], series: list[Series]) -> Markup:
    """One row of bars per service (each on its own scale: MB, minutes and SMS differ)."""
    width, row, left, top = 640, 70, 130, 10
    bar = (width - left - 10) / DAYS
    height = top + row * max(1, len(series)) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="usage-title" class="chart">',
        '<title id="usage-title">Usage per day over the last 30 days, by service</title>',
    ]
    if not series:
        parts.append(f'<text x="{left}" y="40">No usage in the last 30 days.</text>')
    for n, item in enumerate(series):
        base = top + row * (n + 1) - 10
        peak = max(item.per_day) or 1
        color = COLORS[n % len(COLORS)]
        parts.append(
            f'<text x="0" y="{base - 22}" class="label">{escape(item.service)}</text>'
            f'<text x="0" y="{base - 6}" class="sub">{escape(quantity(item.total, item.unit))}'
            "</text>"
        )
        for d, value in enumerate(item.per_day):
            if not value:
                continue
            h = max(1.0, 50 * value / peak)
            parts.append(
                f'<rect x="{left + d * bar:.1f}" y="{base - h:.1f}" width="{bar - 2:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(days[d])}: '
                f"{escape(item.service)} {escape(quantity(value, item.unit))}</title></rect>"
            )
        parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" class="axis"/>')
    parts.append(
        f'<text x="{left}" y="{height - 4}" class="sub">{escape(days[0])}</text>'
        f'<text x="{width - 10}" y="{height - 4}" class="sub" text-anchor="end">'
        f"{escape(days[-1])}</text></svg>"
    )
    return Markup("".join(parts))
