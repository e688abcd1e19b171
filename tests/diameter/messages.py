"""Messages for the Diameter tests: a valid Gy CCR, and raw AVPs for malformed ones."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime

from ocs.diameter import avps
from ocs.diameter.codec import Message, encode_avp
from ocs.diameter.constants import Application, Command, CommandFlag

SESSION = "pgw1.mno.example;1700000000;1;1"


def raw_avp(
    code: int,
    data: bytes,
    *,
    flags: int = 0x40,
    vendor: int | None = None,
    length: int | None = None,
    pad: bool = True,
) -> bytes:
    """An AVP built octet by octet, so tests can make it wrong on purpose."""
    header_length = 12 if vendor is not None else 8
    if vendor is not None:
        flags |= 0x80
    if length is None:
        length = header_length + len(data)
    header = struct.pack(">II", code, flags << 24 | length)
    if vendor is not None:
        header += struct.pack(">I", vendor)
    padding = b"\x00" * (-len(data) & 3) if pad else b""
    return header + data + padding


def ccr_avps(request_type: int = 2, request_number: int = 1, session: str = SESSION) -> list[bytes]:
    """The AVPs of a valid Gy CCR, Session-Id first."""
    return [
        encode_avp(avps.SESSION_ID, session),
        encode_avp(avps.ORIGIN_HOST, "pgw1.mno.example"),
        encode_avp(avps.ORIGIN_REALM, "mno.example"),
        encode_avp(avps.DESTINATION_REALM, "demo.local"),
        encode_avp(avps.AUTH_APPLICATION_ID, 4),
        encode_avp(avps.SERVICE_CONTEXT_ID, "32251@3gpp.org"),
        encode_avp(avps.CC_REQUEST_TYPE, request_type),
        encode_avp(avps.CC_REQUEST_NUMBER, request_number),
        encode_avp(avps.EVENT_TIMESTAMP, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        encode_avp(
            avps.SUBSCRIPTION_ID,
            [(avps.SUBSCRIPTION_ID_TYPE, 0), (avps.SUBSCRIPTION_ID_DATA, "41790000001")],
        ),
        encode_avp(
            avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
            [
                (avps.REQUESTED_SERVICE_UNIT, []),
                (avps.USED_SERVICE_UNIT, [(avps.CC_TOTAL_OCTETS, 1048576), (avps.CC_TIME, 60)]),
                (avps.RATING_GROUP, 10),
            ],
        ),
        encode_avp(
            avps.SERVICE_INFORMATION,
            [
                (
                    avps.PS_INFORMATION,
                    [(avps.CALLED_STATION_ID, "internet"), (avps.TGPP_RAT_TYPE, b"\x06")],
                )
            ],
        ),
    ]


def ccr(
    body: Iterable[bytes] | None = None,
    *,
    flags: int = CommandFlag.REQUEST | CommandFlag.PROXIABLE,
    command: int = Command.CREDIT_CONTROL,
    application: int = Application.CREDIT_CONTROL,
    hop_by_hop: int = 0x1111,
    end_to_end: int = 0x2222,
) -> bytes:
    """A CCR (by default valid) on the wire."""
    message = Message(
        command, application, flags=int(flags), hop_by_hop=hop_by_hop, end_to_end=end_to_end
    )
    message.add_raw(*(ccr_avps() if body is None else body))
    return message.to_bytes()
