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
from typing import Any, TypeVar

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
    foreign_session,
)
from ocs.diameter import avps
from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Group, Message, encode_avp
from ocs.diameter.dictionary import DICTIONARY, AvpDef
from ocs.diameter.errors import DiameterError
from ocs.diameter.validation import example_avp
from ocs.policy.currency import Money

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
REFUND_INFORMATION = _key("Refund-Information")

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

_REQUEST_TYPES = {kind.value: kind for kind in RequestType}


def charging_request(ccr: Message) -> ChargingRequest:
    """The protocol-neutral request carried by a (grammar-checked) CCR.

    Values are read in one pass (:meth:`Group.values`): a CCR carries a fraction
    of the AVPs its grammar allows, and absent ones then cost nothing.
    """
    top = ccr.values()
    _check_texts(ccr, top)
    request_type = _REQUEST_TYPES.get(top[avps.CC_REQUEST_TYPE])  # a dict is 4x an enum call
    if request_type is None:
        request_type = _enum(ccr, top, avps.CC_REQUEST_TYPE, RequestType)
    action = None
    if avps.REQUESTED_ACTION in top:
        action = _enum(ccr, top, avps.REQUESTED_ACTION, RequestedAction)
    if request_type is RequestType.EVENT and action is None:
        action = RequestedAction.DIRECT_DEBITING  # RFC 8506 §8.41: the default
    if avps.MULTIPLE_SERVICES_CREDIT_CONTROL in top:
        mscc = ccr.groups(avps.MULTIPLE_SERVICES_CREDIT_CONTROL)
        items = [_usage_item(group, group.values()) for group in mscc]
    elif avps.REQUESTED_SERVICE_UNIT in top or avps.USED_SERVICE_UNIT in top:
        items = [_usage_item(ccr, top)]
    else:
        items = []
    subscription_ids = (
        [_subscription_id(group) for group in ccr.groups(avps.SUBSCRIPTION_ID)]
        if avps.SUBSCRIPTION_ID in top
        else []
    )
    timestamp = top.get(avps.EVENT_TIMESTAMP)
    service = top.get(avps.SERVICE_INFORMATION)
    return ChargingRequest(
        session_id=top[avps.SESSION_ID],
        request_type=request_type,
        request_number=top[avps.CC_REQUEST_NUMBER],
        origin_host=top[avps.ORIGIN_HOST],
        origin_realm=top[avps.ORIGIN_REALM],
        subscription_ids=subscription_ids,
        user_name=top.get(avps.USER_NAME),
        service_context_id=top.get(avps.SERVICE_CONTEXT_ID, ""),
        items=items,
        multiple_services=avps.MULTIPLE_SERVICES_CREDIT_CONTROL in top,
        requested_action=action,
        event_timestamp=int(timestamp.timestamp()) if isinstance(timestamp, datetime) else None,
        service_info=_service_info(service) if service is not None else {},
        refund_reference=_refund_reference(ccr) if REFUND_INFORMATION in top else None,
    )


def _refund_reference(ccr: Message) -> str:
    """Refund-Information (TS 32.299 §7.2.152): what our debit's answer sent, given back."""
    raw = ccr.get(REFUND_INFORMATION)
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError:
        raise DiameterError(
            ResultCode.INVALID_AVP_VALUE,
            [ccr.raw(REFUND_INFORMATION) or b""],
            "Refund-Information is not one this server gave",
        ) from None


def _enum(message: Group, values: dict[int, Any], key: int, kind: Callable[[int], _E]) -> _E:
    value: int = values[key]  # present: the grammar requires it, or the caller checked
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
    data = group.get(avps.SUBSCRIPTION_ID_DATA)
    if not data or len(data) > MAX_TEXT:
        problem = "is empty" if not data else f"is longer than {MAX_TEXT} characters"
        raise DiameterError(
            ResultCode.INVALID_AVP_VALUE,
            [_within(avps.SUBSCRIPTION_ID, group, avps.SUBSCRIPTION_ID_DATA)],
            f"Subscription-Id-Data {problem}",
        )
    try:
        return SubscriptionIdType(kind), data
    except ValueError:
        raise DiameterError(
            ResultCode.INVALID_AVP_VALUE,
            [group.raw(avps.SUBSCRIPTION_ID_TYPE) or b""],
            f"Subscription-Id-Type {kind} is not a known value",
        ) from None


