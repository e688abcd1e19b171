"""Tokens, authentication and the authorization matrix (role x RPC x own/other account),
health checking and reflection, on the real server."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ocs.api.auth import Role, TokenError, Tokens, load_or_create_key, parse_ttl, read_key
from ocs.api.v1 import admin_pb2, balance_pb2, common_pb2
from ocs.api.v1 import credit_control_pb2 as cc
from ocs.app import App
from ocs.errors import StartupError
from tests.api.conftest import Api, error_info, msisdn
from tests.conftest import app_config

KEY = b"k" * 32


def test_a_token_carries_role_subject_and_account() -> None:
    tokens = Tokens(KEY, clock=lambda: 1_800_000_000)
    token = tokens.create(Role.SUBSCRIBER, "alice", ttl_s=60, account_id="A-1")
    principal = Tokens(KEY, clock=lambda: 1_800_000_010).verify(token)
    assert (principal.subject, principal.role, principal.account_id) == (
        "alice",
        Role.SUBSCRIBER,
        "A-1",
    )
    assert principal.expires == 1_800_000_060


@pytest.mark.parametrize(
    "problem",
    ["expired", "other key", "tampered", "garbage", "no account", "unknown role"],
)
def test_bad_tokens_are_refused(problem: str) -> None:
    import jwt

    now = 1_800_000_000
    tokens = Tokens(KEY, clock=lambda: now)
    token = tokens.create(Role.ADMIN, "ops", ttl_s=60)
    if problem == "expired":
        token = Tokens(KEY, clock=lambda: now - 3600).create(Role.ADMIN, "ops", ttl_s=60)
    elif problem == "other key":
        token = Tokens(b"x" * 32, clock=lambda: now).create(Role.ADMIN, "ops", ttl_s=60)
    elif problem == "tampered":
        head, body, sig = token.split(".")
        token = ".".join((head, body[:-2] + ("AA" if body[-2:] != "AA" else "BB"), sig))
    elif problem == "garbage":
        token = "not-a-token"
    else:
        claims = {"iss": "ocs", "aud": "ocs-grpc", "sub": "x", "iat": now, "exp": now + 60}
        claims["role"] = "subscriber" if problem == "no account" else "root"
        token = jwt.encode(claims, KEY, algorithm="HS256")
    with pytest.raises(TokenError):
        tokens.verify(token)


def test_token_lifetimes_and_key_files(tmp_path: Path) -> None:
    assert [parse_ttl(t) for t in ("90", "90s", "15m", "12h", "30d")] == [
        90,
        90,
        900,
        43200,
        2592000,
    ]
    with pytest.raises(ValueError):
        parse_ttl("soon")
    path = tmp_path / "grpc" / "token.key"
    key, created = load_or_create_key(path, create=True)
    assert created and len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path, create=True) == (key, False)
    assert read_key(path) == key
    with pytest.raises(ValueError):
        Tokens(key).create(Role.SUBSCRIBER, "s", ttl_s=60)  # needs its account


async def test_missing_and_invalid_tokens_are_unauthenticated(api: Api) -> None:
    request = balance_pb2.AccountSelector(account_id="A-x")
    foreign = Tokens(b"z" * 32).create(Role.ADMIN, "x", ttl_s=60)  # signed with another key
    for metadata in (
        (),
        (("authorization", "Bearer nonsense"),),
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", f"Bearer {foreign}"),),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.balance.GetBalance(request, metadata=metadata)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_an_expired_token_is_unauthenticated(api: Api) -> None:
    assert api.app.grpc is not None and api.app.grpc.tokens is not None
    tokens = api.app.grpc.tokens
    real = tokens.clock
    tokens.clock = lambda: real() - 7200
    try:
        stale = tokens.create(Role.ADMIN, "ops", ttl_s=60)
    finally:
        tokens.clock = real
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.admin.ListOffers(
            admin_pb2.ListOffersRequest(), metadata=(("authorization", f"Bearer {stale}"),)
        )
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in (caught.value.details() or "")


# ---------------------------------------------------------------- the authorization matrix

OWN, OTHER = "A-4916000001", "A-4916000002"


def rpcs(api: Api, account: str, tag: str = "") -> dict[str, object]:
    """One call per RPC, naming ``account`` (or its subscriber) where an account is named."""
    number = "4916000001" if account == OWN else "4916000002"
    ref = msisdn(number)
    selector = balance_pb2.AccountSelector(account_id=account)
    return {
        "Balance.GetBalance": lambda md: api.balance.GetBalance(selector, metadata=md),
        "Balance.GetBalance(subscriber)": lambda md: api.balance.GetBalance(
            balance_pb2.AccountSelector(subscriber=ref), metadata=md
        ),
        "Balance.ListUsage": lambda md: api.balance.ListUsage(
            balance_pb2.ListUsageRequest(account=selector), metadata=md
        ),
        "Balance.TopUp": lambda md: api.balance.TopUp(
            balance_pb2.TopUpRequest(account=selector, payment_id=f"p-{tag}", amount_minor=1),
            metadata=md,
        ),
        "Admin.GetAccount": lambda md: api.admin.GetAccount(
            admin_pb2.GetAccountRequest(account_id=account), metadata=md
        ),
        "Admin.GetSubscriber": lambda md: api.admin.GetSubscriber(ref, metadata=md),
        "Admin.ListSessions": lambda md: api.admin.ListSessions(ref, metadata=md),
        "Admin.ListOffers": lambda md: api.admin.ListOffers(
            admin_pb2.ListOffersRequest(), metadata=md
        ),
        "Admin.GetCustomerView": lambda md: api.admin.GetCustomerView(
            admin_pb2.GetCustomerRequest(customer_id="C-" + number), metadata=md
        ),
        "Admin.AdjustBalance": lambda md: api.admin.AdjustBalance(
            admin_pb2.AdjustBalanceRequest(
                adjustment_id=f"adj-{tag}", account_id=account, amount=1, reason="matrix"
            ),
            metadata=md,
        ),
        "Admin.SetSubscriberStatus": lambda md: api.admin.SetSubscriberStatus(
            admin_pb2.SetSubscriberStatusRequest(
                subscriber=ref, status=admin_pb2.SUBSCRIBER_STATUS_ACTIVE, reason="matrix"
            ),
            metadata=md,
        ),
        "Admin.PurchaseOffer": lambda md: api.admin.PurchaseOffer(
            admin_pb2.PurchaseOfferRequest(order_id=f"o-{tag}", subscriber=ref, offer_id="roam_eu"),
            metadata=md,
        ),
        "Admin.CreateCustomer": lambda md: api.admin.CreateCustomer(
            admin_pb2.CreateCustomerRequest(customer_id=f"C-{tag}"), metadata=md
        ),
        "CreditControl.Initial": lambda md: api.cc.Initial(
            cc.SessionRequest(
                session_id=f"m-{tag}",
                subscriber=ref,
                items=[cc.UsageItem(rating_group=100, requested=common_pb2.ServiceUnits())],
            ),
            metadata=md,
        ),
    }


SUBSCRIBER_MAY = {"Balance.GetBalance", "Balance.GetBalance(subscriber)", "Balance.ListUsage"}
CARE_MAY = SUBSCRIBER_MAY | {
    "Balance.TopUp",
    "Admin.GetAccount",
    "Admin.GetSubscriber",
    "Admin.ListSessions",
    "Admin.ListOffers",
    "Admin.GetCustomerView",
    "Admin.AdjustBalance",
    "Admin.SetSubscriberStatus",
}
ADMIN_MAY = CARE_MAY | {"Admin.PurchaseOffer", "Admin.CreateCustomer"}
NF_MAY = {"CreditControl.Initial"}


async def test_the_authorization_matrix(api: Api) -> None:
    await api.customer("4916000001", money=10_000)
    await api.customer("4916000002", money=10_000)
    roles = {
        "subscriber": (api.as_subscriber(OWN), SUBSCRIBER_MAY),
        "care": (api.as_care, CARE_MAY),
        "admin": (api.as_admin, ADMIN_MAY),
        "network_function": (api.as_nf, NF_MAY),
    }
    outcomes: dict[tuple[str, str, str], str] = {}
    for role, (metadata, allowed) in roles.items():
        for whose in (OWN, OTHER):
            for name, call in rpcs(api, whose, f"{role}-{whose}").items():
                try:
                    await call(metadata)  # type: ignore[operator]
                    outcome = "OK"
                except grpc.aio.AioRpcError as exc:
                    outcome = exc.code().name
                outcomes[(role, name, whose)] = outcome
                expected_ok = name in allowed and not (role == "subscriber" and whose == OTHER)
                if expected_ok:
                    assert outcome == "OK", (role, name, whose, outcome)
                else:
                    assert outcome == "PERMISSION_DENIED", (role, name, whose, outcome)
    assert len(outcomes) == 4 * 2 * len(rpcs(api, OWN))


async def test_a_subscriber_cannot_probe_other_accounts(api: Api) -> None:
    own = await api.customer("4916000003")
    md = api.as_subscriber(own)
    for selector in (
        balance_pb2.AccountSelector(account_id="A-nobody"),
        balance_pb2.AccountSelector(subscriber=msisdn("4916999999")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.balance.GetBalance(selector, metadata=md)
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED  # not NOT_FOUND
    view = await api.balance.GetBalance(balance_pb2.AccountSelector(account_id=own), metadata=md)
    assert view.account_id == own


async def test_errors_carry_google_rpc_status_details(api: Api) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.admin.GetAccount(
            admin_pb2.GetAccountRequest(account_id="A-none"), metadata=api.as_admin
        )
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    info = error_info(caught.value)
    assert (info.reason, info.domain, info.metadata["field"]) == (
        "ACCOUNT_NOT_FOUND",
        "ocs",
        "account_id",
    )


async def test_health_and_reflection_need_no_token(api: Api) -> None:
    health = health_pb2_grpc.HealthStub(api.channel)
    for service in ("", "ocs.v1.CreditControl", "ocs.v1.Balance", "ocs.v1.Admin"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(api.channel)

    async def ask():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    replies = [r async for r in stub.ServerReflectionInfo(ask())]
    names = {s.name for s in replies[0].list_services_response.service}
    assert {
        "ocs.v1.CreditControl",
        "ocs.v1.Balance",
        "ocs.v1.Admin",
        "grpc.health.v1.Health",
    } <= names


async def test_the_key_is_created_under_the_state_dir_and_a_named_one_must_exist(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = app_config(
        tmp_path / "state", redis_url, grpc={"demo_tokens": True}, demo={"subscribers": 1}
    )
    app = App(config)
    with caplog.at_level(logging.INFO, logger="ocs.api"):
        await app.start()
    try:
        key_file = tmp_path / "state" / "grpc" / "token.key"
        assert key_file.exists()
        tokens = [r.getMessage() for r in caplog.records if "demo token" in r.getMessage()]
        assert len(tokens) == 2 and "role=admin" in tokens[0] and "role=subscriber" in tokens[1]
        subscriber_token = tokens[1].rsplit("token=", 1)[1]
        api = Api.connect(app)
        view = await api.balance.GetBalance(
            balance_pb2.AccountSelector(account_id="demo-999100000000"),
            metadata=(("authorization", f"Bearer {subscriber_token}"),),
        )
        assert view.account_id == "demo-999100000000"
        await api.channel.close()
    finally:
        await app.stop()
    missing = app_config(
        tmp_path / "s2", redis_url, grpc={"token_key_file": str(tmp_path / "nope.key")}
    )
    with pytest.raises(StartupError, match="token_key_file"):
        await App(missing).start()


async def test_calls_are_counted_by_service_method_and_code(api: Api) -> None:
    from prometheus_client import REGISTRY

    def count(code: str) -> float:
        labels = {"service": "Balance", "method": "GetBalance", "code": code}
        return REGISTRY.get_sample_value("ocs_grpc_requests_total", labels) or 0.0

    own = await api.customer("4916000009")
    ok, denied = count("OK"), count("PERMISSION_DENIED")
    await api.balance.GetBalance(balance_pb2.AccountSelector(account_id=own), metadata=api.as_care)
    with pytest.raises(grpc.aio.AioRpcError):
        await api.balance.GetBalance(
            balance_pb2.AccountSelector(account_id=own), metadata=api.as_nf
        )
    assert (count("OK") - ok, count("PERMISSION_DENIED") - denied) == (1, 1)
    duration = REGISTRY.get_sample_value(
        "ocs_grpc_request_duration_seconds_count", {"service": "Balance", "method": "GetBalance"}
    )
    assert duration is not None and duration >= 2


def test_processes_racing_to_create_the_token_key_all_read_the_same_key(tmp_path: Path) -> None:
    """With --workers every process may try to create the key at first start: exactly one
    wins, and the others read its complete key (never an empty file)."""
    from concurrent.futures import ThreadPoolExecutor

    for attempt in range(20):
        path = tmp_path / f"race{attempt}" / "token.key"
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(_create_key, [path] * 16))
        keys = {key for key, _ in results}
        assert len(keys) == 1
        assert sum(created for _, created in results) == 1


def _create_key(path: Path) -> tuple[bytes, bool]:
    from ocs.api.auth import load_or_create_key

    return load_or_create_key(path, create=True)
