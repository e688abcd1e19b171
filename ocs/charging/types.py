"""Protocol-neutral charging requests and results.

The Diameter Gy/Ro adapter and the gRPC CreditControl service both translate
their wire messages into these types and back; the charging core decides on
them alone. Names and numbers mirror RFC 8506 / 3GPP TS 32.299, where a reader
will look them up (CC-Request-Type, Reporting-Reason, Final-Unit-Action ...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ocs.policy.currency import Money

NCHF_SESSIONS = "nchf:"
"""Session ids of the Nchf adapter (``nchf:<ChargingDataRef>``). Every adapter's session ids
live in their own namespace: Gy and gRPC refuse a Session-Id in this one, so no client of one
protocol can reach a session of another."""


def foreign_session(session_id: str) -> bool:
    """Whether a Gy or gRPC request names a session of the Nchf adapter."""
    return session_id.startswith(NCHF_SESSIONS)


class RequestType(enum.IntEnum):
    """CC-Request-Type (RFC 8506 §8.3)."""

    INITIAL = 1
    UPDATE = 2
    TERMINATE = 3
    EVENT = 4


class RequestedAction(enum.IntEnum):
    """Requested-Action for EVENT requests (RFC 8506 §8.41)."""

    DIRECT_DEBITING = 0
    REFUND_ACCOUNT = 1
    CHECK_BALANCE = 2
    PRICE_ENQUIRY = 3


class ResultCode(enum.IntEnum):
    """Result codes the charging core answers with (RFC 6733 §7.1, RFC 8506 §9)."""

    SUCCESS = 2001
    TOO_BUSY = 3004
    END_USER_SERVICE_DENIED = 4010
    CREDIT_CONTROL_NOT_APPLICABLE = 4011
    CREDIT_LIMIT_REACHED = 4012
    UNKNOWN_SESSION_ID = 5002
    INVALID_AVP_VALUE = 5004
    MISSING_AVP = 5005
    UNABLE_TO_COMPLY = 5012
    USER_UNKNOWN = 5030
    RATING_FAILED = 5031


class SubscriptionIdType(enum.IntEnum):
    """Subscription-Id-Type (RFC 8506 §8.47)."""

    END_USER_E164 = 0
    END_USER_IMSI = 1
    END_USER_SIP_URI = 2
    END_USER_NAI = 3
    END_USER_PRIVATE = 4


# The identity kinds of the balance engine's identity index, by Subscription-Id-Type.
IDENTITY_KIND = {
    SubscriptionIdType.END_USER_E164: "e164",
    SubscriptionIdType.END_USER_IMSI: "imsi",
    SubscriptionIdType.END_USER_SIP_URI: "sip",
    SubscriptionIdType.END_USER_NAI: "nai",
    SubscriptionIdType.END_USER_PRIVATE: "private",
}


class ReportingReason(enum.IntEnum):
    """Reporting-Reason (3GPP TS 32.299 §7.2.175)."""

    THRESHOLD = 0
    QHT = 1
    FINAL = 2
    QUOTA_EXHAUSTED = 3
    VALIDITY_TIME = 4
    OTHER_QUOTA_TYPE = 5
    RATING_CONDITION_CHANGE = 6
    FORCED_REAUTHORISATION = 7
    POOL_EXHAUSTED = 8


class FinalUnitAction(enum.IntEnum):
    """Final-Unit-Action (RFC 8506 §8.35)."""

    TERMINATE = 0
    REDIRECT = 1
    RESTRICT_ACCESS = 2


class CheckBalanceResult(enum.IntEnum):
    """Check-Balance-Result (RFC 8506 §8.6)."""

    ENOUGH_CREDIT = 0
    NO_CREDIT = 1


@dataclass(slots=True)
class ServiceUnits:
    """Requested, granted or used units (RFC 8506 §8.17-8.19): any subset may be present."""

    time: int | None = None
    total_octets: int | None = None
    input_octets: int | None = None
    output_octets: int | None = None
    service_specific: int | None = None
    money: Money | None = None
    """CC-Money as carried (a decimal in currency units): the core turns it into minor units
    of the account's currency (``ocs.policy.currency.minor_units``), or refuses it."""

    def amount(self, unit: str) -> int | None:
        """The amount in a catalog unit (octets, seconds, units); octets fall back to
        input + output."""
        if unit == "octets":
            if self.total_octets is not None:
                return self.total_octets
            if self.input_octets is not None or self.output_octets is not None:
                return (self.input_octets or 0) + (self.output_octets or 0)
            return None
        if unit == "seconds":
            return self.time
        if unit == "units":
            return self.service_specific
        raise ValueError(f"unknown unit {unit!r}")

    @classmethod
    def of(cls, unit: str, amount: int) -> ServiceUnits:
        """Units holding ``amount`` in the field that carries a catalog unit."""
        if unit == "octets":
            return cls(total_octets=amount)
        if unit == "seconds":
            return cls(time=amount)
        if unit == "units":
            return cls(service_specific=amount)
        raise ValueError(f"unknown unit {unit!r}")

    @property
    def empty(self) -> bool:
        return all(
            value is None
            for value in (
                self.time,
                self.total_octets,
                self.input_octets,
                self.output_octets,
                self.service_specific,
                self.money,
            )
        )