def _units(group: Group | None) -> ServiceUnits | None:
    if group is None:
        return None
    values = group.values()
    get = values.get
    if (
        (get(avps.CC_TOTAL_OCTETS) or 0)
        | (get(avps.CC_INPUT_OCTETS) or 0)
        | (get(avps.CC_OUTPUT_OCTETS) or 0)
        | (get(avps.CC_SERVICE_SPECIFIC_UNITS) or 0)
    ) > MAX_UNITS:
        _too_many_units(group, values)
    units = ServiceUnits(
        get(avps.CC_TIME),
        get(avps.CC_TOTAL_OCTETS),
        get(avps.CC_INPUT_OCTETS),
        get(avps.CC_OUTPUT_OCTETS),
        get(avps.CC_SERVICE_SPECIFIC_UNITS),
    )
    money = get(avps.CC_MONEY)
    if money is not None:
        units.money = _money_value(money)
    return units


# -- validation of values the codec cannot judge: identities and amounts

MAX_TEXT = 256
"""Most characters of Subscription-Id-Data, User-Name and Service-Context-Id."""
MAX_UNITS = 2**53 - 1
"""Most units of one amount: the charging core counts exactly in integers below 2**53."""
_TEXTS = (
    (avps.SERVICE_CONTEXT_ID, "Service-Context-Id"),
    (avps.USER_NAME, "User-Name"),
)


def _check_texts(ccr: Message, top: dict[int, Any]) -> None:
    """5004 for an empty or oversized Service-Context-Id or User-Name, or a Session-Id of
    another adapter's namespace (Failed-AVP: it)."""
    if foreign_session(top[avps.SESSION_ID]):
        raise DiameterError(
            ResultCode.INVALID_AVP_VALUE,
            [ccr.raw(avps.SESSION_ID) or b""],
            "Session-Id is in the Nchf adapter's namespace (nchf:)",
        )
    for key, name in _TEXTS:
        value = top.get(key)
        if value is not None and not 0 < len(value) <= MAX_TEXT:
            problem = "is empty" if not value else f"is longer than {MAX_TEXT} characters"
            raise DiameterError(
                ResultCode.INVALID_AVP_VALUE, [ccr.raw(key) or b""], f"{name} {problem}"
            )


def _too_many_units(group: Group, values: dict[int, Any]) -> None:
    for key in (
        avps.CC_TOTAL_OCTETS,
        avps.CC_INPUT_OCTETS,
        avps.CC_OUTPUT_OCTETS,
        avps.CC_SERVICE_SPECIFIC_UNITS,
    ):
        value = values.get(key)
        if value is not None and value > MAX_UNITS:
            name = _definition(key).name
            raise DiameterError(
                ResultCode.INVALID_AVP_VALUE,
                [group.raw(key) or b""],
                f"{name} {value} is more than ocs counts ({MAX_UNITS})",
            )


def _within(outer: int, group: Group, member: int) -> bytes:
    """Failed-AVP content for a member of a grouped AVP: the group holding just that member
    (RFC 6733 section 7.5)."""
    return encode_avp(outer, [group.raw(member) or b""])


def _money_value(money: Group) -> Money:
    """CC-Money (RFC 8506 §8.22): Unit-Value (Value-Digits x 10^Exponent, §8.8) in currency
    units of Currency-Code (§8.11; absent: the account's). Kept as carried: the charging core
    turns it into minor units of the account's currency, or refuses it."""
    unit_value = money.group(avps.UNIT_VALUE)
    if unit_value is None:
        raise DiameterError(ResultCode.MISSING_AVP, [example_avp(_UNIT_VALUE_DEF)])
    return Money(
        unit_value.get(avps.VALUE_DIGITS),
        unit_value.get(avps.EXPONENT, default=0),
        money.get(avps.CURRENCY_CODE),
    )


