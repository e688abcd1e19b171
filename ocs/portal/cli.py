"""``ocs portal agent create LOGIN``: create a care or admin agent of the portal, or give an
existing one a new password and role. Run on the server's host, like ``ocs billing``: it opens
the BSS database (the ledger's) named by the config. The password is read from
``$OCS_AGENT_PASSWORD`` or asked twice on the terminal; it is stored argon2-hashed only."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path

from ocs import config
from ocs.api.auth import Role
from ocs.api.errors import ApiError
from ocs.billing_bridge.ledger import LedgerError
from ocs.bss.database import open_database
from ocs.portal.people import People


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    portal = commands.add_parser("portal", help="portal agents (care and admin logins)")
    actions = portal.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "agent", help="create an agent, or reset an agent's password and role"
    )
    create.add_argument("verb", choices=("create",), help="create (or reset) an agent")
    create.add_argument("login", help="the agent's login: letters, digits, '.' and '-'")
    create.add_argument("--name", default="", help="shown in the portal and the audit trail")
    create.add_argument("--role", choices=("care", "admin"), default="care")
    create.add_argument("--config", type=Path, default=None, help="TOML config (as for serve)")
    create.set_defaults(handler=_create)


def _password() -> str:
    given = os.environ.get("OCS_AGENT_PASSWORD")
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise SystemExit("ocs portal: set OCS_AGENT_PASSWORD or run on a terminal")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("ocs portal: the passwords differ")
    return first


def _create(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    try:
        db = open_database(cfg.billing.ledger_dsn, cfg.state_dir)
    except LedgerError as exc:
        print(f"ocs portal: {exc}", file=sys.stderr)
        return 1
    try:
        people = People(db, lambda: time.time_ns() // 1_000_000, cfg.portal.session_ttl_s)
        role = Role.ADMIN if args.role == "admin" else Role.CARE
        agent = people.create_agent(args.login, args.name or args.login, role, _password())
    except ApiError as exc:
        print(f"ocs portal: {exc.field}: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"agent {agent.login} ({role.value}) can sign in at the portal")
    return 0
