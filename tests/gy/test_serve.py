"""The real `ocs serve`: an independent Diameter client charges a demo subscriber, and a
second instance continues a session after the first is killed."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from diameter.message.avp.grouped import (
    MultipleServicesCreditControl,
    RequestedServiceUnit,
    SubscriptionId,
    UsedServiceUnit,
)
from diameter.message.commands.credit_control import CreditControlAnswer, CreditControlRequest
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.gy.gateway import INITIAL, TERMINATE, UPDATE, Gateway, Mscc
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow

FIRST_DEMO_MSISDN = "999100000000"
MB = 1_000_000


def serve_config(tmp_path: Path, name: str, redis_url: str, port: int) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f"""
state_dir = "{tmp_path / name}"
catalog = "{DEMO_CATALOG}"
[redis]
url = "{redis_url}"
[metrics]
enabled = false
[diameter]
listen = "127.0.0.1:{port}"
origin_host = "ocs-{name}.demo.local"
origin_realm = "demo.local"
[demo]
subscribers = 3
"""
    )
    return path


@pytest.fixture
def servers() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for server in started:
        server.stop()


def start(path: Path, servers: list[ServeProcess]) -> ServeProcess:
    server = ServeProcess(path).start()
    servers.append(server)
    server.wait_ready()
    return server


async def demo_account(redis_url: str) -> tuple[int, dict[str, int]]:
    store = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), partitions=64)
    await store.start()
    try:
        account = await store.get_account(f"demo-{FIRST_DEMO_MSISDN}")
        assert account is not None
        return account.money, {
            b.id.split(".")[1]: b.balance for b in account.buckets if "." in b.id
        }
    finally:
        await store.stop()


def ccr(session: str, request_type: int, number: int, **fields: object) -> CreditControlRequest:
    request = CreditControlRequest()
    request.session_id = session
    request.origin_host = b"pgw.independent.example"
    request.origin_realm = b"independent.example"
    request.destination_realm = b"demo.local"
    request.auth_application_id = 4
    request.service_context_id = "32251@3gpp.org"
    request.cc_request_type = request_type
    request.cc_request_number = number
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def test_an_independent_client_charges_a_demo_subscriber(
    tmp_path: Path, redis_url: str, servers: list[ServeProcess]
) -> None:
    logging.getLogger("diameter").setLevel(logging.WARNING)
    port = free_port()
    start(serve_config(tmp_path, "a", redis_url, port), servers)
    node = Node("pgw.independent.example", "independent.example", vendor_ids=[10415])
    app = SimpleThreadingApplication(4, is_auth_application=True)
    peer = node.add_peer(
        f"aaa://ocs-a.demo.local:{port};transport=tcp",
        "demo.local",
        ip_addresses=["127.0.0.1"],
        is_persistent=True,
    )
    node.add_application(app, [peer])
    node.start()
    try:
        assert app.is_ready.wait(10), "python-diameter never finished CER/CEA"
        session = "pgw.independent.example;1;1"
        subscriber = [
            SubscriptionId(subscription_id_type=0, subscription_id_data=FIRST_DEMO_MSISDN)
        ]

        def send(request: CreditControlRequest) -> CreditControlAnswer:
            answer = app.send_request(request, timeout=5)
            assert isinstance(answer, CreditControlAnswer)
            return answer

        first = send(
            ccr(
                session,
                1,
                0,
                subscription_id=subscriber,
                multiple_services_indicator=1,
                multiple_services_credit_control=[
                    MultipleServicesCreditControl(
                        rating_group=100, requested_service_unit=RequestedServiceUnit()
                    )
                ],
            )
        )
        assert first.result_code == 2001
        [mscc] = first.multiple_services_credit_control
        assert (mscc.result_code, mscc.granted_service_unit.cc_total_octets) == (2001, 10 * MB)

        update = send(
            ccr(
                session,
                2,
                1,
                multiple_services_credit_control=[
                    MultipleServicesCreditControl(
                        rating_group=100,
                        requested_service_unit=RequestedServiceUnit(),
                        used_service_unit=[UsedServiceUnit(cc_total_octets=10 * MB)],
                    )
                ],
            )
        )
        assert (
            update.multiple_services_credit_control[0].granted_service_unit.cc_total_octets
            == 10 * MB
        )
        end = send(
            ccr(
                session,
                3,
                2,
                multiple_services_credit_control=[
                    MultipleServicesCreditControl(
                        rating_group=100,
                        used_service_unit=[UsedServiceUnit(cc_total_octets=3 * MB)],
                    )
                ],
            )
        )
        assert end.result_code == 2001
        sms = ccr(
            "pgw.independent.example;1;2",
            4,
            0,
            subscription_id=subscriber,
            requested_action=0,
            multiple_services_credit_control=[
                MultipleServicesCreditControl(
                    rating_group=300,
                    requested_service_unit=RequestedServiceUnit(cc_service_specific_units=1),
                )
            ],
        )
        sms.service_context_id = "32274@3gpp.org"
        assert send(sms).result_code == 2001
    finally:
        node.stop(wait_timeout=10)
    money, buckets = asyncio.run(demo_account(redis_url))
    assert money == 1000  # all of it came out of Prepaid Bundle S
    assert buckets["data"] == 500 * MB - 13 * MB
    assert buckets["sms"] == 49


async def test_second_instance_continues_a_session_after_the_first_is_killed(
    tmp_path: Path, redis_url: str, servers: list[ServeProcess]
) -> None:
    port_a, port_b = free_port(), free_port()
    first = start(serve_config(tmp_path, "a", redis_url, port_a), servers)
    start(serve_config(tmp_path, "b", redis_url, port_b), servers)

    gateway = await Gateway.connect(port_a)
    session = gateway.new_session()
    opened = await gateway.ccr(
        session, INITIAL, 0, msisdn=FIRST_DEMO_MSISDN, mscc=[Mscc(100, request=True)]
    )
    assert opened[100].octets == 10 * MB
    first.signal(signal.SIGKILL)
    first.wait()
    await gateway.client.close()

    gateway = await Gateway.connect(port_b)
    try:
        continued = await gateway.ccr(
            session, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=10 * MB)]
        )
        assert (continued.result_code, continued[100].octets) == (2001, 10 * MB)
        ended = await gateway.ccr(session, TERMINATE, 2, mscc=[Mscc(100, used_octets=4 * MB)])
        assert ended.result_code == 2001
    finally:
        await gateway.close()
    money, buckets = await demo_account(redis_url)
    assert (money, buckets["data"]) == (1000, 500 * MB - 14 * MB)
