"""Nchf_ConvergedCharging: ChargingDataRequest to ChargingRequest, ChargingResult to
ChargingDataResponse (TS 32.291 §6.1.6).

Translation only, like ``ocs/gy/messages.py``: no charging rule lives here. A field is read
only when ocs uses it; a field of the wrong JSON type or out of range is a 400 naming it as a
JSON pointer; an enum value ocs does not know is accepted and ignored (the spec's enums are
"any of the listed values or any string"). Amounts must fit the balance engine's integers
(below 2**53).

    ChargingDataRequest                         ChargingRequest
    subscriberIdentifier imsi-/nai-/msisdn-    subscription_ids (IMSI, NAI, E.164)
    ...userInformation.servedGPSI msisdn-      subscription_ids (E.164)
    multipleUnitUsage[]                         items (one per rating group)
      ratingGroup                                 rating_group
      requestedUnit {time, totalVolume, uplinkVolume, downlinkVolume, serviceSpecificUnits}
                                                  requested (an empty object: size left to ocs)
      usedUnitContainer[] (same units, serviceId, triggers, quotaManagementIndicator)
                                                  used (every container, online or offline)
    oneTimeEvent + oneTimeEventType IEC/PEC     request_type EVENT, DIRECT_DEBITING of the
                                                requested (IEC) or used (PEC) units
    pduSessionInformation.ratType/dnnId/servingCNPlmnId, chargingId, roamerInOut,
    iMSChargingInformation.calledPartyAddress, sMSChargingInformation recipient
                                                service_info (rat_type, apn, visited_network,
                                                charging_id, roamer_in_out, called_party)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
from ocs.nchf.problems import incorrect, missing

MAX_UNITS = 2**53 - 1
"""The balance engine's integers are Lua doubles: exact below 2**53."""
MAX_TEXT = 256
"""Longest identifier or service-information string ocs keeps (longer: 400)."""
MAX_ITEMS = 64
"""Most rating groups (and used-unit containers per rating group) in one request."""

# TS 32.291 §6.1.6.3 TriggerType -> Reporting-Reason (TS 32.299 §7.2.175); others: none.
_REASONS = {
    "QUOTA_THRESHOLD": ReportingReason.THRESHOLD,
    "QHT": ReportingReason.QHT,
    "FINAL": ReportingReason.FINAL,
    "QUOTA_EXHAUSTED": ReportingReason.QUOTA_EXHAUSTED,
    "VALIDITY_TIME": ReportingReason.VALIDITY_TIME,
    "OTHER_QUOTA_TYPE": ReportingReason.OTHER_QUOTA_TYPE,
    "FORCED_REAUTHORISATION": ReportingReason.FORCED_REAUTHORISATION,
}
# Core result codes -> TS 32.291 §6.1.6.3.14 ResultCode of a rating group.
ITEM_RESULTS = {
    ResultCode.SUCCESS: "SUCCESS",
    ResultCode.END_USER_SERVICE_DENIED: "END_USER_SERVICE_DENIED",
    ResultCode.CREDIT_CONTROL_NOT_APPLICABLE: "QUOTA_MANAGEMENT_NOT_APPLICABLE",
    ResultCode.CREDIT_LIMIT_REACHED: "QUOTA_LIMIT_REACHED",
    ResultCode.USER_UNKNOWN: "USER_UNKNOWN",
    ResultCode.RATING_FAILED: "RATING_FAILED",
}
_FINAL_ACTIONS = {
    FinalUnitAction.TERMINATE: "TERMINATE",
    FinalUnitAction.REDIRECT: "REDIRECT",
    FinalUnitAction.RESTRICT_ACCESS: "RESTRICT_ACCESS",
}
# (field of ServiceUnits, JSON name) for requested, used and granted units.
_UNIT_FIELDS = (
    ("time", "time"),
    ("total_octets", "totalVolume"),
    ("input_octets", "uplinkVolume"),
    ("output_octets", "downlinkVolume"),
    ("service_specific", "serviceSpecificUnits"),
)
_IDENTITY_PREFIXES = (
    ("imsi-", SubscriptionIdType.END_USER_IMSI),
    ("nai-", SubscriptionIdType.END_USER_NAI),
    ("msisdn-", SubscriptionIdType.END_USER_E164),
)


