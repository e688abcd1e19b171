"""The APIs on Redis Cluster (watchers read one stream key per XREAD; history and orders), the
not-found answers of the read RPCs, and the shutdown order (gRPC before Redis, watchers
ended)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from ocs.api.v1 import admin_pb2, balance_pb2, common_pb2
from ocs.app import App
from ocs.config import Config
from tests.api.conftest import Api, msisdn
from tests.support.redis_cluster import RedisClusterProcesses
from tests.support.serve import DEMO_CATALOG


@pytest.mark.cluster
async def test_watch_history_and_orders_on_redis_cluster(
    tmp_path: Path, redis_cluster: RedisClusterProcesses
) -> None:
    config = Config.model_validate(
        {
            "state_dir": str(tmp_path / "state"),
            "catalog": str(DEMO_CATALOG),
            "redis": {"cluster_nodes": redis_cluster.addresses, "password": redis_cluster.password},
            "metrics": {"enabled": False},
            "diameter": {"listen": "127.0.0.1:0"},
            "grpc": {"listen": "127.0.0.1:0"},
        }
    )
    app = App(config)
    await app.start()
    api = Api.connect(app)
    try:
        async with asyncio.timeout(60):  # a hang fails here, with its traceback
            await _watch_history_and_orders(api)
    finally:
        await api.channel.close()
        await app.stop()


async def _watch_history_and_orders(api: Api) -> None:
    accounts = [await api.customer(f"491950000{n}", money=1000) for n in range(3)]
    watches = [
        api.balance.WatchBalance(balance_pb2.AccountSelector(account_id=a), metadata=api.as_care)
        for a in accounts
    ]
    for watch in watches:
        assert (await watch.read()).type == "snapshot"
    for n in range(len(accounts)):
        order = await api.admin.PurchaseOffer(
            admin_pb2.PurchaseOfferRequest(
                order_id=f"cl-{n}", subscriber=msisdn(f"491950000{n}"), offer_id="bundle_s"
            ),
            metadata=api.as_admin,
        )
        assert order.state == admin_pb2.ORDER_STATE_COMPLETED
    for watch in watches:
        async with asyncio.timeout(10):
            note = await watch.read()
        assert note.type == "purchase" and note.money_balance == 501  # the bundle's price
        watch.cancel()
    usage = await api.balance.ListUsage(
        balance_pb2.ListUsageRequest(account=balance_pb2.AccountSelector(account_id=accounts[1])),
        metadata=api.as_care,
    )
    assert [(r.type, r.money_minor) for r in usage.records] == [("purchase", 499)]


async def test_reads_of_unknown_things_are_not_found(api: Api) -> None:
    md = api.as_admin
    for pending in (
        api.admin.GetCustomer(admin_pb2.GetCustomerRequest(customer_id="C-none"), metadata=md),
        api.admin.GetCustomerView(admin_pb2.GetCustomerRequest(customer_id="C-none"), metadata=md),
        api.admin.ListSessions(common_pb2.SubscriberRef(subscriber_id="S-none"), metadata=md),
        api.balance.GetBalance(balance_pb2.AccountSelector(account_id="A-none"), metadata=md),
        api.balance.WatchBalance(
            balance_pb2.AccountSelector(account_id="A-none"), metadata=md
        ).read(),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pending
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_grpc_stops_before_redis_and_ends_its_watchers(api: Api, ocs: App) -> None:
    names = [s.name for s in ocs.subsystems]
    assert names.index("grpc") > names.index("balance") > names.index("redis-connection")
    assert names.index("grpc") > names.index("gy")  # and so stops first
    own = await api.customer("4919500009")
    watch = api.balance.WatchBalance(
        balance_pb2.AccountSelector(account_id=own), metadata=api.as_care
    )
    assert (await watch.read()).type == "snapshot"
    assert ocs.grpc is not None
    async with asyncio.timeout(10):
        await ocs.grpc.stop()  # the fixture stops the rest afterwards
        end = await watch.read()
    assert end is grpc.aio.EOF
    assert ocs.balance.executor is not None  # Redis still up: the API stopped first


async def test_stopping_the_watch_hub_waits_for_readers_whose_watchers_left(ocs: App) -> None:
    """A reader is cancelled when its last watcher leaves, typically inside redis-py (whose
    wait_for can swallow the cancel on Python 3.11); the hub's stop, before Redis closes, still
    sees it end, so no reader outlives its client (on a cluster client a stray reader
    reconnects and keeps sockets open past the event loop)."""
    assert ocs.grpc is not None
    hub = ocs.grpc.watch
    async with hub.watch("A-none", 0) as watcher:
        assert watcher.queue.empty()
    (reader,) = hub._tasks  # cancelled as the watcher left, not yet ended
    assert not reader.done()
    await hub.stop()
    assert reader.done()
