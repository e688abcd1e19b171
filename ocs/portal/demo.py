"""The portal's demo (``[portal] demo_users``, on in ``make run``): an agent, an admin and
the first demo subscriber get passwords, logged at start like the demo tokens; a postpaid demo
customer gets last month's invoice, so there is a bill to pay. New passwords at every start."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from ocs.api.auth import Role
from ocs.balance.model import Identity
from ocs.bss.context import Services
from ocs.policy.offers import allowance_buckets
from ocs.portal.people import People

log = logging.getLogger("ocs.portal")

POSTPAID = "demo-ada"


def _password() -> str:
    return secrets.token_urlsafe(9)


async def provision(s: Services, people: People, first_msisdn: str) -> None:
    for login, name, role in (
        ("demo-agent", "Demo Agent", Role.CARE),
        ("demo-admin", "Demo Admin", Role.ADMIN),
    ):
        password = _password()
        await s.db.run(people.create_agent, login, name, role, password)
        log.info(
            "demo portal user role=%s login=%s password=%s url=%s/signin",
            role.value,
            login,
            password,
            s.config.url(),
        )
    subscriber = await s.store.lookup("e164", first_msisdn) if first_msisdn else None
    if subscriber is not None:
        await _activate(
            s,
            people,
            first_msisdn,
            "Demo Subscriber",
            subscriber.customer_id,
            subscriber.account_id,
        )
    await _postpaid(s, people)


async def _activate(
    s: Services, people: People, msisdn: str, name: str, customer: str, account: str
) -> None:
    password = _password()
    code = await s.db.run(people.issue_activation, msisdn, name, customer, account)
    await s.db.run(people.activate, msisdn, code, password)
    log.info(
        "demo portal user role=subscriber login=%s password=%s account=%s",
        msisdn,
        password,
        account,
    )


async def _postpaid(s: Services, people: People) -> None:
    """Ada Lovelace, postpaid with Bundle S, and her invoice of last month."""
    now = s.clock()
    store = s.store
    await store.create_customer(
        f"demo:c:{POSTPAID}",
        POSTPAID,
        now_ms=now,
        name="Ada Lovelace",
        profile={"email": "ada@example.org", "segment": "consumer"},
    )
    await store.create_account(
        f"demo:a:{POSTPAID}",
        POSTPAID,
        POSTPAID,
        currency=s.currency,
        now_ms=now,
        credit_limit=5000,
        timezone="Europe/Berlin",
    )
    await store.create_subscriber(
        f"demo:s:{POSTPAID}",
        POSTPAID,
        POSTPAID,
        identities=[Identity("e164", "999200000001"), Identity("imsi", "001019200000001")],
        now_ms=now,
        offers=["payg", "bundle_s"],
    )
    buckets = allowance_buckets(s.catalog, "bundle_s", now, "demo")
    await store.add_buckets(
        f"demo:b:{POSTPAID}:bundle_s", POSTPAID, buckets, now_ms=now, source="bundle_s"
    )
    from ocs.billing_bridge.run import run_period

    today = datetime.fromtimestamp(now / 1000, UTC)
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    report = await run_period(
        store, s.db, s.catalog, f"{year:04d}-{month:02d}", now, s.documents_dir, accounts=[POSTPAID]
    )
    numbers = [d.number for d in report.issued + report.unchanged]
    await _activate(s, people, "999200000001", "Ada Lovelace", POSTPAID, POSTPAID)
    log.info(
        "demo postpaid customer=%s msisdn=999200000001 bills=%s", POSTPAID, ",".join(numbers) or "-"
    )
