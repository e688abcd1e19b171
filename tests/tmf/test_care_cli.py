"""The care team's day-2 commands, run as the real ``ocs`` command against the real server
(gRPC Care service): search, account show, live sessions, SIM swap, number change, credit
limit, subscriber delete; ``--json`` anywhere; refusals name the field and exit 1."""

from __future__ import annotations

import json

import pytest

from ocs.api.auth import Role
from tests.api.test_cli import ocs_cli
from tests.support.portal import Rest, make_customer, until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


async def test_care_finds_and_changes_subscribers_from_the_command_line(rest: Rest) -> None:
    app = rest.app
    care = rest.token(Role.CARE, "dave")
    admin = rest.token(Role.ADMIN, "ops")
    await make_customer(
        app, "Nat King Cole", "4917700001", imsi="001017700000001", credit_limit=10000
    )
    await make_customer(app, "Nina Cole", "4917700002")

    async def listed() -> bool:
        found = await ocs_cli(app, "--json", "customer", "search", "cole", token=care)
        return found.code == 0 and json.loads(found.stdout).get("total") == 2

    await until(listed, what="both Coles in the directory")
    table = await ocs_cli(app, "subscriber", "list", "4917700", token=care)
    assert table.code == 0 and "S-nat" in table.stdout and "S-nina" in table.stdout
    shown = await ocs_cli(app, "account", "show", "A-nat", token=care)
    assert shown.code == 0, shown.stderr
    assert "postpaid" in shown.stdout and "100.00 EUR" in shown.stdout
    assert "no live session" in shown.stdout
    sessions = await ocs_cli(app, "session", "list", "A-nat", "--json", token=care)
    assert sessions.code == 0 and json.loads(sessions.stdout) == {}

    swapped = await ocs_cli(
        app,
        "subscriber",
        "swap-sim",
        "4917700001",
        "001017700000009",
        "--reason",
        "new SIM",
        token=care,
    )
    assert swapped.code == 0 and "001017700000009" in swapped.stdout
    taken = await ocs_cli(
        app, "subscriber", "change-msisdn", "S-nat", "4917700002", "--reason", "port", token=care
    )
    assert taken.code == 1 and "ALREADY_EXISTS" in taken.stderr and "msisdn" in taken.stderr
    moved = await ocs_cli(
        app,
        "--json",
        "subscriber",
        "change-msisdn",
        "S-nat",
        "4917700003",
        "--reason",
        "port",
        token=care,
    )
    assert moved.code == 0 and json.loads(moved.stdout)["msisdn"] == "4917700003"

    denied = await ocs_cli(
        app, "account", "credit-limit", "A-nat", "250.00", "--reason", "x", token=care
    )
    assert denied.code == 1 and "PERMISSION_DENIED" in denied.stderr
    raised = await ocs_cli(
        app, "account", "credit-limit", "A-nat", "250.00", "--reason", "good payer", token=admin
    )
    assert raised.code == 0 and "250.00 EUR" in raised.stdout, raised.stderr
    account = await app.balance.get_account("A-nat")
    assert account is not None and account.credit_limit == 25000
    prepaid = await ocs_cli(
        app, "account", "credit-limit", "A-nina", "10", "--reason", "x", token=admin
    )
    assert prepaid.code == 1 and "FAILED_PRECONDITION" in prepaid.stderr

    deleted = await ocs_cli(
        app, "subscriber", "delete", "S-nina", "--reason", "left us", token=admin
    )
    assert deleted.code == 0, deleted.stderr
    assert "balances stay on account A-nina" in deleted.stdout
    assert "refund or close the account" in deleted.stdout
    reused = await app.balance.lookup("e164", "4917700002")
    assert reused is None  # the number is free again
    nina = await app.balance.get_subscriber("S-nina")
    assert nina is not None and nina.status.value == "terminated"
    missing = await ocs_cli(
        app, "subscriber", "swap-sim", "S-nobody", "1234567", "--reason", "x", token=care
    )
    assert missing.code == 1 and "NOT_FOUND" in missing.stderr
