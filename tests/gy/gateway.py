"""A test gateway (PGW/SMSC) speaking Gy to ocs over real TCP, and a CCA reader.

Requests are built with our codec from plain parameters; every answer is also
parsed by python-diameter (an independent implementation) before a test reads it.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocs.diameter import avps
from ocs.diameter.codec import Group, Message, encode_avp
from ocs.diameter.constants import Application, Command
from ocs.diameter.dictionary import DICTIONARY
from tests.diameter.client import Client
from tests.diameter.pd_compare import assert_python_diameter_agrees

INITIAL, UPDATE, TERMINATE, EVENT = 1, 2, 3, 4
DIRECT_DEBITING, REFUND_ACCOUNT, CHECK_BALANCE, PRICE_ENQUIRY = 0, 1, 2, 3
E164, IMSI = 0, 1

_key = DICTIONARY.key
CC_SESSION_FAILOVER = _key("CC-Session-Failover")
CHECK_BALANCE_RESULT = _key("Check-Balance-Result")
REDIRECT_SERVER_ADDRESS = _key("Redirect-Server-Address")
FILTER_ID = _key("Filter-Id")
REFUND_INFORMATION = _key("Refund-Information")
_session_numbers = itertools.count(1)


@dataclass
class Mscc:
    """One Multiple-Services-Credit-Control of a request."""

    rating_group: int | None = None
    request: bool = False
    """Include a Requested-Service-Unit (empty unless one of the amounts below is set)."""
    octets: int | None = None
    seconds: int | None = None
    units: int | None = None
    money: int | None = None
    """CC-Money Value-Digits (with ``exponent``: RFC 8506 §8.8, currency units x 10^exponent)."""
    exponent: int | None = None
    """Unit-Value's Exponent (absent: 0, whole currency units)."""
    currency: int | None = None
    """CC-Money's Currency-Code (absent: the account's currency)."""
    used_octets: int | None = None
    used_seconds: int | None = None
    used_units: int | None = None
    reporting_reason: int | None = None
    service_id: int | None = None

    def avps(self) -> list[bytes]:
        members: list[bytes] = []
        if self.request:
            members.append(
                encode_avp(
                    avps.REQUESTED_SERVICE_UNIT,
                    _units(
                        self.octets,
                        self.seconds,
                        self.units,
                        (self.money, self.exponent, self.currency),
                    ),
                )
            )
        used = _units(self.used_octets, self.used_seconds, self.used_units, None)
        if used:
            members.append(encode_avp(avps.USED_SERVICE_UNIT, used))
        if self.service_id is not None:
            members.append(encode_avp(avps.SERVICE_IDENTIFIER, self.service_id))
        if self.rating_group is not None:
            members.append(encode_avp(avps.RATING_GROUP, self.rating_group))
        if self.reporting_reason is not None:
            members.append(encode_avp(avps.REPORTING_REASON, self.reporting_reason))
        return members


def _units(
    octets: int | None,
    seconds: int | None,
    units: int | None,
    money: tuple[int | None, int | None, int | None] | None,
) -> list[bytes]:
    members = []
    if seconds is not None:
        members.append(encode_avp(avps.CC_TIME, seconds))
    if money is not None and money[0] is not None:
        digits, exponent, currency = money
        value: list[tuple[int, int]] = [(avps.VALUE_DIGITS, digits)]
        if exponent is not None:
            value.append((avps.EXPONENT, exponent))
        cc_money = [encode_avp(avps.UNIT_VALUE, value)]
        if currency is not None:
            cc_money.append(encode_avp(avps.CURRENCY_CODE, currency))
        members.append(encode_avp(avps.CC_MONEY, cc_money))
    if octets is not None:
        members.append(encode_avp(avps.CC_TOTAL_OCTETS, octets))
    if units is not None:
        members.append(encode_avp(avps.CC_SERVICE_SPECIFIC_UNITS, units))
    return members


@dataclass
class Grant:
    """What a CCA says about one rating group."""

    result_code: int | None
    octets: int | None = None
    seconds: int | None = None
    units: int | None = None
    money: tuple[int, int, int | None] | None = None
    """Granted CC-Money: (Value-Digits, Exponent, Currency-Code)."""
    validity_time: int | None = None
    final_action: int | None = None
    redirect_url: str | None = None
    filter_id: str | None = None
    volume_threshold: int | None = None
    time_threshold: int | None = None
    quota_holding_time: int | None = None

    @property
    def granted(self) -> int | None:
        return next((v for v in (self.octets, self.seconds, self.units) if v is not None), None)


