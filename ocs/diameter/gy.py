"""Gy/Ro: Credit-Control-Request to ChargingRequest, ChargingResult to Credit-Control-Answer.

Translation only (RFC 8506 §3, 3GPP TS 32.299 §6.4): no charging rule lives
here. The grammar of the CCR (mandatory AVPs, occurrences, Session-Id first)
is checked by the codec before the handler runs; what is left to check here is
what needs values (CC-Request-Type/Requested-Action combinations), answered
with the right Result-Code and Failed-AVP.

Service information for rating and billing is taken from
Service-Information: PS-Information (3GPP-SGSN-MCC-MNC as the visited network,
Called-Station-Id as the APN, 3GPP-RAT-Type, 3GPP-Charging-Id), IMS-Information
(Called-Party-Address) and SMS-Information (the first recipient's
Address-Data).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from ocs.charging.types import (
    ChargingRequest,
    ChargingResult,
    FinalUnitAction,
    ItemAnswer,
    ReportingReason,
    RequestedAction,
    RequestType,
    ResultCode,
    ServiceUnits,
    SubscriptionIdType,
    UsageItem,
)
from ocs.diameter import avps
from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Group, Message, encode_avp
from ocs.diameter.dictionary import DICTIONARY, AvpDef
from ocs.diameter.errors import DiameterError
from ocs.diameter.validation import example_avp

_E = TypeVar("_E")


def _definition(key: int) -> AvpDef:
    definition = DICTIONARY.by_key(key)
    if definition is None:
        raise LookupError(f"AVP {key} is not in the dictionary")
    return definition


_UNIT_VALUE_DEF = _definition(avps.UNIT_VALUE)

CREDIT_CONTROL = 272
DCCA_APPLICATION = 4

_key = DICTIONARY.key
CALLED_PARTY_ADDRESS = _key("Called-Party-Address")
RECIPIENT_INFO = _key("Recipient-Info")
RECIPIENT_ADDRESS = _key("Recipient-Address")
ADDRESS_DATA = _key("Address-Data")
REDIRECT_ADDRESS_TYPE = _key("Redirect-Address-Type")
REDIRECT_SERVER_ADDRESS = _key("Redirect-Server-Address")
FILTER_ID = _key("Filter-Id")
CC_SESSION_FAILOVER = _key("CC-Session-Failover")
CHECK_BALANCE_RESULT = _key("Check-Balance-Result")
COST_UNIT = _key("Cost-Unit")

REDIRECT_URL = 2  # Redirect-Address-Type URL (RFC 8506 §8.38)
CC_SESSION_FAILOVER_SUPPORTED = 1
CCFH_VALUES = {"terminate": 0, "continue": 1, "retry_and_terminate": 2}

_UNIT_KEYS = (
    ("time", avps.CC_TIME),
    ("total_octets", avps.CC_TOTAL_OCTETS),
    ("input_octets", avps.CC_INPUT_OCTETS),
    ("output_octets", avps.CC_OUTPUT_OCTETS),
    ("service_specific", avps.CC_SERVICE_SPECIFIC_UNITS),
)
_THRESHOLD_KEYS = {
    "octets": avps.VOLUME_QUOTA_THRESHOLD,
    "seconds": avps.TIME_QUOTA_THRESHOLD,
    "units": avps.UNIT_QUOTA_THRESHOLD,
}


# ---------------------------------------------------------------------------- CCR


def charging_request(ccr: Message) -> ChargingRequest:
    """The protocol-neutral request carried by a (grammar-checked) CCR."""
    request_type = _enum(ccr, avps.CC_REQUEST_TYPE, RequestType)
    action = None
    if avps.REQUESTED_ACTION in ccr:
        action = _enum(ccr, avps.REQUESTED_ACTION, RequestedAction)
    if request_type is RequestType.EVENT and action is None:
        action = RequestedAction.DIRECT_DEBITING  # RFC 8506 §8.41: the default
    mscc = ccr.groups(avps.MULTIPLE_SERVICES_CREDIT_CONTROL)
    if mscc:
        items = [_usage_item(group) for group in mscc]
    elif avps.REQUESTED_SERVICE_UNIT in ccr or avps.USED_SERVICE_UNIT in ccr:
        items = [_usage_item(ccr)]
    else:
        items = []
    timestamp = ccr.get(avps.EVENT_TIMESTAMP)
    return ChargingRequest(
        session_id=ccr.get(avps.SESSION_ID),
        request_type=request_type,
        request_number=ccr.get(avps.CC_REQUEST_NUMBER),
        origin_host=ccr.get(avps.ORIGIN_HOST),
        origin_realm=ccr.get(avps.ORIGIN_REALM),
        subscription_ids=[_subscription_id(group) for group in ccr.groups(avps.SUBSCRIPTION_ID)],
        user_name=ccr.get(avps.USER_NAME),
        service_context_id=ccr.get(avps.SERVICE_CONTEXT_ID, default=""),
        items=items,
        multiple_services=bool(mscc),
        requested_action=action,
        event_timestamp=int(timestamp.timestamp()) if isinstance(timestamp, datetime) else None,
        service_info=_service_info(ccr),
    )


def _enum(message: Group, key: int, kind: Callable[[int], _E]) -> _E:
    value = message.get(key)
    try:
        return kind(value)
    except ValueError:
        definition = DICTIONARY.by_key(key)
        name = definition.name if definition is not None else str(key)
        raise DiameterError(
            ResultCode.INVALID_AVP_VALUE,
            [message.raw(key) or b""],
            f"{name} {value} is not a known value",
        ) from None


def _subscription_id(group: Group) -> tuple[SubscriptionIdType, str]:
    kind = group.get(avps.SUBSCRIPTION_ID_TYPE)
    try:
        return SubscriptionIdType(kind), group.get(avps.SUBSCRIPTION_ID_DATA)
    except ValueError:
        raise DiameterError(
            ResultCode.INVALID_AVP_VALUE,
            [group.raw(avps.SUBSCRIPTION_ID_TYPE) or b""],
            f"Subscription-Id-Type {kind} is not a known value",
        ) from None


def _units(group: Group | None) -> ServiceUnits | None:
    if group is None:
        return None
    units = ServiceUnits(*(group.get(key) for _, key in _UNIT_KEYS))
    money = group.group(avps.CC_MONEY)
    if money is not None:
        units.money = _money_value(money)
    return units


def _money_value(money: Group) -> int:
    """CC-Money's Unit-Value (Value-Digits x 10^Exponent), in the currency's minor units.

    The amount must be a whole number of minor units: 1250 with exponent 0, or
    12500 with exponent -1; 12505 with exponent -1 is INVALID_AVP_VALUE.
    """
    unit_value = money.group(avps.UNIT_VALUE)
    if unit_value is None:
        raise DiameterError(ResultCode.MISSING_AVP, [example_avp(_UNIT_VALUE_DEF)])
    digits = unit_value.get(avps.VALUE_DIGITS)
    exponent = unit_value.get(avps.EXPONENT, default=0)
    if exponent < 0:
        scale = 10 ** (-exponent)
        if digits % scale:
            raise DiameterError(
                ResultCode.INVALID_AVP_VALUE,
                [money.raw(avps.UNIT_VALUE) or b""],
                "CC-Money must be a whole number of minor units",
            )
        return int(digits // scale)
    return int(digits * 10**exponent)


def _usage_item(group: Group) -> UsageItem:
    used = [u for u in (_units(g) for g in group.groups(avps.USED_SERVICE_UNIT)) if u is not None]
    reason = group.get(avps.REPORTING_REASON)
    if reason is None:
        for usu in group.groups(avps.USED_SERVICE_UNIT):
            reason = usu.get(avps.REPORTING_REASON)
            if reason is not None:
                break
    service_ids = group.get_all(avps.SERVICE_IDENTIFIER)
    return UsageItem(
        rating_group=group.get(avps.RATING_GROUP),
        service_id=service_ids[0] if service_ids else None,
        requested=_units(group.group(avps.REQUESTED_SERVICE_UNIT)),
        used=used,
        reporting_reason=_reason(reason),
    )


def _reason(value: int | None) -> ReportingReason | None:
    if value is None:
        return None
    try:
        return ReportingReason(value)
    except ValueError:
        return None


def _service_info(ccr: Message) -> dict[str, str]:
    info: dict[str, str] = {}
    service = ccr.group(avps.SERVICE_INFORMATION)
    if service is None:
        return info
    ps = service.group(avps.PS_INFORMATION)
    if ps is not None:
        _put(info, "visited_network", ps.get(avps.TGPP_SGSN_MCC_MNC))
        _put(info, "apn", ps.get(avps.CALLED_STATION_ID))
        rat = ps.get(avps.TGPP_RAT_TYPE)
        if isinstance(rat, bytes):
            info["rat_type"] = rat.hex()
        charging_id = ps.get(avps.TGPP_CHARGING_ID)
        if isinstance(charging_id, bytes):
            info["charging_id"] = charging_id.hex()
    ims = service.group(avps.IMS_INFORMATION)
    if ims is not None:
        _put(info, "called_party", ims.get(CALLED_PARTY_ADDRESS))
    sms = service.group(avps.SMS_INFORMATION)
    if sms is not None:
        recipient = sms.group(RECIPIENT_INFO)
        address = recipient.group(RECIPIENT_ADDRESS) if recipient is not None else None
        if address is not None:
            _put(info, "called_party", address.get(ADDRESS_DATA))
    return info


def _put(info: dict[str, str], name: str, value: object) -> None:
    if isinstance(value, str) and value:
        info[name] = value


# ---------------------------------------------------------------------------- CCA


def credit_control_answer(
    ccr: Message,
    request: ChargingRequest,
    result: ChargingResult,
    peer: PeerInfo,
    *,
    failure_handling: str = "",
    session_failover: bool = False,
) -> Message:
    """The CCA for a CCR and the core's result (TS 32.299 §6.4.3 CCA grammar, in its order)."""
    if result.failed_field is not None:
        raise DiameterError(
            result.result_code, [_failed_avp(ccr, result.failed_field)], result.error_message
        )
    cca = ccr.answer(result.result_code, peer.local, error_message=_error_text(result))
    cca.add(avps.AUTH_APPLICATION_ID, DCCA_APPLICATION)
    cca.add(avps.CC_REQUEST_TYPE, int(request.request_type))
    cca.add(avps.CC_REQUEST_NUMBER, request.request_number)
    if session_failover:
        cca.add(CC_SESSION_FAILOVER, CC_SESSION_FAILOVER_SUPPORTED)
    if request.multiple_services:
        for item in result.items:
            cca.add_raw(_mscc(item))
    elif result.items:
        cca.add_raw(*_item_avps(result.items[0], with_result_code=False))
    if result.cost is not None:
        cost = result.cost
        members = [
            encode_avp(
                avps.UNIT_VALUE,
                [(avps.VALUE_DIGITS, cost.amount), (avps.EXPONENT, cost.exponent)],
            ),
            encode_avp(avps.CURRENCY_CODE, cost.currency_code),
        ]
        if cost.cost_unit:
            members.append(encode_avp(COST_UNIT, cost.cost_unit))
        cca.add(avps.COST_INFORMATION, members)
    if failure_handling:
        cca.add(avps.CREDIT_CONTROL_FAILURE_HANDLING, CCFH_VALUES[failure_handling])
    if result.check_balance is not None:
        cca.add(CHECK_BALANCE_RESULT, int(result.check_balance))
    return cca