@dataclass(slots=True)
class UsageItem:
    """One rating group of a request (a Multiple-Services-Credit-Control, or the top level)."""

    rating_group: int | None = None
    service_id: int | None = None
    requested: ServiceUnits | None = None
    """None: no quota wanted; an empty ServiceUnits: quota wanted, size left to the server."""
    used: list[ServiceUnits] = field(default_factory=list)
    reporting_reason: ReportingReason | None = None


@dataclass(slots=True)
class ChargingRequest:
    session_id: str
    request_type: RequestType
    request_number: int
    origin_host: str
    origin_realm: str
    subscription_ids: list[tuple[SubscriptionIdType, str]] = field(default_factory=list)
    user_name: str | None = None
    service_context_id: str = ""
    items: list[UsageItem] = field(default_factory=list)
    multiple_services: bool = True
    """Whether the items came as MSCCs (answered as MSCCs) or as top-level units."""
    requested_action: RequestedAction | None = None
    event_timestamp: int | None = None
    """Epoch seconds the gateway stamped the event with, if any."""
    service_info: dict[str, str] = field(default_factory=dict)
    """Rating and billing inputs: visited_network (MCC-MNC), apn, rat_type, called_party ..."""
    refund_reference: str | None = None
    """REFUND_ACCOUNT: the debit refunded, as the debit's answer named it (Diameter
    Refund-Information, TS 32.299 §7.2.152)."""


@dataclass(slots=True)
class FinalUnit:
    action: FinalUnitAction
    redirect_url: str = ""
    filter_id: str = ""


@dataclass(slots=True)
class ItemAnswer:
    rating_group: int | None
    service_id: int | None
    result_code: ResultCode
    granted: ServiceUnits | None = None
    validity_time: int | None = None
    quota_threshold: int | None = None
    """Volume- or Time-Quota-Threshold, in the granted unit."""
    quota_holding_time: int | None = None
    final_unit: FinalUnit | None = None


@dataclass(slots=True)
class CostInformation:
    """Cost-Information (RFC 8506 §8.7): ``amount`` x 10^``exponent`` of ``currency_code``."""

    amount: int
    exponent: int
    currency_code: int
    cost_unit: str = ""


@dataclass(slots=True)
class ChargingResult:
    result_code: ResultCode
    items: list[ItemAnswer] = field(default_factory=list)
    cost: CostInformation | None = None
    check_balance: CheckBalanceResult | None = None
    error_message: str = ""
    failed_field: str | None = None
    """For MISSING_AVP / INVALID_AVP_VALUE: the request field at fault (Failed-AVP on Diameter)."""
    refund_reference: str | None = None
    """DIRECT_DEBITING: names this debit for a later REFUND_ACCOUNT (Refund-Information)."""
