"""Between the API's protobuf messages and the domain types: translation only, no rules."""

from __future__ import annotations

from ocs.api.errors import invalid
from ocs.api.v1 import admin_pb2, common_pb2
from ocs.balance.model import MAX_INT, Account, Bucket, LiveSession, Status, Subscriber
from ocs.charging.types import ServiceUnits, SubscriptionIdType
from ocs.policy.catalog import Catalog
from ocs.policy.currency import Money

IDENTITY_OF_REF = {
    "msisdn": "e164",
    "imsi": "imsi",
    "sip_uri": "sip",
    "nai": "nai",
    "private_id": "private",
}
"""SubscriberRef fields -> identity kinds of the balance engine's index."""

SUBSCRIPTION_ID_TYPE = {
    "e164": SubscriptionIdType.END_USER_E164,
    "imsi": SubscriptionIdType.END_USER_IMSI,
    "sip": SubscriptionIdType.END_USER_SIP_URI,
    "nai": SubscriptionIdType.END_USER_NAI,
    "private": SubscriptionIdType.END_USER_PRIVATE,
}

STATUS_PB = {
    Status.ACTIVE: admin_pb2.SUBSCRIBER_STATUS_ACTIVE,
    Status.SUSPENDED: admin_pb2.SUBSCRIBER_STATUS_SUSPENDED,
    Status.BARRED: admin_pb2.SUBSCRIBER_STATUS_BARRED,
    Status.TERMINATED: admin_pb2.SUBSCRIBER_STATUS_TERMINATED,
}
STATUS_OF_PB = {value: key for key, value in STATUS_PB.items()}

_UNIT_FIELDS = (
    ("time_seconds", "time"),
    ("total_octets", "total_octets"),
    ("input_octets", "input_octets"),
    ("output_octets", "output_octets"),
    ("service_specific_units", "service_specific"),
    ("money_minor", "money"),
)


def ref_identity(ref: common_pb2.SubscriberRef, field: str) -> tuple[str, str]:
    """(kind, value) of a SubscriberRef: an identity kind, or ``subscriber_id``."""
    which = ref.WhichOneof("id")
    if which is None:
        raise invalid(field, "name the subscriber by one of its identities or its subscriber_id")
    value = str(getattr(ref, which))
    if not value:
        raise invalid(f"{field}.{which}", "must not be empty")
    return IDENTITY_OF_REF.get(which, "subscriber_id"), value


def quantity(field: str, value: int) -> int:
    if not 0 <= value < MAX_INT:
        raise invalid(field, f"must be in [0, 2**53), got {value}")
    return value


def units_in(units: common_pb2.ServiceUnits, field: str, minor_digits: int) -> ServiceUnits:
    """The units of a request; ``money_minor`` is minor units (``minor_digits`` decimals) of
    the account's currency."""
    result = ServiceUnits()
    for pb_name, name in _UNIT_FIELDS:
        if units.HasField(pb_name):
            value = quantity(f"{field}.{pb_name}", getattr(units, pb_name))
            if name == "money":
                result.money = Money(value, -minor_digits)
            else:
                setattr(result, name, value)
    return result


def units_out(units: ServiceUnits, minor_digits: int) -> common_pb2.ServiceUnits:
    result = common_pb2.ServiceUnits()
    for pb_name, name in _UNIT_FIELDS:
        value = getattr(units, name)
        if value is None:
            continue
        if name == "money":  # our own answer's CC-Money: (amount, -minor digits, currency)
            shift = value.exponent + minor_digits
            value = value.value_digits * 10**shift if shift >= 0 else value.value_digits
        setattr(result, pb_name, value)
    return result


def available(bucket: Bucket, account: Account) -> int:
    floor = account.credit_limit if bucket.id == "money" else 0
    return max(0, bucket.balance + floor - bucket.reserved)


def bucket_out(bucket: Bucket, account: Account, catalog: Catalog) -> common_pb2.Bucket:
    services = [
        catalog.services[group].name for group in bucket.applies_to if group in catalog.services
    ]
    return common_pb2.Bucket(
        id=bucket.id,
        unit=bucket.unit.value,
        balance=bucket.balance,
        reserved=bucket.reserved,
        available=available(bucket, account),
        initial=bucket.initial,
        valid_from_ms=bucket.valid_from,
        expires_ms=bucket.expires,
        priority=bucket.priority,
        applies_to=list(bucket.applies_to),
        source=bucket.source,
        services=services,
    )


def money_available(account: Account, now_ms: int) -> int:
    """Spendable money now: the usable money buckets, credit limit and reservations included."""
    return sum(
        available(bucket, account)
        for bucket in account.buckets
        if bucket.unit.value == "money"
        and bucket.valid_from <= now_ms
        and not (bucket.expires and bucket.expires <= now_ms)
    )


def account_out(account: Account, catalog: Catalog) -> admin_pb2.Account:
    result = admin_pb2.Account(
        account_id=account.id,
        customer_id=account.customer_id,
        kind=admin_pb2.ACCOUNT_KIND_POSTPAID
        if account.credit_limit > 0
        else admin_pb2.ACCOUNT_KIND_PREPAID,
        currency=account.currency,
        credit_limit=account.credit_limit,
        parent_account_id=account.parent_id,
        pool_limits=dict(account.pool_limit),
        timezone=account.timezone,
        bill_cycle_day=account.bill_cycle_day,
        subscriber_ids=list(account.subscribers),
        buckets=[bucket_out(b, account, catalog) for b in account.buckets],
        status=account.status.value,
    )
    if account.low_balance is not None:
        result.low_balance = account.low_balance
    return result


def subscriber_out(subscriber: Subscriber) -> admin_pb2.Subscriber:
    result = admin_pb2.Subscriber(
        subscriber_id=subscriber.id,
        account_id=subscriber.account_id,
        customer_id=subscriber.customer_id,
        status=STATUS_PB[subscriber.status],
        offers=list(subscriber.offers),
    )
    for identity in subscriber.identities:
        if identity.kind == "e164" and not result.msisdn:
            result.msisdn = identity.value
        elif identity.kind == "imsi" and not result.imsi:
            result.imsi = identity.value
        elif identity.kind == "sip":
            result.sip_uris.append(identity.value)
        elif identity.kind == "nai":
            result.nais.append(identity.value)
        elif identity.kind == "private":
            result.private_ids.append(identity.value)
    return result


def sessions_out(sessions: list[LiveSession]) -> admin_pb2.ListSessionsResponse:
    """Live sessions as Admin.ListSessions and Care.ListLiveSessions answer them."""
    return admin_pb2.ListSessionsResponse(
        sessions=[
            admin_pb2.Session(
                session_id=s.session_id,
                subscriber_id=s.subscriber_id,
                gateway=s.origin_host,
                state=s.state,
                expires_ms=s.expires_ms,
            )
            for s in sessions
        ]
    )