@dataclass
class Cca:
    message: Message
    result_code: int
    request_type: int
    request_number: int
    grants: dict[int | None, Grant] = field(default_factory=dict)
    top: Grant | None = None
    cost: tuple[int, int, int] | None = None
    """(Value-Digits, Exponent, Currency-Code) of Cost-Information."""
    check_balance: int | None = None
    session_failover: int | None = None
    failure_handling: int | None = None
    failed_avp: bytes | None = None
    error_message: str | None = None
    refund_information: bytes | None = None

    def __getitem__(self, rating_group: int) -> Grant:
        return self.grants[rating_group]


def _grant(group: Group, result_code: int | None) -> Grant:
    grant = Grant(result_code)
    gsu = group.group(avps.GRANTED_SERVICE_UNIT)
    if gsu is not None:
        grant.octets = gsu.get(avps.CC_TOTAL_OCTETS)
        grant.seconds = gsu.get(avps.CC_TIME)
        grant.units = gsu.get(avps.CC_SERVICE_SPECIFIC_UNITS)
        cc_money = gsu.group(avps.CC_MONEY)
        if cc_money is not None:
            value = cc_money.group(avps.UNIT_VALUE)
            assert value is not None
            grant.money = (
                value.get(avps.VALUE_DIGITS),
                value.get(avps.EXPONENT, default=0),
                cc_money.get(avps.CURRENCY_CODE),
            )
    grant.validity_time = group.get(avps.VALIDITY_TIME)
    fui = group.group(avps.FINAL_UNIT_INDICATION)
    if fui is not None:
        grant.final_action = fui.get(avps.FINAL_UNIT_ACTION)
        redirect = fui.group(avps.REDIRECT_SERVER)
        if redirect is not None:
            grant.redirect_url = redirect.get(REDIRECT_SERVER_ADDRESS)
        grant.filter_id = fui.get(FILTER_ID)
    grant.volume_threshold = group.get(avps.VOLUME_QUOTA_THRESHOLD)
    grant.time_threshold = group.get(avps.TIME_QUOTA_THRESHOLD)
    grant.quota_holding_time = group.get(avps.QUOTA_HOLDING_TIME)
    return grant


def read_cca(message: Message) -> Cca:
    """Parse a CCA (after python-diameter has parsed the same bytes identically)."""
    assert_python_diameter_agrees(message.to_bytes())
    cca = Cca(
        message=message,
        result_code=message.get(avps.RESULT_CODE),
        request_type=message.get(avps.CC_REQUEST_TYPE),
        request_number=message.get(avps.CC_REQUEST_NUMBER),
    )
    for group in message.groups(avps.MULTIPLE_SERVICES_CREDIT_CONTROL):
        cca.grants[group.get(avps.RATING_GROUP)] = _grant(group, group.get(avps.RESULT_CODE))
    cca.top = _grant(message, cca.result_code)
    cost = message.group(avps.COST_INFORMATION)
    if cost is not None:
        value = cost.group(avps.UNIT_VALUE)
        assert value is not None
        cca.cost = (
            value.get(avps.VALUE_DIGITS),
            value.get(avps.EXPONENT, default=0),
            cost.get(avps.CURRENCY_CODE),
        )
    cca.check_balance = message.get(CHECK_BALANCE_RESULT)
    cca.session_failover = message.get(CC_SESSION_FAILOVER)
    cca.failure_handling = message.get(avps.CREDIT_CONTROL_FAILURE_HANDLING)
    cca.failed_avp = message.raw(avps.FAILED_AVP)
    cca.error_message = message.get(avps.ERROR_MESSAGE)
    cca.refund_information = message.get(REFUND_INFORMATION)
    return cca


