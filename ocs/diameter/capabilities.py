"""Capabilities exchange (RFC 6733 section 5.3): what we advertise, what a peer did.

:class:`LocalNode` describes this node (identity, addresses, vendor, product,
applications). :func:`build_cer`/:func:`answer_cer` write CER/CEA;
:func:`read_capabilities` reads a peer's CER or CEA into a :class:`PeerInfo`
whose ``applications`` are the common ones, found the way section 5.3
prescribes (Auth-, Acct- and Vendor-Specific-Application-Id count, the Relay
application matches everything, the vendor of a Vendor-Specific-Application-Id
does not).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ocs.diameter import avps
from ocs.diameter.codec import Group, Identity, Message, encode_avp
from ocs.diameter.constants import VENDOR_3GPP, Application, Command, ResultCode
from ocs.diameter.errors import InvalidMessage

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Advertised:
    """One application we support and how CER/CEA advertise it."""

    application_id: int
    vendor_id: int = 0
    """Non-zero: also advertised as Vendor-Specific-Application-Id with this Vendor-Id."""
    plain: bool = True
    """Also advertised as a plain Auth-Application-Id (application 4 is both ways)."""


DEFAULT_APPLICATIONS = (Advertised(Application.CREDIT_CONTROL, VENDOR_3GPP),)
"""Credit control (Gy/Ro): Auth-Application-Id 4 and Vendor-Specific-Application-Id
{10415, 4}, as 3GPP gateways look for either."""
SY = Advertised(Application.SY, VENDOR_3GPP, plain=False)


@dataclass(frozen=True)
class LocalNode:
    """This Diameter node as CER/CEA describe it."""

    identity: Identity
    vendor_id: int = 0
    """0: "no vendor" (RFC 6733 section 5.3.3), ocs has no enterprise number."""
    product_name: str = "ocs"
    firmware_revision: int = 0
    origin_state_id: int = 0
    host_ip_addresses: tuple[IPAddress, ...] = ()
    """Empty: advertise the local address of each connection."""
    applications: tuple[Advertised, ...] = DEFAULT_APPLICATIONS
    supported_vendor_ids: tuple[int, ...] = (VENDOR_3GPP,)

    @property
    def application_ids(self) -> frozenset[int]:
        return frozenset(a.application_id for a in self.applications)


@dataclass(frozen=True)
class PeerInfo:
    """A peer whose capabilities were exchanged: handlers get this with each request."""

    origin_host: str
    origin_realm: str
    remote_address: tuple[str, int] | None
    transport: str
    applications: frozenset[int]
    """Applications both sides support (after the exchange)."""
    local: Identity
    """Our identity, for ``request.answer(code, peer.local)``."""
    host_ip_addresses: tuple[object, ...] = ()
    vendor_id: int = 0
    product_name: str = ""
    firmware_revision: int | None = None
    origin_state_id: int | None = None
    relay: bool = False
    advertised: frozenset[int] = field(default=frozenset())
    """Every application id the peer advertised."""


def _capability_avps(local: LocalNode, host_ips: tuple[object, ...]) -> list[bytes]:
    chunks = [local.identity.avps]
    chunks += [encode_avp(avps.HOST_IP_ADDRESS, address) for address in host_ips]
    chunks.append(encode_avp(avps.VENDOR_ID, local.vendor_id))
    chunks.append(encode_avp(avps.PRODUCT_NAME, local.product_name))
    chunks.append(encode_avp(avps.ORIGIN_STATE_ID, local.origin_state_id))
    chunks += [encode_avp(avps.SUPPORTED_VENDOR_ID, v) for v in local.supported_vendor_ids]
    for app in local.applications:
        if app.plain:
            chunks.append(encode_avp(avps.AUTH_APPLICATION_ID, app.application_id))
        if app.vendor_id:
            chunks.append(
                encode_avp(
                    avps.VENDOR_SPECIFIC_APPLICATION_ID,
                    [
                        (avps.VENDOR_ID, app.vendor_id),
                        (avps.AUTH_APPLICATION_ID, app.application_id),
                    ],
                )
            )
    chunks.append(encode_avp(avps.FIRMWARE_REVISION, local.firmware_revision))
    return chunks


def build_cer(local: LocalNode, host_ips: tuple[object, ...]) -> Message:
    cer = Message.request(Command.CAPABILITIES_EXCHANGE, Application.COMMON)
    cer.add_raw(*_capability_avps(local, host_ips))
    return cer


def answer_cer(
    cer: Message,
    result_code: int,
    local: LocalNode,
    host_ips: tuple[object, ...],
    *,
    error_message: str = "",
    failed_avps: tuple[bytes, ...] = (),
) -> Message:
    """The CEA: Result-Code first, then our capabilities (grammar of section 5.3.2)."""
    cea = Message(
        Command.CAPABILITIES_EXCHANGE,
        Application.COMMON,
        flags=0x20 if 3000 <= result_code < 4000 else 0,
        hop_by_hop=cer.hop_by_hop,
        end_to_end=cer.end_to_end,
    )
    cea.add(avps.RESULT_CODE, int(result_code))
    cea.add_raw(*_capability_avps(local, host_ips))
    if error_message:
        cea.add(avps.ERROR_MESSAGE, error_message)
    if failed_avps:
        cea.add(avps.FAILED_AVP, list(failed_avps))
    return cea


def check_vendor_specific(message: Message) -> None:
    """Each Vendor-Specific-Application-Id holds exactly one application id (6.11)."""
    for vsai in message.groups(avps.VENDOR_SPECIFIC_APPLICATION_ID):
        auth = vsai.raw(avps.AUTH_APPLICATION_ID)
        acct = vsai.raw(avps.ACCT_APPLICATION_ID)
        if auth is None and acct is None:
            raise InvalidMessage(
                ResultCode.DIAMETER_MISSING_AVP,
                [encode_avp(avps.AUTH_APPLICATION_ID, 0), encode_avp(avps.ACCT_APPLICATION_ID, 0)],
                "Vendor-Specific-Application-Id without Auth- or Acct-Application-Id",
            )
        if auth is not None and acct is not None:
            raise InvalidMessage(
                ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
                [auth, acct],
                "Vendor-Specific-Application-Id with both Auth- and Acct-Application-Id",
            )


def _application_ids(message: Group) -> set[int]:
    ids = set(message.get_all(avps.AUTH_APPLICATION_ID))
    ids |= set(message.get_all(avps.ACCT_APPLICATION_ID))
    for vsai in message.groups(avps.VENDOR_SPECIFIC_APPLICATION_ID):
        ids |= set(vsai.get_all(avps.AUTH_APPLICATION_ID))
        ids |= set(vsai.get_all(avps.ACCT_APPLICATION_ID))
    return ids


def read_capabilities(
    message: Message,
    local: LocalNode,
    remote_address: tuple[str, int] | None,
    transport: str,
) -> PeerInfo:
    """The peer described by its CER or CEA; ``applications`` is the common set."""
    advertised = _application_ids(message)
    relay = Application.RELAY in advertised
    ours = local.application_ids
    return PeerInfo(
        origin_host=message.get(avps.ORIGIN_HOST, default=""),
        origin_realm=message.get(avps.ORIGIN_REALM, default=""),
        remote_address=remote_address,
        transport=transport,
        applications=frozenset(ours if relay else ours & advertised),
        local=local.identity,
        host_ip_addresses=tuple(message.get_all(avps.HOST_IP_ADDRESS)),
        vendor_id=message.get(avps.VENDOR_ID, default=0),
        product_name=message.get(avps.PRODUCT_NAME, default=""),
        firmware_revision=message.get(avps.FIRMWARE_REVISION),
        origin_state_id=message.get(avps.ORIGIN_STATE_ID),
        relay=relay,
        advertised=frozenset(advertised),
    )
