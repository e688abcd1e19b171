"""TMF654 buckets, top-up and adjustment; TMF629/TMF666 read and search: the gRPC APIs' roles
and errors over REST, every answer valid against the served OpenAPI document."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocs.api.auth import Role
from tests.support.portal import Rest, make_customer, until

pytestmark = pytest.mark.asyncio(loop_scope="module")

BAL = "/tmf-api/prepayBalanceManagement/v4"
CUST = "/tmf-api/customerManagement/v4"
ACCT = "/tmf-api/accountManagement/v4"


async def test_buckets_are_what_the_account_holds_and_subscribers_see_only_their_own(
    rest: Rest,
) -> None:
    await make_customer(
        rest.app, "Grace Hopper", "4917100001", money=1234, offers=("payg", "bundle_s")
    )
    await make_customer(rest.app, "Alan Turing", "4917100002")
    mine = await rest.get(
        f"{BAL}/bucket",
        role=Role.SUBSCRIBER,
        account="A-grace",
        params={"partyAccount.id": "A-grace"},
    )
    assert mine.status == 200
    wallet = next(b for b in mine.body if b["id"] == "A-grace~money")
    assert wallet["remainingValue"] == {"amount": Decimal("12.34"), "units": "EUR"}
    assert wallet["usageType"] == "monetary"
    data = [b for b in mine.body if b["usageType"] == "data"]
    assert data and data[0]["remainingValue"]["units"] == "octets"
    assert data[0]["validFor"]["endDateTime"].endswith("Z")
    assert mine.headers["X-Total-Count"] == str(len(mine.body))
    # by MSISDN too, and one bucket by id
    by_number = await rest.get(
        f"{BAL}/bucket", role=Role.CARE, params={"logicalResource.value": "4917100001"}
    )
    assert [b["id"] for b in by_number.body] == [b["id"] for b in mine.body]
    one = await rest.get(f"{BAL}/bucket/A-grace~money", role=Role.CARE)
    assert one.body["remainingValue"]["amount"] == Decimal("12.34")
    # another account, existing or not: 403 alike (no probing)
    for other in ("A-alan", "A-nobody"):
        denied = await rest.get(
            f"{BAL}/bucket",
            role=Role.SUBSCRIBER,
            account="A-grace",
            params={"partyAccount.id": other},
        )
        assert denied.status == 403
        assert denied.body["code"] == "" or denied.body["status"] == "403"
    missing = await rest.get(
        f"{BAL}/bucket", role=Role.CARE, params={"partyAccount.id": "A-nobody"}
    )
    assert missing.status == 404 and missing.body["field"] == "account_id"
    no_token = await rest.get(f"{BAL}/bucket", role=None, params={"partyAccount.id": "A-grace"})
    assert no_token.status == 401


async def test_topup_is_exact_idempotent_and_care_only(rest: Rest) -> None:
    await make_customer(rest.app, "Ada Lovelace", "4917100003", money=0)
    body = {
        "amount": {"amount": Decimal("10.05"), "units": "EUR"},
        "usageType": "monetary",
        "bucket": {"id": "A-ada~money"},
        "partyAccount": {"id": "A-ada"},
    }
    denied = await rest.post(
        f"{BAL}/topupBalance",
        body,
        role=Role.SUBSCRIBER,
        account="A-ada",
        headers={"Idempotency-Key": "pay-1"},
    )
    assert denied.status == 403
    first = await rest.post(
        f"{BAL}/topupBalance", body, role=Role.CARE, headers={"Idempotency-Key": "pay-1"}
    )
    again = await rest.post(
        f"{BAL}/topupBalance", body, role=Role.CARE, headers={"Idempotency-Key": "pay-1"}
    )
    assert (first.status, again.status) == (201, 200)
    account = await rest.app.balance.get_account("A-ada")
    assert account is not None and account.money == 1005
    for amount, field in (
        (Decimal("1.001"), "amount.amount"),
        (Decimal("-1"), "amount.amount"),
        ("x", "amount.amount"),
    ):
        bad = await rest.post(
            f"{BAL}/topupBalance",
            {**body, "amount": {"amount": amount}},
            role=Role.CARE,
            headers={"Idempotency-Key": "pay-2"},
        )
        assert bad.status == 400 and bad.body["field"] == field, bad.body
    no_key = await rest.post(f"{BAL}/topupBalance", body, role=Role.CARE)
    assert no_key.status == 400 and no_key.body["field"] == "Idempotency-Key"
    not_json = await rest.post(
        f"{BAL}/topupBalance", "{nope", role=Role.CARE, headers={"Idempotency-Key": "pay-3"}
    )
    assert not_json.status == 400 and not_json.body["field"] == "body"
    account = await rest.app.balance.get_account("A-ada")
    assert account is not None and account.money == 1005
    adjust = {
        "amount": {"amount": Decimal("-0.05"), "units": "EUR"},
        "usageType": "monetary",
        "bucket": {"id": "A-ada~money"},
        "reason": "goodwill correction",
    }
    adjusted = await rest.post(
        f"{BAL}/adjustBalance", adjust, role=Role.CARE, headers={"Idempotency-Key": "adj-1"}
    )
    assert adjusted.status == 201
    below = await rest.post(
        f"{BAL}/adjustBalance",
        {**adjust, "amount": {"amount": Decimal("-100")}},
        role=Role.CARE,
        headers={"Idempotency-Key": "adj-2"},
    )
    assert below.status == 409 and below.body["field"] == "amount"
    account = await rest.app.balance.get_account("A-ada")
    assert account is not None and account.money == 1000
    total = await rest.get(
        f"{BAL}/accumulatedBalance",
        role=Role.SUBSCRIBER,
        account="A-ada",
        params={"partyAccount.id": "A-ada"},
    )
    assert total.body[0]["totalBalance"] == {"amount": Decimal("10.00"), "units": "EUR"}


async def test_customers_are_found_by_name_number_imsi_and_account(rest: Rest) -> None:
    await make_customer(
        rest.app, "Katherine Johnson", "4917100004", imsi="001010000077777", email="kj@example.org"
    )

    async def by_name() -> object:
        reply = await rest.get(f"{CUST}/customer", role=Role.CARE, params={"name": "johnson"})
        return reply if reply.body else None

    async def by_prefix() -> object:  # the subscriber's event comes after the customer's
        reply = await rest.get(f"{CUST}/customer", role=Role.CARE, params={"msisdn": "49171000"})
        return "C-katherine" in [c["id"] for c in reply.body]

    found = await until(by_name, what="the directory to index the new customer")
    await until(by_prefix, what="the directory to index the new subscriber")
    assert [c["id"] for c in found.body] == ["C-katherine"]
    assert found.body[0]["contactMedium"][0]["characteristic"]["emailAddress"] == "kj@example.org"
    for key, value in (
        ("msisdn", "4917100004"),
        ("imsi", "001010000077777"),
        ("account.id", "A-katherine"),
        ("msisdn", "49171000"),
    ):
        reply = await rest.get(f"{CUST}/customer", role=Role.CARE, params={key: value})
        assert "C-katherine" in [c["id"] for c in reply.body], (key, value)
    page = await rest.get(
        f"{CUST}/customer", role=Role.CARE, params={"msisdn": "491710000", "limit": "1"}
    )
    assert len(page.body) == 1 and int(page.headers["X-Total-Count"]) >= 2
    assert (
        await rest.get(
            f"{CUST}/customer", role=Role.SUBSCRIBER, account="A-katherine", params={"name": "x"}
        )
    ).status == 403
    bad = await rest.get(f"{CUST}/customer", role=Role.CARE, params={"limit": "0", "name": "x"})
    assert bad.status == 400 and bad.body["field"] == "limit"
    one = await rest.get(f"{CUST}/customer/C-katherine", role=Role.CARE)
    assert one.body["account"][0]["id"] == "A-katherine"
    accounts = await rest.get(
        f"{ACCT}/billingAccount", role=Role.CARE, params={"relatedParty.id": "C-katherine"}
    )
    assert accounts.body[0]["accountType"] == "prepaid"
    assert accounts.body[0]["accountBalance"][0]["amount"]["value"] == Decimal("10.00")
    assert (await rest.get(f"{ACCT}/billingAccount/A-nope", role=Role.CARE)).status == 404


async def test_the_openapi_document_names_every_operation(rest: Rest) -> None:
    paths = rest.openapi.document["paths"]
    assert f"{BAL}/topupBalance" in paths and f"{CUST}/customer" in paths
    assert rest.openapi.checked > 10