def _error_text(result: ChargingResult) -> str:
    return result.error_message if result.result_code != ResultCode.SUCCESS else ""


def _failed_avp(ccr: Message, name: str) -> bytes:
    definition = DICTIONARY.find(name)
    if definition is None:
        return b""
    present = ccr.raw(definition.key)
    return present if present is not None else example_avp(definition)


def _mscc(item: ItemAnswer) -> bytes:
    return encode_avp(
        avps.MULTIPLE_SERVICES_CREDIT_CONTROL, _item_avps(item, with_result_code=True)
    )


def _item_avps(item: ItemAnswer, *, with_result_code: bool) -> list[bytes]:
    members: list[bytes] = []
    if item.granted is not None:
        members.append(encode_avp(avps.GRANTED_SERVICE_UNIT, _unit_avps(item.granted)))
    if item.rating_group is not None and with_result_code:
        members.append(encode_avp(avps.RATING_GROUP, item.rating_group))
    if item.service_id is not None and with_result_code:
        members.append(encode_avp(avps.SERVICE_IDENTIFIER, item.service_id))
    if item.validity_time is not None:
        members.append(encode_avp(avps.VALIDITY_TIME, item.validity_time))
    if with_result_code:
        members.append(encode_avp(avps.RESULT_CODE, int(item.result_code)))
    if item.final_unit is not None:
        members.append(_final_unit_indication(item))
    if item.quota_threshold is not None and item.granted is not None:
        key = _threshold_key(item.granted)
        if key is not None:
            members.append(encode_avp(key, item.quota_threshold))
    if item.quota_holding_time is not None:
        members.append(encode_avp(avps.QUOTA_HOLDING_TIME, item.quota_holding_time))
    return members


