"""Code run in child processes (spawned): a bridge that SIGKILLs itself mid-batch."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import uvloop

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.consumer import Bridge
from ocs.billing_bridge.ingest import Entry, IngestResult
from ocs.billing_bridge.ledger import Ledger
from ocs.config import BalanceConfig, BillingConfig


def bridge_then_die(
    target: RedisTarget, dsn: str, path: Path, partitions: int, consumer: str, point: str
) -> None:
    """Consume, and die by SIGKILL right before the first ledger commit (``before_commit``) or
    right after it, before the acknowledgement (``after_commit``)."""

    class Dying(Bridge):
        async def _commit(self, entries: list[Entry]) -> IngestResult:
            if point == "before_commit":
                os.kill(os.getpid(), signal.SIGKILL)
            result = await super()._commit(entries)
            os.kill(os.getpid(), signal.SIGKILL)
            return result

    async def main() -> None:
        store = BalanceStore(target, BalanceConfig(), partitions)
        await store.start()
        ledger = Ledger(dsn, None if dsn else path).open()
        bridge = Dying(store, ledger, BillingConfig(batch_size=7), consumer)
        await bridge.drain()

    uvloop.run(main())
