"""The Nchf subsystem: the HTTP/2 server over the charging service, and the notifier that
sends ChargingNotifyRequests for session signals (as ``GyApplication`` sends RAR/ASR)."""

from __future__ import annotations

from ocs.balance.store import BalanceStore
from ocs.charging.core import ChargingCore
from ocs.charging.signals import SessionSignals
from ocs.config import BalanceConfig, ChargingConfig, NchfConfig
from ocs.nchf.notify import Notifier
from ocs.nchf.records import RequestRecords
from ocs.nchf.server import NchfServer
from ocs.nchf.service import ChargingDataService


class NchfApplication:
    name = "nchf"

    def __init__(
        self,
        config: NchfConfig,
        core: ChargingCore,
        store: BalanceStore,
        signals: SessionSignals,
        charging: ChargingConfig,
        balance: BalanceConfig,
    ) -> None:
        self.config = config
        self.signals = signals
        self.records = RequestRecords(
            store, config.record_ttl_s * 1000, balance.session_tombstone_s * 1000
        )
        self.service = ChargingDataService(core, self.records, config, charging)
        self.server = NchfServer(config, self.service)
        self.notifier = Notifier(self.records, config)

    def api_root(self) -> str:
        """``{apiRoot}`` as the NRF profile advertises it."""
        if self.config.api_root:
            return self.config.api_root
        scheme, host, port = self.server.listening[0]
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self) -> None:
        await self.server.start()
        self.signals.add_sender(self.notifier)

    async def stop(self) -> None:
        await self.server.stop()
        await self.signals.stop()
        await self.notifier.close()
