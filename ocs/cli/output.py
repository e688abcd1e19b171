"""How the people-facing CLI prints: aligned tables by default, JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from google.protobuf import json_format
from google.protobuf.message import Message


def as_json(message: Message) -> str:
    return json.dumps(
        json_format.MessageToDict(message, preserving_proto_field_name=True),
        indent=2,
        sort_keys=True,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_is_number(row[i]) for row in cells[1:]) and len(cells) > 1 for i in range(len(headers))
    ]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if numeric[i] and n else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, object]]) -> str:
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in pairs)


def _is_number(text: str) -> bool:
    head = text.split(" ")[0].replace(".", "", 1).replace("-", "", 1)
    return head.isdigit()


def money(minor: int, currency: str, digits: int) -> str:
    """``1234`` cents -> ``12.34 EUR`` (exact: no floats)."""
    value = Decimal(minor).scaleb(-digits)
    return f"{value:.{digits}f} {currency}"


def parse_money(text: str, digits: int) -> int:
    """``"12.34"`` -> ``1234`` (minor units); more decimals than the currency has is an error."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r} (e.g. 5 or 12.50)") from None
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value() or not value.is_finite():
        raise ValueError(f"{text} has more than {digits} decimals")
    return int(minor)


def quantity(amount: int, unit: str, currency: str = "", digits: int = 2) -> str:
    if unit == "money":
        return money(amount, currency, digits)
    if unit == "octets":
        return f"{Decimal(amount).scaleb(-6):.1f} MB"
    if unit == "seconds":
        minutes, seconds = divmod(amount, 60)
        return f"{minutes}m{seconds:02d}s"
    return f"{amount} {unit}"


def when(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def parse_day(text: str) -> int:
    """``2026-11-01`` or ``2026-11-01T12:00`` (UTC) -> epoch ms."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date: {text!r} (e.g. 2026-11-01)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
