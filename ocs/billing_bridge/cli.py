"""``ocs billing ...`` and ``ocs billing-bridge``: the billing bridge's commands.

    ocs billing run --period 2026-11 [--as-of 2026-12-02] [--correct] [--accounts] [--json]
    ocs billing invoice A-1 --period 2026-11 [--as-of ...] [--correct] [--json]
    ocs billing settle --period 2026-11 [--json]
    ocs billing reconcile --period 2026-11 [--wait 5] [--json]

Every ``ocs billing`` command first brings the ledger up to date (a bridge pass over every
partition; ``--no-drain`` skips it), so a run sees every event acknowledged so far. Redis is
the configured one, or, in the embedded default, the one a running ``ocs serve`` on the same
state dir started (``<state_dir>/redis/url``).

Options are checked before anything runs: a bad one is one line on stderr naming the option and
the problem (``ocs billing run: argument --period: month 13 is not 01..12 ...``), exit 2.
Exit codes: 0 success, 1 a failure or any discrepancy (reconcile; run: an issued document the
ledger no longer agrees with, an account the balance engine does not know), 2 usage or config
error. The work is in :mod:`ocs.billing_bridge.commands`, imported only when a command runs.
"""

from __future__ import annotations

import argparse
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

MONTH = re.compile(r"(\d{4})-(\d{2})")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_ID = 200
"""Characters of an account id on the command line (the balance engine's ids are shorter)."""


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr (no usage dump, no traceback), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def month(text: str) -> str:
    """``YYYY-MM``: a calendar month (settlement and reconciliation)."""
    found = MONTH.fullmatch(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month: expected YYYY-MM, e.g. 2026-11")
    year, number = int(found[1]), int(found[2])
    if not 1 <= number <= 12:
        raise argparse.ArgumentTypeError(f"month {number:02d} of {text!r} is not 01..12")
    if year < 1970:
        raise argparse.ArgumentTypeError(f"year {year} of {text!r} is before 1970")
    return f"{year:04d}-{number:02d}"


def bill_period(text: str) -> str:
    """``YYYY-MM`` (the period starting on the account's cycle day of that month) or
    ``YYYY-MM-DD`` (the period starting that day)."""
    if MONTH.fullmatch(text.strip()):
        return month(text)
    if not DAY.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a bill period: expected YYYY-MM (e.g. 2026-11) or the "
            "period's first day YYYY-MM-DD"
        )
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: {exc}") from None
    month(day.isoformat()[:7])  # the same year bounds
    return day.isoformat()


def as_of(text: str) -> int:
    """An ISO date or date-time (UTC unless it names a zone) -> epoch ms."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time: e.g. 2026-12-02 or 2026-12-02T06:00+01:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.year < 1970:
        raise argparse.ArgumentTypeError(f"{text!r} is before 1970")
    return int(moment.timestamp() * 1000)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 <= value <= 3600):
        raise argparse.ArgumentTypeError(f"{text} is not 0..3600 seconds")
    return value


def account_id(text: str) -> str:
    if not text.strip() or len(text) > MAX_ID or not text.isprintable():
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not an account id (1..{MAX_ID} printable characters)"
        )
    return text


def register(commands: Any) -> None:
    """Add ``billing`` and ``billing-bridge`` to the ``ocs`` subcommands."""

    def with_config(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--config", type=Path, default=None, help="TOML config file (as for ocs serve)"
        )

    bridge = commands.add_parser(
        "billing-bridge", help="run the billing bridge on its own (streams -> ledger)"
    )
    with_config(bridge)
    bridge.set_defaults(handler=_bridge)

    billing = commands.add_parser("billing", help="invoices, settlement and reconciliation")
    actions = billing.add_subparsers(
        dest="billing_command", metavar="ACTION", required=True, parser_class=OneLineParser
    )

    def action(name: str, help_text: str, period: Any, period_help: str) -> Any:
        parser = actions.add_parser(name, help=help_text, description=help_text)
        with_config(parser)
        parser.add_argument("--period", required=True, type=period, help=period_help)
        parser.add_argument("--out", type=Path, default=None, help="where files are written")
        parser.add_argument(
            "--no-drain",
            dest="drain",
            action="store_false",
            help="do not bring the ledger up to date from the streams first",
        )
        parser.add_argument(
            "--json", action="store_true", help="print one JSON object instead of text"
        )
        parser.set_defaults(handler=lambda args: _run(args, name), accounts=False)
        return parser

    period_help = "bill period: YYYY-MM, or its first day YYYY-MM-DD"
    for name, text in (
        ("run", "issue every account's invoice or statement, and settle partners"),
        ("invoice", "issue (or show) one account's invoice or statement"),
    ):
        parser = action(name, text, bill_period, period_help)
        if name == "invoice":
            parser.add_argument("account", type=account_id, help="account id")
        else:
            parser.add_argument(
                "--accounts",
                action="store_true",
                help="also one line per account (document, total, file)",
            )
        parser.add_argument(
            "--as-of",
            type=as_of,
            default=None,
            help="the clock (ISO date/time, UTC if no zone): periods ending after it are drafts",
        )
        parser.add_argument(
            "--correct",
            action="store_true",
            help="where the ledger changed since issuing: credit note and new revision",
        )
    action("settle", "settlement records per partner (CSV and JSON)", month, "month: YYYY-MM")
    rec = action("reconcile", "balances vs events vs ledger vs invoices", month, "month: YYYY-MM")
    rec.add_argument(
        "--wait", type=seconds, default=5.0, help="seconds to let running bridges catch up"
    )


def _run(args: argparse.Namespace, name: str) -> int:
    from ocs.billing_bridge import commands

    return commands.run(args, name)


def _bridge(args: argparse.Namespace) -> int:
    from ocs.billing_bridge import commands

    return commands.bridge(args)
