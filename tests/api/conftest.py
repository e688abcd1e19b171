"""Fixtures of the API tests: the whole app with its real grpc.aio server on loopback, the
session redis-server, and clients holding tokens of each role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from ocs.api.auth import Role
from ocs.api.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    balance_pb2_grpc,
    common_pb2,
    credit_control_pb2_grpc,
)
from ocs.app import App
from tests.conftest import app_config

Metadata = tuple[tuple[str, str], ...]


@dataclass
class Api:
    """A client channel to the app's gRPC port, the three stubs, and token minting."""

    app: App
    channel: grpc.aio.Channel
    admin: admin_pb2_grpc.AdminStub
    balance: balance_pb2_grpc.BalanceStub
    cc: credit_control_pb2_grpc.CreditControlStub

    @classmethod
    def connect(cls, app: App, channel: grpc.aio.Channel | None = None) -> Api:
        assert app.grpc is not None
        channel = channel or grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc.port}")
        return cls(
            app,
            channel,
            admin_pb2_grpc.AdminStub(channel),
            balance_pb2_grpc.BalanceStub(channel),
            credit_control_pb2_grpc.CreditControlStub(channel),
        )

    def token(self, role: Role, subject: str = "tester", account: str = "", ttl: int = 600) -> str:
        assert self.app.grpc is not None and self.app.grpc.tokens is not None
        return self.app.grpc.tokens.create(role, subject, ttl_s=ttl, account_id=account)

    def auth(self, role: Role, subject: str = "tester", account: str = "") -> Metadata:
        return (("authorization", f"Bearer {self.token(role, subject, account)}"),)

    @property
    def as_admin(self) -> Metadata:
        return self.auth(Role.ADMIN, "ops")

    @property
    def as_care(self) -> Metadata:
        return self.auth(Role.CARE, "agent")

    @property
    def as_nf(self) -> Metadata:
        return self.auth(Role.NETWORK_FUNCTION, "pgw1")

    def as_subscriber(self, account: str) -> Metadata:
        return self.auth(Role.SUBSCRIBER, account, account)

    async def customer(
        self,
        name: str,
        *,
        money: int = 1000,
        msisdn: str = "",
        offer: str = "payg",
        credit_limit: int = 0,
    ) -> str:
        """Customer ``C-<name>``, account ``A-<name>``, subscriber ``S-<name>`` with MSISDN
        ``msisdn`` (default: digits of ``name``) over the API; returns the account id."""
        md = self.as_admin
        await self.admin.CreateCustomer(
            admin_pb2.CreateCustomerRequest(customer_id=f"C-{name}", name=name.title()),
            metadata=md,
        )
        kind = admin_pb2.ACCOUNT_KIND_POSTPAID if credit_limit else admin_pb2.ACCOUNT_KIND_PREPAID
        await self.admin.CreateAccount(
            admin_pb2.CreateAccountRequest(
                account_id=f"A-{name}",
                customer_id=f"C-{name}",
                opening_balance=money,
                kind=kind,
                credit_limit=credit_limit,
                timezone="Europe/Berlin",
            ),
            metadata=md,
        )
        await self.admin.CreateSubscriber(
            admin_pb2.CreateSubscriberRequest(
                subscriber_id=f"S-{name}",
                account_id=f"A-{name}",
                msisdn=msisdn or name,
                base_offer=offer,
            ),
            metadata=md,
        )
        return f"A-{name}"


def msisdn(value: str) -> common_pb2.SubscriberRef:
    return common_pb2.SubscriberRef(msisdn=value)


def status_of(error: grpc.aio.AioRpcError) -> Any:
    """The google.rpc.Status in an error's trailer (details: BadRequest, ErrorInfo ...)."""
    from grpc_status import rpc_status

    return rpc_status.from_call(error)  # type: ignore[arg-type]


def bad_field(error: grpc.aio.AioRpcError) -> str:
    """The field a google.rpc.BadRequest in the error's details names."""
    from google.rpc import error_details_pb2

    status = status_of(error)
    assert status is not None, "no google.rpc.Status details"
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            return str(request.field_violations[0].field)
    raise AssertionError(f"no BadRequest in {status}")


def error_info(error: grpc.aio.AioRpcError) -> Any:
    from google.rpc import error_details_pb2

    status = status_of(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError(f"no ErrorInfo in {status}")


@pytest.fixture
async def ocs(tmp_path: Path, redis_url: str) -> AsyncIterator[App]:
    app = App(app_config(tmp_path / "state", redis_url))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def api(ocs: App) -> AsyncIterator[Api]:
    client = Api.connect(ocs)
    yield client
    await client.channel.close()