def _usage_item(group: Group, values: dict[int, Any]) -> UsageItem:
    """One MSCC (or the command level of a request without MSCC), from its values."""
    used: list[ServiceUnits] = []
    reason = values.get(avps.REPORTING_REASON)
    if avps.USED_SERVICE_UNIT in values:
        for usu in group.groups(avps.USED_SERVICE_UNIT):
            units = _units(usu)
            if units is not None:
                used.append(units)
            if reason is None:
                reason = usu.get(avps.REPORTING_REASON)
    return UsageItem(
        rating_group=values.get(avps.RATING_GROUP),
        service_id=values.get(avps.SERVICE_IDENTIFIER),
        requested=_units(values.get(avps.REQUESTED_SERVICE_UNIT)),
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


def _service_info(service: Group) -> dict[str, str]:
    info: dict[str, str] = {}
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

_ENCODED: dict[tuple[int, int], bytes] = {}
_ENCODED_LIMIT = 8192


def _int_avp(key: int, value: int) -> bytes:
    """An integer-valued AVP, encoded once: result codes, rating groups, validity times,
    request types and numbers and grant sizes repeat from answer to answer."""
    cache_key = (key, value)
    encoded = _ENCODED.get(cache_key)
    if encoded is None:
        if len(_ENCODED) >= _ENCODED_LIMIT:
            _ENCODED.clear()
        encoded = _ENCODED[cache_key] = encode_avp(key, value)
    return encoded


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
    cca.add_raw(
        _int_avp(avps.AUTH_APPLICATION_ID, DCCA_APPLICATION),
        _int_avp(avps.CC_REQUEST_TYPE, request.request_type),
        _int_avp(avps.CC_REQUEST_NUMBER, request.request_number),
    )
    if session_failover:
        cca.add_raw(_int_avp(CC_SESSION_FAILOVER, CC_SESSION_FAILOVER_SUPPORTED))
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
        cca.add_raw(_int_avp(avps.CREDIT_CONTROL_FAILURE_HANDLING, CCFH_VALUES[failure_handling]))
    if result.check_balance is not None:
        cca.add_raw(_int_avp(CHECK_BALANCE_RESULT, result.check_balance))
    if result.refund_reference:
        cca.add_raw(encode_avp(REFUND_INFORMATION, result.refund_reference.encode()))
    return cca


def _error_text(result: ChargingResult) -> str:
    return result.error_message if result.result_code != ResultCode.SUCCESS else ""


def _failed_avp(ccr: Message, name: str) -> bytes:
    """The AVP at fault as the request carried it (at the top level, or inside a
    Multiple-Services-Credit-Control and its unit AVPs), else an example of it."""
    definition = DICTIONARY.find(name)
    if definition is None:
        return b""
    present = _find_raw(ccr, definition.key, depth=3)
    return present if present is not None else example_avp(definition)


_NESTING = (
    avps.MULTIPLE_SERVICES_CREDIT_CONTROL,
    avps.REQUESTED_SERVICE_UNIT,
    avps.USED_SERVICE_UNIT,
    avps.CC_MONEY,
)


def _find_raw(group: Group, key: int, depth: int) -> bytes | None:
    present = group.raw(key)
    if present is not None or depth == 0:
        return present
    for outer in _NESTING:
        if outer in group:
            for inner in group.groups(outer):
                found = _find_raw(inner, key, depth - 1)
                if found is not None:
                    return found
    return None


_MSCCS: dict[tuple[Any, ...], bytes] = {}


def _mscc(item: ItemAnswer) -> bytes:
    """The MSCC of an item answer, encoded once per distinct answer: grants of the policy's
    size, validity and threshold repeat from answer to answer (6 us to encode, <1 to look up)."""
    granted, final = item.granted, item.final_unit
    key = (
        item.rating_group,
        item.service_id,
        item.result_code,
        None
        if granted is None
        else (
            granted.time,
            granted.total_octets,
            granted.input_octets,
            granted.output_octets,
            granted.service_specific,
            granted.money,
        ),
        item.validity_time,
        item.quota_threshold,
        item.quota_holding_time,
        None if final is None else (final.action, final.redirect_url, final.filter_id),
    )
    encoded = _MSCCS.get(key)
    if encoded is None:
        if len(_MSCCS) >= _ENCODED_LIMIT:
            _MSCCS.clear()
        encoded = _MSCCS[key] = encode_avp(
            avps.MULTIPLE_SERVICES_CREDIT_CONTROL, _item_avps(item, with_result_code=True)
        )
    return encoded


def _item_avps(item: ItemAnswer, *, with_result_code: bool) -> list[bytes]:
    members: list[bytes] = []
    if item.granted is not None:
        members.append(encode_avp(avps.GRANTED_SERVICE_UNIT, _unit_avps(item.granted)))
    if item.rating_group is not None and with_result_code:
        members.append(_int_avp(avps.RATING_GROUP, item.rating_group))
    if item.service_id is not None and with_result_code:
        members.append(_int_avp(avps.SERVICE_IDENTIFIER, item.service_id))
    if item.validity_time is not None:
        members.append(_int_avp(avps.VALIDITY_TIME, item.validity_time))
    if with_result_code:
        members.append(_int_avp(avps.RESULT_CODE, item.result_code))
    if item.final_unit is not None:
        members.append(_final_unit_indication(item))
    if item.quota_threshold is not None and item.granted is not None:
        key = _threshold_key(item.granted)
        if key is not None:
            members.append(_int_avp(key, item.quota_threshold))
    if item.quota_holding_time is not None:
        members.append(_int_avp(avps.QUOTA_HOLDING_TIME, item.quota_holding_time))
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
        _int_avp(key, value)
        for name, key in _UNIT_KEYS
        if (value := getattr(units, name)) is not None
    ]
    money = units.money
    if money is not None:
        cc_money = [
            encode_avp(
                avps.UNIT_VALUE,
                [(avps.VALUE_DIGITS, money.value_digits), (avps.EXPONENT, money.exponent)],
            )
        ]
        if money.currency_code is not None:
            cc_money.append(encode_avp(avps.CURRENCY_CODE, money.currency_code))
        members.append(encode_avp(avps.CC_MONEY, cc_money))
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
