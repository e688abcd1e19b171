"""``ocs billing ...`` and ``ocs billing-bridge``: the billing bridge's commands.

Every ``ocs billing`` command first brings the ledger up to date (a bridge pass over every
partition; ``--no-drain`` skips it), so a run sees every event acknowledged so far. Redis is
the configured one, or, in the embedded default, the one a running ``ocs serve`` on the same
state dir started (``<state_dir>/redis/url``).

Exit codes: 0 success, 1 a failure or (reconcile) any discrepancy, 2 usage or config error.
The work is in :mod:`ocs.billing_bridge.commands`, imported only when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


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
    actions = billing.add_subparsers(dest="billing_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> Any:
        parser = actions.add_parser(name, help=help_text)
        with_config(parser)
        parser.add_argument("--period", required=True, help="bill period: YYYY-MM")
        parser.add_argument("--out", type=Path, default=None, help="where files are written")
        parser.add_argument(
            "--no-drain",
            dest="drain",
            action="store_false",
            help="do not bring the ledger up to date from the streams first",
        )
        parser.set_defaults(handler=lambda args: _run(args, name))
        return parser

    for name, text in (
        ("run", "issue every account's invoice or statement, and settle partners"),
        ("invoice", "issue (or show) one account's invoice or statement"),
    ):
        parser = action(name, text)
        if name == "invoice":
            parser.add_argument("account", help="account id")
        parser.add_argument(
            "--as-of",
            default="",
            help="the clock (ISO date/time, UTC if no zone): periods ending after it are drafts",
        )
        parser.add_argument(
            "--correct",
            action="store_true",
            help="where the ledger changed since issuing: credit note and new revision",
        )
    action("settle", "settlement records per partner (CSV and JSON)")
    rec = action("reconcile", "balances vs events vs ledger vs invoices")
    rec.add_argument(
        "--wait", type=float, default=5.0, help="seconds to let running bridges catch up"
    )


def _run(args: argparse.Namespace, name: str) -> int:
    from ocs.billing_bridge import commands

    return commands.run(args, name)


def _bridge(args: argparse.Namespace) -> int:
    from ocs.billing_bridge import commands

    return commands.bridge(args)