@dataclass(slots=True)
class NchfRequest:
    """What the adapter needs from a ChargingDataRequest besides the ChargingRequest."""

    charging: ChargingRequest
    sequence_number: int
    notify_uri: str
    one_time_event: bool


# ---------------------------------------------------------------------------- reading


def _object(value: object, pointer: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise incorrect(pointer, "must be an object")
    return value


def _optional_object(parent: Mapping[str, Any], name: str, pointer: str) -> Mapping[str, Any]:
    value = parent.get(name)
    if value is None:
        return {}
    return _object(value, f"{pointer}/{name}")


def _array(parent: Mapping[str, Any], name: str, pointer: str) -> list[Any]:
    value = parent.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise incorrect(f"{pointer}/{name}", "must be an array")
    if len(value) > MAX_ITEMS:
        raise incorrect(f"{pointer}/{name}", f"at most {MAX_ITEMS} entries")
    return value


def _integer(value: object, pointer: str, maximum: int = MAX_UNITS) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise incorrect(pointer, "must be an integer")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise incorrect(pointer, "must be an integer")
        value = int(value)
    if not 0 <= value <= maximum:
        raise incorrect(pointer, f"must be in [0, {maximum}]")
    return value


def _optional_integer(parent: Mapping[str, Any], name: str, pointer: str) -> int | None:
    value = parent.get(name)
    return None if value is None else _integer(value, f"{pointer}/{name}")


def _text(parent: Mapping[str, Any], name: str, pointer: str) -> str:
    value = parent.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise incorrect(f"{pointer}/{name}", "must be a string")
    if len(value) > MAX_TEXT:
        raise incorrect(f"{pointer}/{name}", f"at most {MAX_TEXT} characters")
    return value


def _units(value: object, pointer: str) -> ServiceUnits:
    units = _object(value, pointer)
    return ServiceUnits(
        time=_optional_integer(units, "time", pointer),
        total_octets=_optional_integer(units, "totalVolume", pointer),
        input_octets=_optional_integer(units, "uplinkVolume", pointer),
        output_octets=_optional_integer(units, "downlinkVolume", pointer),
        service_specific=_optional_integer(units, "serviceSpecificUnits", pointer),
    )


def sequence_number(body: Mapping[str, Any]) -> int:
    """invocationSequenceNumber (Uint32, mandatory)."""
    if "invocationSequenceNumber" not in body:
        raise missing("/invocationSequenceNumber")
    return _integer(body["invocationSequenceNumber"], "/invocationSequenceNumber", 2**32 - 1)


def check_common(body: Mapping[str, Any]) -> None:
    """The fields every ChargingDataRequest must carry (TS 32.291 §6.1.6.2.1: M)."""
    if body.get("nfConsumerIdentification") is None:
        raise missing("/nfConsumerIdentification")
    consumer = _object(body["nfConsumerIdentification"], "/nfConsumerIdentification")
    if consumer.get("nodeFunctionality") is None:
        raise missing("/nfConsumerIdentification/nodeFunctionality")
    _text(consumer, "nodeFunctionality", "/nfConsumerIdentification")
    _text(consumer, "nFName", "/nfConsumerIdentification")
    if body.get("invocationTimeStamp") is None:
        raise missing("/invocationTimeStamp")
    _text(body, "invocationTimeStamp", "")
    sequence_number(body)


def consumer_name(body: Mapping[str, Any]) -> str:
    """The consumer's name for the session's "gateway": never a Diameter identity (a FQDN
    has no colon), so only the Nchf notifier ever signals these sessions."""
    consumer = body["nfConsumerIdentification"]
    name = consumer.get("nFName") or consumer.get("nFFqdn") or consumer["nodeFunctionality"]
    return f"nchf:{str(name)[:MAX_TEXT]}"


def subscription_ids(body: Mapping[str, Any]) -> list[tuple[SubscriptionIdType, str]]:
    ids: list[tuple[SubscriptionIdType, str]] = []
    supi = _text(body, "subscriberIdentifier", "")
    gpsi = _text(
        _optional_object(
            _optional_object(body, "pDUSessionChargingInformation", ""),
            "userInformation",
            "/pDUSessionChargingInformation",
        ),
        "servedGPSI",
        "/pDUSessionChargingInformation/userInformation",
    )
    for value in (supi, gpsi):
        for prefix, kind in _IDENTITY_PREFIXES:
            if value.startswith(prefix) and len(value) > len(prefix):
                ids.append((kind, value[len(prefix) :]))
    return ids


def usage_items(body: Mapping[str, Any], *, terminate: bool) -> list[UsageItem]:
    items: list[UsageItem] = []
    seen: set[int] = set()
    for n, raw in enumerate(_array(body, "multipleUnitUsage", "")):
        pointer = f"/multipleUnitUsage/{n}"
        usage = _object(raw, pointer)
        if usage.get("ratingGroup") is None:
            raise missing(f"{pointer}/ratingGroup")
        rating_group = _integer(usage["ratingGroup"], f"{pointer}/ratingGroup", 2**32 - 1)
        if rating_group in seen:
            raise incorrect(f"{pointer}/ratingGroup", "a rating group may appear once")
        seen.add(rating_group)
        requested = None
        if usage.get("requestedUnit") is not None and not terminate:
            requested = _units(usage["requestedUnit"], f"{pointer}/requestedUnit")
        used: list[ServiceUnits] = []
        service_id: int | None = None
        reason: ReportingReason | None = None
        for c, raw_container in enumerate(_array(usage, "usedUnitContainer", pointer)):
            where = f"{pointer}/usedUnitContainer/{c}"
            container = _object(raw_container, where)
            used.append(_units(container, where))
            if service_id is None:
                service_id = _optional_integer(container, "serviceId", where)
            for t, raw_trigger in enumerate(_array(container, "triggers", where)):
                trigger = _object(raw_trigger, f"{where}/triggers/{t}")
                kind = trigger.get("triggerType")
                if reason is None and isinstance(kind, str):
                    reason = _REASONS.get(kind)
        items.append(
            UsageItem(
                rating_group=rating_group,
                service_id=service_id,
                requested=requested,
                used=used,
                reporting_reason=reason,
            )
        )
    return items


def service_info(body: Mapping[str, Any]) -> dict[str, str]:
    info: dict[str, str] = {}
    pdu = _optional_object(body, "pDUSessionChargingInformation", "")
    base = "/pDUSessionChargingInformation"
    session = _optional_object(pdu, "pduSessionInformation", base)
    where = f"{base}/pduSessionInformation"
    _put(info, "rat_type", _text(session, "ratType", where))
    _put(info, "apn", _text(session, "dnnId", where))
    plmn = _optional_object(session, "servingCNPlmnId", where)
    mcc = _text(plmn, "mcc", f"{where}/servingCNPlmnId")
    mnc = _text(plmn, "mnc", f"{where}/servingCNPlmnId")
    if mcc.isdigit() and mnc.isdigit():
        info["visited_network"] = mcc + mnc
    for holder, pointer in ((body, ""), (pdu, base)):
        charging_id = holder.get("chargingId")
        if charging_id is not None:
            info["charging_id"] = str(_integer(charging_id, f"{pointer}/chargingId", 2**32 - 1))
    user = _optional_object(pdu, "userInformation", base)
    _put(info, "roamer_in_out", _text(user, "roamerInOut", f"{base}/userInformation"))
    ims = _optional_object(body, "iMSChargingInformation", "")
    _put(info, "called_party", _text(ims, "calledPartyAddress", "/iMSChargingInformation"))
    sms = _optional_object(body, "sMSChargingInformation", "")
    recipients = _array(sms, "recipientInfo", "/sMSChargingInformation")
    if recipients:
        where = "/sMSChargingInformation/recipientInfo/0"
        recipient = _object(recipients[0], where)
        other = _optional_object(recipient, "recipientOtherAddress", where)
        _put(info, "called_party", _text(other, "sMaddressData", f"{where}/recipientOtherAddress"))
    return info


def _put(info: dict[str, str], name: str, value: str) -> None:
    if value:
        info[name] = value


def charging_request(
    body: Mapping[str, Any],
    session_id: str,
    request_type: RequestType,
    request_number: int,
) -> NchfRequest:
    """The ChargingRequest of a ChargingDataRequest for ``request_type`` (INITIAL for a
    create, UPDATE, TERMINATE for a release; a create with ``oneTimeEvent`` is an EVENT)."""
    check_common(body)
    one_time = body.get("oneTimeEvent")
    if one_time is not None and not isinstance(one_time, bool):
        raise incorrect("/oneTimeEvent", "must be true or false")
    event = bool(one_time) and request_type is RequestType.INITIAL
    notify_uri = _text(body, "notifyUri", "")
    if notify_uri and not notify_uri.startswith(("http://", "https://")):
        raise incorrect("/notifyUri", "must be an http:// or https:// URI")
    ids: list[tuple[SubscriptionIdType, str]] = []
    if request_type is RequestType.INITIAL:
        ids = subscription_ids(body)
        if not ids:
            raise missing("/subscriberIdentifier", "required (imsi-, nai- or msisdn-)")
    items = usage_items(body, terminate=request_type is RequestType.TERMINATE)
    action = None
    if event:
        items = _event_items(body, items)
        action = RequestedAction.DIRECT_DEBITING
    charging = ChargingRequest(
        session_id=session_id,
        request_type=RequestType.EVENT if event else request_type,
        request_number=request_number,
        origin_host=consumer_name(body),
        origin_realm="nchf",
        subscription_ids=ids,
        items=items,
        multiple_services=not event,
        requested_action=action,
        service_info=service_info(body),
    )
    return NchfRequest(charging, sequence_number(body), notify_uri, event)


def _event_items(body: Mapping[str, Any], items: list[UsageItem]) -> list[UsageItem]:
    """IEC: debit the requested units; PEC: debit the used units (TS 32.290 §5.2.2.4)."""
    if len(items) != 1:
        raise incorrect("/multipleUnitUsage", "a one-time event charges exactly one rating group")
    item = items[0]
    kind = body.get("oneTimeEventType")
    if kind == "PEC" or (item.requested is None and item.used):
        total = ServiceUnits()
        for units in item.used:
            for name, _ in _UNIT_FIELDS:
                value = getattr(units, name)
                if value is not None:
                    setattr(total, name, (getattr(total, name) or 0) + value)
        return [
            UsageItem(rating_group=item.rating_group, service_id=item.service_id, requested=total)
        ]
    if item.requested is None:
        raise missing("/multipleUnitUsage/0/requestedUnit", "required for an IEC one-time event")
    return [
        UsageItem(
            rating_group=item.rating_group, service_id=item.service_id, requested=item.requested
        )
    ]


# ---------------------------------------------------------------------------- writing


def timestamp(now_ms: int) -> str:
    """TS 29.571 DateTime (RFC 3339, UTC, milliseconds)."""
    moment = datetime.fromtimestamp(now_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now_ms % 1000:03d}Z"


def unit_information(item: ItemAnswer) -> dict[str, Any]:
    """One MultipleUnitInformation (TS 32.291 §6.1.6.2.1.5)."""
    info: dict[str, Any] = {
        "ratingGroup": item.rating_group or 0,
        "resultCode": ITEM_RESULTS.get(item.result_code, "END_USER_SERVICE_REJECTED"),
    }
    triggers = []
    granted = item.granted
    if granted is not None:
        info["grantedUnit"] = {
            name: value
            for field_name, name in _UNIT_FIELDS
            if (value := getattr(granted, field_name)) is not None
        }
        triggers.append("QUOTA_EXHAUSTED")
    if item.validity_time is not None:
        info["validityTime"] = item.validity_time
        triggers.append("VALIDITY_TIME")
    if item.quota_holding_time is not None:
        info["quotaHoldingTime"] = item.quota_holding_time
        triggers.append("QHT")
    if item.quota_threshold is not None and granted is not None:
        if granted.total_octets is not None:
            info["volumeQuotaThreshold"] = item.quota_threshold
        elif granted.time is not None:
            info["timeQuotaThreshold"] = item.quota_threshold
        elif granted.service_specific is not None:
            info["unitQuotaThreshold"] = item.quota_threshold
        triggers.append("QUOTA_THRESHOLD")
    final = item.final_unit
    if final is not None:
        indication: dict[str, Any] = {"finalUnitAction": _FINAL_ACTIONS[final.action]}
        if final.action is FinalUnitAction.REDIRECT and final.redirect_url:
            indication["redirectServer"] = {
                "redirectAddressType": "URL",
                "redirectServerAddress": final.redirect_url,
            }
        elif final.action is FinalUnitAction.RESTRICT_ACCESS and final.filter_id:
            indication["filterId"] = final.filter_id
        info["finalUnitIndication"] = indication
    if triggers:
        # the conditions under which the consumer reports (TS 32.255 §5.2.1.4), re-armed with
        # every grant
        info["triggers"] = [
            {"triggerType": kind, "triggerCategory": "IMMEDIATE_REPORT"} for kind in triggers
        ]
    return info


def charging_data_response(
    result: ChargingResult,
    sequence: int,
    now_ms: int,
    *,
    session_failover: bool,
    failure_handling: str,
) -> dict[str, Any]:
    """ChargingDataResponse (TS 32.291 §6.1.6.2.1.3) of a successful operation."""
    response: dict[str, Any] = {
        "invocationTimeStamp": timestamp(now_ms),
        "invocationSequenceNumber": sequence,
        "sessionFailover": "FAILOVER_SUPPORTED" if session_failover else "FAILOVER_NOT_SUPPORTED",
    }
    if failure_handling:
        response["invocationResult"] = {"failureHandling": failure_handling.upper()}
    if result.items:
        response["multipleUnitInformation"] = [unit_information(item) for item in result.items]
    return response


def reauthorize_groups(result: ChargingResult) -> tuple[list[int], list[int]]:
    """(rating groups waiting for money, rating groups granted quota again): the groups a
    top-up's REAUTHORIZATION names are those answered QUOTA_LIMIT_REACHED, given their final
    units, or told how long their final-unit action lasts (final units used, no new grant)."""
    waiting, granted = [], []
    for item in result.items:
        if item.rating_group is None:
            continue
        final_used = item.granted is None and item.validity_time is not None
        if (
            item.result_code is ResultCode.CREDIT_LIMIT_REACHED
            or item.final_unit is not None
            or (item.result_code is ResultCode.SUCCESS and final_used)
        ):
            waiting.append(item.rating_group)
        elif item.result_code is ResultCode.SUCCESS and item.granted is not None:
            granted.append(item.rating_group)
    return waiting, granted


__all__ = [
    "ITEM_RESULTS",
    "NchfRequest",
    "charging_data_response",
    "charging_request",
    "check_common",
    "reauthorize_groups",
    "sequence_number",
    "timestamp",
]