def _threshold_key(granted: ServiceUnits) -> int | None:
    if granted.total_octets is not None:
        return _THRESHOLD_KEYS["octets"]
    if granted.time is not None:
        return _THRESHOLD_KEYS["seconds"]
    if granted.service_specific is not None:
        return _THRESHOLD_KEYS["units"]
    return None


def _unit_avps(units: ServiceUnits) -> list[bytes]:
    members = [
        encode_avp(key, getattr(units, name))
        for name, key in _UNIT_KEYS
        if getattr(units, name) is not None
    ]
    if units.money is not None:
        members.append(
            encode_avp(
                avps.CC_MONEY,
                [encode_avp(avps.UNIT_VALUE, [(avps.VALUE_DIGITS, units.money)])],
            )
        )
    return members


def _final_unit_indication(item: ItemAnswer) -> bytes:
    final = item.final_unit
    assert final is not None
    members = [encode_avp(avps.FINAL_UNIT_ACTION, int(final.action))]
    if final.action is FinalUnitAction.REDIRECT:
        members.append(
            encode_avp(
                avps.REDIRECT_SERVER,
                [
                    (REDIRECT_ADDRESS_TYPE, REDIRECT_URL),
                    (REDIRECT_SERVER_ADDRESS, final.redirect_url),
                ],
            )
        )
    elif final.action is FinalUnitAction.RESTRICT_ACCESS and final.filter_id:
        members.append(encode_avp(FILTER_ID, final.filter_id))
    return encode_avp(avps.FINAL_UNIT_INDICATION, members)
