"""ChargingNotifyRequest to the consumer's notifyUri (TS 32.291 §5.2.2.5), as RAR/ASR on Gy.

A :class:`~ocs.charging.signals.SessionSender`: a top-up publishes REAUTHORIZE for the
account's sessions that wait for money, terminating a subscriber publishes ABORT for its
live sessions, and every ocs process hears it. For an Nchf session (its "gateway" is
``nchf:<consumer>``) one process sends, the first to claim the signal in Redis:

    REAUTHORIZE -> {"notificationType": "REAUTHORIZATION",
                    "reauthorizationDetails": [{"ratingGroup": rg}, ...]}
                   (the rating groups answered QUOTA_LIMIT_REACHED or on their final units)
    ABORT       -> {"notificationType": "ABORT_CHARGING"}

over HTTP/2 (h2c prior knowledge for ``http://``, TLS with ALPN h2 for ``https://``), each
attempt bounded by ``notify_timeout``, retried ``notify_retries`` times after a connection
error, a timeout or a 5xx (backoff 0.2 s, 0.4 s, ...); a 2xx or 4xx ends it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from ocs.charging.signals import Signal
from ocs.config import NchfConfig
from ocs.nchf.metrics import NOTIFICATIONS
from ocs.nchf.records import RequestRecords
from ocs.nchf.service import SESSION_PREFIX

log = logging.getLogger("ocs.nchf")

_TYPES = {Signal.REAUTHORIZE: "REAUTHORIZATION", Signal.ABORT: "ABORT_CHARGING"}


class Notifier:
    def __init__(self, records: RequestRecords, config: NchfConfig) -> None:
        self.records = records
        self.config = config
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                http1=False,
                http2=True,
                timeout=self.config.notify_timeout,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- SessionSender -----------------------------------------------------------------------

    def can_reach(self, origin_host: str, origin_realm: str) -> bool:
        return origin_host.startswith(SESSION_PREFIX)

    async def send(
        self, signal: Signal, session_id: str, origin_host: str, origin_realm: str
    ) -> int | None:
        """The consumer's HTTP status; None when another process sends this notification or
        the session named no notifyUri."""
        if not session_id.startswith(SESSION_PREFIX):
            return None
        ref = session_id[len(SESSION_PREFIX) :]
        kind = _TYPES[signal]
        if not await self.records.first_claim(ref, kind, self.config.notify_dedupe_ms):
            return None  # another process sends it
        uri, waiting = await self.records.notification_target(ref)
        if not uri:
            log.info("nchf notification not sent type=%s ref=%s reason=no_notify_uri", kind, ref)
            NOTIFICATIONS.labels(kind, "no_uri").inc()
            return None
        document: dict[str, Any] = {"notificationType": kind}
        if signal is Signal.REAUTHORIZE and waiting:
            document["reauthorizationDetails"] = [{"ratingGroup": rg} for rg in waiting]
        return await self.post(uri, document, kind, ref)

    async def post(self, uri: str, document: dict[str, Any], kind: str, ref: str) -> int:
        attempts = self.config.notify_retries + 1
        for attempt in range(attempts):
            NOTIFICATIONS.labels(kind, "sent" if attempt == 0 else "retried").inc()
            try:
                response = await self.client().post(uri, json=document)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    outcome = "answered" if response.is_success else "refused"
                    NOTIFICATIONS.labels(kind, outcome).inc()
                    log.info(
                        "nchf notification answered type=%s ref=%s status=%d attempt=%d",
                        kind,
                        ref,
                        response.status_code,
                        attempt + 1,
                    )
                    return response.status_code
                problem = f"status {response.status_code}"
            if attempt + 1 < attempts:
                await asyncio.sleep(0.2 * 2**attempt)
        NOTIFICATIONS.labels(kind, "failed").inc()
        log.warning(
            "nchf notification failed type=%s ref=%s uri=%s attempts=%d error=%s",
            kind,
            ref,
            uri,
            attempts,
            problem,
        )
        raise ConnectionError(f"notification to {uri} failed after {attempts} attempts: {problem}")


__all__ = ["Notifier"]
