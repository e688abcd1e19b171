"""Bank statements (ISO 20022 camt.053) matched to bills by payment reference, with a report;
dunning as a workflow: reminders, barring after N days of the customer's segment, restore
the moment the bill is paid, every step on the account's trail and told by e-mail."""

from __future__ import annotations

import pytest

from ocs.api.auth import Role
from ocs.bss import activity, bills
from tests.support.portal import Rest, issue_bill, make_customer
from tests.support.smtp import MailServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAY_MS = 86_400_000


def statement(*entries: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>STMT-1</MsgId><CreDtTm>2026-12-03T10:00:00</CreDtTm></GrpHdr>
  <Stmt><Id>S1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
   {"".join(entries)}
  </Stmt>
 </BkToCstmrStmt>
</Document>""".encode()


def credit(
    bank_ref: str,
    amount: str,
    *,
    ref: str = "",
    text: str = "",
    indicator: str = "CRDT",
    currency: str = "EUR",
) -> str:
    remittance = (
        f"<Strd><CdtrRefInf><Ref>{ref}</Ref></CdtrRefInf></Strd>"
        if ref
        else f"<Ustrd>{text}</Ustrd>"
    )
    return f"""<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>
      <Sts>BOOK</Sts><BookgDt><Dt>2026-12-02</Dt></BookgDt><AcctSvcrRef>{bank_ref}</AcctSvcrRef>
      <NtryDtls><TxDtls><Refs><EndToEndId>E2E-{bank_ref}</EndToEndId></Refs>
      <RltdPties><Dbtr><Nm>Payer {bank_ref}</Nm></Dbtr></RltdPties>
      <RmtInf>{remittance}</RmtInf></TxDtls></NtryDtls></Ntry>"""


async def import_camt(rest: Rest, data: bytes, role: Role = Role.ADMIN) -> object:
    return await rest.call(
        "POST",
        "/payments/camt053",
        role=role,
        body=data,
        headers={"Content-Type": "application/xml"},
    )


async def test_a_statement_pays_bills_by_reference_and_reports_the_rest(rest: Rest) -> None:
    await make_customer(
        rest.app, "Louis Armstrong", "4917800001", credit_limit=5000, offers=("payg", "bundle_s")
    )
    await make_customer(
        rest.app, "Duke Ellington", "4917800002", credit_limit=5000, offers=("payg", "bundle_s")
    )
    louis = await issue_bill(rest.app, "A-louis")
    duke = await issue_bill(rest.app, "A-duke")
    db = rest.app.portal.db  # type: ignore[union-attr]
    await rest.app.portal.background.bills_round()  # type: ignore[union-attr]
    louis_ref = (await db.run(bills.get, db, louis)).reference  # type: ignore[union-attr]
    wrong_ref = louis_ref[:2] + ("00" if louis_ref[2:4] != "00" else "01") + louis_ref[4:]
    data = statement(
        credit("B-1", "5.94", ref=louis_ref),
        credit("B-2", "3.00", text=f"part payment {duke} thanks"),
        credit("B-3", "1.00", ref=wrong_ref),
        credit("B-4", "2.00", text="no reference at all"),
        credit("B-5", "9.99", ref="RF18539007547034"),
        credit("B-6", "100.00", ref=louis_ref, indicator="DBIT"),
        credit("B-7", "5.94", ref=louis_ref),
    )
    denied = await import_camt(rest, data, Role.CARE)
    assert denied.status == 403  # type: ignore[attr-defined]
    reply = await import_camt(rest, data)
    report = reply.body  # type: ignore[attr-defined]
    assert reply.status == 200, report  # type: ignore[attr-defined]
    assert [(m["id"], m["bill"], m["state"]) for m in report["matched"]] == [
        ("B-1", louis, "settled"),
        ("B-2", duke, "open"),
    ]
    reasons = {u["id"]: u["reason"] for u in report["unmatched"]}
    assert reasons["B-3"].startswith("invalid reference")
    assert reasons["B-4"] == "no reference"
    assert reasons["B-5"] == "unknown reference"
    assert reasons["B-7"].startswith("bill not open")
    assert report["debitsSkipped"] == 1 and report["matchedAmount"] == 894
    again = await import_camt(rest, data)
    reasons = {u["id"]: u["reason"] for u in again.body["unmatched"]}  # type: ignore[attr-defined]
    assert again.body["matched"] == []  # type: ignore[attr-defined]
    assert reasons["B-1"].startswith("duplicate") and reasons["B-2"].startswith("duplicate")
    duke_bill = await db.run(bills.get, db, duke)
    assert duke_bill is not None and duke_bill.outstanding == 594 - 300
    bad = await import_camt(rest, b"<Document><nope/></Document>")
    assert bad.status == 400 and bad.body["field"] == "body"  # type: ignore[attr-defined]
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    refused = await import_camt(rest, bomb)
    assert refused.status == 400  # type: ignore[attr-defined]


async def test_dunning_reminds_bars_and_restores_on_payment(rest: Rest, mail: MailServer) -> None:
    app = rest.app
    assert app.portal is not None and app.portal.background is not None
    await make_customer(
        app,
        "Count Basie",
        "4917800003",
        credit_limit=5000,
        email="basie@example.org",
        offers=("payg", "bundle_s"),
    )
    number = await issue_bill(app, "A-count")
    background = app.portal.background
    await background.bills_round()  # type: ignore[attr-defined]
    db = app.portal.db
    assert db is not None
    bill = await db.run(bills.get, db, number)
    assert bill is not None and bill.state == "open"
    real_clock = app.charging.clock
    try:
        app.charging.clock = lambda: bill.due_ms + 8 * DAY_MS  # type: ignore[method-assign]
        await background.bills_round()  # type: ignore[attr-defined]
        await mail.wait_for("basie@example.org", f"Reminder: bill {number} is overdue")
        subscriber = await app.balance.get_subscriber("S-count")
        assert subscriber is not None and subscriber.status.value == "active"
        app.charging.clock = lambda: bill.due_ms + 15 * DAY_MS  # type: ignore[method-assign]
        await background.bills_round()  # type: ignore[attr-defined]
        await background.bills_round()  # type: ignore[attr-defined]  (a second round: no-op)
        subscriber = await app.balance.get_subscriber("S-count")
        assert subscriber is not None and subscriber.status.value == "barred"
        await mail.wait_for("basie@example.org", f"Service suspended: bill {number} unpaid")
        trail = await db.run(activity.of_customer, db, "C-count")
        steps = [e.action for e in reversed(trail) if e.action.startswith("dunning")]
        assert steps == ["dunning:remind", "dunning:remind", "dunning:bar"]
        ref = bill.reference
        paid = await import_camt(rest, statement(credit("B-basie", "5.94", ref=ref)))
        assert paid.body["matched"][0]["state"] == "settled"  # type: ignore[attr-defined]
        subscriber = await app.balance.get_subscriber("S-count")
        assert subscriber is not None and subscriber.status.value == "active"
        await mail.wait_for("basie@example.org", "Service restored")
        trail = await db.run(activity.of_customer, db, "C-count")
        assert trail[0].action == "dunning:restore" and trail[0].detail["restored"] == ["S-count"]
    finally:
        app.charging.clock = real_clock  # type: ignore[method-assign]
