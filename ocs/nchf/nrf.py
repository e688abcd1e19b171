"""Optional registration with an NRF as an NF of type CHF (TS 29.510 Nnrf_NFManagement).

SMFs discover their CHF at the NRF and build their client from the profile's
``nfServices[].apiPrefix`` (free5GC's SMF fails without it), so the profile names the
nchf-convergedcharging service with its version, scheme, apiPrefix and endpoint:

    PUT    {nrf}/nnrf-nfm/v1/nf-instances/{nfInstanceId}   NFProfile     -> 201 / 200
    PATCH  (same)  [{"op": "replace", "path": "/nfStatus", "value": "REGISTERED"}]
           every heartBeatTimer seconds (the NRF's value from its answer) -> 204 / 200;
           a 404 means the NRF forgot us: register again
    DELETE (same) at shutdown                                           -> 204

A subsystem that never fails the server's start: while the NRF cannot be reached it retries
(every ``heartbeat_s``) and logs, and the CHF serves meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ocs.config import NchfConfig
from ocs.nchf.metrics import NRF
from ocs.tasks import cancel_and_wait

log = logging.getLogger("ocs.nchf")

SERVICE_NAME = "nchf-convergedcharging"
API_VERSION = "v3"
API_FULL_VERSION = "3.1.6"


def nf_profile(
    instance_id: str, api_root: str, api_prefix: str, heartbeat_s: int
) -> dict[str, Any]:
    """The NFProfile of this CHF (TS 29.510 §6.1.6.2.2) for one service endpoint."""
    root = urlsplit(api_root)
    host = root.hostname or "127.0.0.1"
    port = root.port or (443 if root.scheme == "https" else 80)
    endpoint: dict[str, Any] = {"port": port, "transport": "TCP"}
    address: dict[str, Any] = {}
    if _is_ipv4(host):
        endpoint["ipv4Address"] = host
        address["ipv4Addresses"] = [host]
    elif ":" in host:
        endpoint["ipv6Address"] = host
        address["ipv6Addresses"] = [host]
    else:
        address["fqdn"] = host
    service = {
        "serviceInstanceId": f"{instance_id}-{SERVICE_NAME}",
        "serviceName": SERVICE_NAME,
        "versions": [{"apiVersionInUri": API_VERSION, "apiFullVersion": API_FULL_VERSION}],
        "scheme": root.scheme or "http",
        "nfServiceStatus": "REGISTERED",
        "apiPrefix": f"{root.scheme}://{root.netloc}{api_prefix}",
        "ipEndPoints": [endpoint],
    }
    if "fqdn" in address:
        service["fqdn"] = address["fqdn"]
    return {
        "nfInstanceId": instance_id,
        "nfType": "CHF",
        "nfStatus": "REGISTERED",
        "heartBeatTimer": heartbeat_s,
        **address,
        "nfServices": [service],
        "chfInfo": {},
    }


def _is_ipv4(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


class NrfRegistration:
    """Subsystem: register, keep the registration alive, deregister."""

    name = "nrf"

    def __init__(self, config: NchfConfig, api_root: Callable[[], str]) -> None:
        self.config = config
        self.api_root = api_root
        self.instance_id = config.nf_instance_id or str(uuid.uuid4())
        self.url = f"{config.nrf_uri}/nnrf-nfm/v1/nf-instances/{self.instance_id}"
        self.heartbeat_s = config.heartbeat_s
        self.registered = asyncio.Event()
        self.heartbeats = 0
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        scheme = urlsplit(self.config.nrf_uri).scheme
        self._client = httpx.AsyncClient(
            http1=False, http2=True, timeout=self.config.notify_timeout
        )
        if scheme == "https":  # TLS negotiates h2 by ALPN; h1 stays available there
            await self._client.aclose()
            self._client = httpx.AsyncClient(http2=True, timeout=self.config.notify_timeout)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="nrf")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        if self._client is not None:
            if self.registered.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    response = await self._client.delete(self.url)
                    NRF.labels("deregister", str(response.status_code)).inc()
                    log.info(
                        "nrf deregistered nf_instance_id=%s status=%d",
                        self.instance_id,
                        response.status_code,
                    )
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                if not self.registered.is_set():
                    await self._register()
                else:
                    await self._heartbeat()
            except httpx.HTTPError as exc:
                log.warning("nrf unreachable url=%s error=%s", self.config.nrf_uri, exc)
                NRF.labels(
                    "register" if not self.registered.is_set() else "heartbeat", "error"
                ).inc()
            await asyncio.sleep(self.heartbeat_s)

    async def _register(self) -> None:
        assert self._client is not None
        profile = nf_profile(
            self.instance_id, self.api_root(), self.config.api_prefix, self.config.heartbeat_s
        )
        response = await self._client.put(self.url, json=profile)
        NRF.labels("register", str(response.status_code)).inc()
        if response.status_code not in (200, 201):
            log.warning(
                "nrf refused registration status=%d body=%s",
                response.status_code,
                response.text[:200],
            )
            return
        with contextlib.suppress(ValueError, TypeError):
            timer = response.json().get("heartBeatTimer")
            if isinstance(timer, int) and timer > 0:
                self.heartbeat_s = timer
        self.registered.set()
        log.info(
            "nrf registered nf_instance_id=%s nf_type=CHF heartbeat_s=%d",
            self.instance_id,
            self.heartbeat_s,
        )

    async def _heartbeat(self) -> None:
        assert self._client is not None
        response = await self._client.patch(
            self.url,
            content=b'[{"op":"replace","path":"/nfStatus","value":"REGISTERED"}]',
            headers={"content-type": "application/json-patch+json"},
        )
        NRF.labels("heartbeat", str(response.status_code)).inc()
        if response.status_code == 404:
            self.registered.clear()
            log.warning("nrf lost the registration: registering again")
            await self._register()
            return
        self.heartbeats += 1


__all__ = ["NrfRegistration", "nf_profile"]
