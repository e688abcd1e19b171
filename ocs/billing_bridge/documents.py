"""Documents a machine and a person can read: the JSON of invoices, statements and credit
notes, and how amounts, quantities and periods are written on them (the PDF is
:mod:`ocs.billing_bridge.pdf`).

Layout under the output directory (default ``<state_dir>/billing``)::

    invoices/<period>/<number>.json|.pdf          issued documents
    invoices/<period>/DRAFT-<account>.json|.pdf   drafts of periods not yet ended
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from ocs.billing_bridge.invoices import Document


def money(amount: int, currency: str, digits: int) -> str:
    """``1234`` -> ``EUR 12.34`` (exact: Decimal of the integer minor units)."""
    value = Decimal(amount).scaleb(-digits)
    return f"{currency} {value:,.{digits}f}"


def quantity(amount: int, unit: str) -> str:
    if unit == "octets":
        return f"{Decimal(amount).scaleb(-6):,.2f} MB"
    if unit == "seconds":
        return f"{amount // 60}:{amount % 60:02d} min"
    if unit in ("units", "money"):
        return f"{amount:,}"
    return f"{amount:,} {unit}".strip() if amount else ""


def _local_day(ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).date().isoformat()


def period_text(document: Document, timezone: str) -> str:
    """Inclusive local dates: ``2026-11-01 to 2026-11-30``."""
    start = _local_day(document.period_start_ms, timezone)
    last = datetime.fromtimestamp(document.period_end_ms / 1000, ZoneInfo(timezone)) - timedelta(
        days=1
    )
    return f"{start} to {last.date().isoformat()}"


def file_stem(document: Document) -> str:
    return f"DRAFT-{document.account}" if document.draft else document.number


def write_json(document: Document, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file_stem(document)}.json"
    path.write_text(json.dumps(document.to_json(), indent=2, sort_keys=True) + "\n")
    return path
