"""The billing bridge as a subsystem of ``ocs serve`` (or of ``ocs billing-bridge``): opens the
configured ledger, consumes the balance engine's streams, closes the ledger on stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ocs.balance.engine import Engine
from ocs.billing_bridge.consumer import Bridge
from ocs.billing_bridge.ledger import Ledger, LedgerError, open_ledger
from ocs.config import BillingConfig
from ocs.errors import StartupError


class BillingBridge:
    name = "billing-bridge"

    def __init__(self, engine: Engine, config: BillingConfig, state_dir: Path) -> None:
        self.engine = engine
        self.config = config
        self.state_dir = state_dir
        self.ledger: Ledger | None = None
        self.bridge: Bridge | None = None

    async def start(self) -> None:
        try:
            self.ledger = await asyncio.to_thread(
                open_ledger, self.config.ledger_dsn, self.state_dir
            )
        except LedgerError as exc:
            raise StartupError(f"billing: {exc}") from exc
        self.bridge = Bridge(self.engine, self.ledger, self.config)
        await self.bridge.start()

    async def stop(self) -> None:
        if self.bridge is not None:
            await self.bridge.stop()
            self.bridge = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