class Gateway:
    """A PGW: one Diameter connection to ocs, answering RAR/ASR, remembering what came in."""

    def __init__(self, client: Client, origin_host: str) -> None:
        self.client = client
        self.origin_host = origin_host
        self.received: list[Message] = []
        self.arrived = asyncio.Event()

    async def wait_for_request(self, command: int, session_id: str, within: float = 5) -> Message:
        """The first request of ``command`` for ``session_id`` ocs sent us (RAR, ASR)."""
        async with asyncio.timeout(within):
            while True:
                for message in self.received:
                    if (
                        message.command_code == command
                        and message.get(avps.SESSION_ID) == session_id
                    ):
                        return message
                self.arrived.clear()
                await self.arrived.wait()

    @classmethod
    async def connect(cls, port: int, origin_host: str = "pgw1.mno.example") -> Gateway:
        gateway = cls.__new__(cls)
        gateway.origin_host = origin_host
        gateway.received = []
        gateway.arrived = asyncio.Event()
        gateway.client = await Client.connect(
            port, origin_host=origin_host, handler=gateway._answer
        )
        return gateway

    def _answer(self, request: Message) -> Message:
        self.received.append(request)
        self.arrived.set()
        assert_python_diameter_agrees(request.to_bytes())
        answer = request.answer(2001, self.client.peer.local.identity)
        if request.command_code == Command.RE_AUTH:
            return answer
        answer.add(avps.AUTH_APPLICATION_ID, Application.CREDIT_CONTROL)
        return answer

    @staticmethod
    def new_session(origin_host: str = "pgw1.mno.example") -> str:
        return f"{origin_host};{int(datetime.now(UTC).timestamp())};{next(_session_numbers)}"

    def build(
        self,
        session_id: str,
        request_type: int,
        request_number: int,
        *,
        msisdn: str | None = None,
        imsi: str | None = None,
        mscc: list[Mscc] | None = None,
        top: Mscc | None = None,
        service_context: str = "32251@3gpp.org",
        visited_network: str | None = None,
        requested_action: int | None = None,
        extra: list[bytes] | None = None,
        leave_out: frozenset[int] = frozenset(),
    ) -> Message:
        message = Message.request(
            Command.CREDIT_CONTROL, Application.CREDIT_CONTROL, proxiable=True
        )
        parts: list[tuple[int, Any]] = [
            (avps.SESSION_ID, session_id),
            (avps.ORIGIN_HOST, self.origin_host),
            (avps.ORIGIN_REALM, "mno.example"),
            (avps.DESTINATION_REALM, "demo.local"),
            (avps.AUTH_APPLICATION_ID, 4),
            (avps.SERVICE_CONTEXT_ID, service_context),
            (avps.CC_REQUEST_TYPE, request_type),
            (avps.CC_REQUEST_NUMBER, request_number),
        ]
        for key, value in parts:
            if key not in leave_out:
                message.add(key, value)
        if requested_action is not None:
            message.add(avps.REQUESTED_ACTION, requested_action)
        if msisdn is not None:
            message.add(
                avps.SUBSCRIPTION_ID,
                [(avps.SUBSCRIPTION_ID_TYPE, E164), (avps.SUBSCRIPTION_ID_DATA, msisdn)],
            )
        if imsi is not None:
            message.add(
                avps.SUBSCRIPTION_ID,
                [(avps.SUBSCRIPTION_ID_TYPE, IMSI), (avps.SUBSCRIPTION_ID_DATA, imsi)],
            )
        if request_type == INITIAL:
            message.add(avps.MULTIPLE_SERVICES_INDICATOR, 1)
        for item in mscc or ():
            message.add(avps.MULTIPLE_SERVICES_CREDIT_CONTROL, item.avps())
        if top is not None:
            message.add_raw(*top.avps())
        if visited_network is not None:
            message.add(
                avps.SERVICE_INFORMATION,
                [
                    (
                        avps.PS_INFORMATION,
                        [
                            (avps.TGPP_SGSN_MCC_MNC, visited_network),
                            (avps.CALLED_STATION_ID, "internet"),
                        ],
                    )
                ],
            )
        message.add_raw(*(extra or ()))
        return message

    async def send(self, message: Message) -> Cca:
        return read_cca(await self.client.request(message))

    async def ccr(
        self, session_id: str, request_type: int, request_number: int, **kwargs: Any
    ) -> Cca:
        return await self.send(self.build(session_id, request_type, request_number, **kwargs))

    async def close(self) -> None:
        await self.client.disconnect()
        await self.client.close()
