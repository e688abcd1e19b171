"""The Gy/Ro application: answers Credit-Control-Requests with the charging core, and sends
Re-Auth-Requests and Abort-Session-Requests to the gateway that owns a session.

A subsystem: ``start`` registers the CCR handler (application 4, command 272)
with the Diameter server and offers itself as a sender of session signals.
"""

from __future__ import annotations

import logging
import time

from ocs.charging.core import ChargingCore, ChargingUnavailable
from ocs.charging.metrics import record_diameter
from ocs.charging.signals import SessionSignals, Signal
from ocs.charging.types import ResultCode
from ocs.config import ChargingConfig
from ocs.diameter import avps
from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Message, encode_avp
from ocs.diameter.errors import DiameterError
from ocs.diameter.metrics import TOO_BUSY
from ocs.diameter.server import DiameterServer
from ocs.gy.messages import (
    CREDIT_CONTROL,
    DCCA_APPLICATION,
    charging_request,
    credit_control_answer,
)

log = logging.getLogger("ocs.gy")

RE_AUTH = 258
ABORT_SESSION = 274
AUTHORIZE_ONLY = 0  # Re-Auth-Request-Type (RFC 6733 §8.12)


class GyApplication:
    name = "gy"

    def __init__(
        self,
        server: DiameterServer,
        core: ChargingCore,
        signals: SessionSignals,
        config: ChargingConfig,
    ) -> None:
        self.server = server
        self.core = core
        self.signals = signals
        self.config = config

    async def start(self) -> None:
        self.server.register(DCCA_APPLICATION, CREDIT_CONTROL, self.handle)
        self.signals.add_sender(self)
        log.info(
            "credit control ready application=%d cc_session_failover=%s ccfh=%s",
            DCCA_APPLICATION,
            self.config.cc_session_failover,
            self.config.credit_control_failure_handling or "-",
        )

    async def stop(self) -> None:
        await self.signals.stop()

    async def handle(self, ccr: Message, peer: PeerInfo) -> Message:
        started = time.perf_counter()
        request = charging_request(ccr)
        try:
            result = await self.core.handle(request)
        except ChargingUnavailable as exc:
            TOO_BUSY.inc()
            raise DiameterError(
                ResultCode.TOO_BUSY, error_message="balance store unavailable, try another server"
            ) from exc
        answer = credit_control_answer(
            ccr,
            request,
            result,
            peer,
            failure_handling=self.config.credit_control_failure_handling,
            session_failover=self.config.cc_session_failover,
        )
        record_diameter(request, result, time.perf_counter() - started)
        return answer

    # -- session signals (SessionSender) ---------------------------------------------------

    def can_reach(self, origin_host: str, origin_realm: str) -> bool:
        return any(
            peer.origin_host.lower() == origin_host.lower()
            for peer in self.server.connected_peers()
        )

    async def send(
        self, signal: Signal, session_id: str, origin_host: str, origin_realm: str
    ) -> int:
        command = RE_AUTH if signal is Signal.REAUTHORIZE else ABORT_SESSION
        request = Message.request(command, DCCA_APPLICATION, proxiable=True)
        request.add(avps.SESSION_ID, session_id)
        request.add_raw(self.server.identity.avps)
        request.add_raw(
            encode_avp(avps.DESTINATION_REALM, origin_realm),
            encode_avp(avps.DESTINATION_HOST, origin_host),
            encode_avp(avps.AUTH_APPLICATION_ID, DCCA_APPLICATION),
        )
        if signal is Signal.REAUTHORIZE:
            request.add(avps.RE_AUTH_REQUEST_TYPE, AUTHORIZE_ONLY)
        answer = await self.server.request(origin_host, request, self.config.signal_timeout)
        return answer.result_code or 0
