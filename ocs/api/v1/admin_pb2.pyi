from ocs.api.v1 import common_pb2 as _common_pb2
from ocs.api.v1 import limits_pb2 as _limits_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_KIND_PREPAID: _ClassVar[AccountKind]
    ACCOUNT_KIND_POSTPAID: _ClassVar[AccountKind]

class SubscriberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIBER_STATUS_ACTIVE: _ClassVar[SubscriberStatus]
    SUBSCRIBER_STATUS_SUSPENDED: _ClassVar[SubscriberStatus]
    SUBSCRIBER_STATUS_BARRED: _ClassVar[SubscriberStatus]
    SUBSCRIBER_STATUS_TERMINATED: _ClassVar[SubscriberStatus]

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_ACCEPTED: _ClassVar[OrderState]
    ORDER_STATE_COMPLETED: _ClassVar[OrderState]
    ORDER_STATE_FAILED: _ClassVar[OrderState]
ACCOUNT_KIND_PREPAID: AccountKind
ACCOUNT_KIND_POSTPAID: AccountKind
SUBSCRIBER_STATUS_ACTIVE: SubscriberStatus
SUBSCRIBER_STATUS_SUSPENDED: SubscriberStatus
SUBSCRIBER_STATUS_BARRED: SubscriberStatus
SUBSCRIBER_STATUS_TERMINATED: SubscriberStatus
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_ACCEPTED: OrderState
ORDER_STATE_COMPLETED: OrderState
ORDER_STATE_FAILED: OrderState

class Customer(_message.Message):
    __slots__ = ("customer_id", "name", "account_ids", "profile")
    class ProfileEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    account_ids: _containers.RepeatedScalarFieldContainer[str]
    profile: _containers.ScalarMap[str, str]
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., account_ids: _Optional[_Iterable[str]] = ..., profile: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateCustomerRequest(_message.Message):
    __slots__ = ("customer_id", "name", "profile")
    class ProfileEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    profile: _containers.ScalarMap[str, str]
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., profile: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("customer_id",)
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "customer_id", "kind", "currency", "credit_limit", "parent_account_id", "pool_limits", "timezone", "bill_cycle_day", "subscriber_ids", "buckets", "status", "low_balance")
    class PoolLimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PARENT_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_LIMITS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    BILL_CYCLE_DAY_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_IDS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LOW_BALANCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    customer_id: str
    kind: AccountKind
    currency: str
    credit_limit: int
    parent_account_id: str
    pool_limits: _containers.ScalarMap[str, int]
    timezone: str
    bill_cycle_day: int
    subscriber_ids: _containers.RepeatedScalarFieldContainer[str]
    buckets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Bucket]
    status: str
    low_balance: int
    def __init__(self, account_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., kind: _Optional[_Union[AccountKind, str]] = ..., currency: _Optional[str] = ..., credit_limit: _Optional[int] = ..., parent_account_id: _Optional[str] = ..., pool_limits: _Optional[_Mapping[str, int]] = ..., timezone: _Optional[str] = ..., bill_cycle_day: _Optional[int] = ..., subscriber_ids: _Optional[_Iterable[str]] = ..., buckets: _Optional[_Iterable[_Union[_common_pb2.Bucket, _Mapping]]] = ..., status: _Optional[str] = ..., low_balance: _Optional[int] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("account_id", "customer_id", "kind", "currency", "credit_limit", "parent_account_id", "pool_limits", "timezone", "bill_cycle_day", "opening_balance", "low_balance")
    class PoolLimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    PARENT_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_LIMITS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    BILL_CYCLE_DAY_FIELD_NUMBER: _ClassVar[int]
    OPENING_BALANCE_FIELD_NUMBER: _ClassVar[int]
    LOW_BALANCE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    customer_id: str
    kind: AccountKind
    currency: str
    credit_limit: int
    parent_account_id: str
    pool_limits: _containers.ScalarMap[str, int]
    timezone: str
    bill_cycle_day: int
    opening_balance: int
    low_balance: int
    def __init__(self, account_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., kind: _Optional[_Union[AccountKind, str]] = ..., currency: _Optional[str] = ..., credit_limit: _Optional[int] = ..., parent_account_id: _Optional[str] = ..., pool_limits: _Optional[_Mapping[str, int]] = ..., timezone: _Optional[str] = ..., bill_cycle_day: _Optional[int] = ..., opening_balance: _Optional[int] = ..., low_balance: _Optional[int] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class Subscriber(_message.Message):
    __slots__ = ("subscriber_id", "account_id", "customer_id", "status", "msisdn", "imsi", "sip_uris", "nais", "offers", "private_ids")
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    IMSI_FIELD_NUMBER: _ClassVar[int]
    SIP_URIS_FIELD_NUMBER: _ClassVar[int]
    NAIS_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_IDS_FIELD_NUMBER: _ClassVar[int]
    subscriber_id: str
    account_id: str
    customer_id: str
    status: SubscriberStatus
    msisdn: str
    imsi: str
    sip_uris: _containers.RepeatedScalarFieldContainer[str]
    nais: _containers.RepeatedScalarFieldContainer[str]
    offers: _containers.RepeatedScalarFieldContainer[str]
    private_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subscriber_id: _Optional[str] = ..., account_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., status: _Optional[_Union[SubscriberStatus, str]] = ..., msisdn: _Optional[str] = ..., imsi: _Optional[str] = ..., sip_uris: _Optional[_Iterable[str]] = ..., nais: _Optional[_Iterable[str]] = ..., offers: _Optional[_Iterable[str]] = ..., private_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateSubscriberRequest(_message.Message):
    __slots__ = ("subscriber_id", "account_id", "msisdn", "imsi", "sip_uris", "nais", "base_offer", "private_ids")
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    IMSI_FIELD_NUMBER: _ClassVar[int]
    SIP_URIS_FIELD_NUMBER: _ClassVar[int]
    NAIS_FIELD_NUMBER: _ClassVar[int]
    BASE_OFFER_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_IDS_FIELD_NUMBER: _ClassVar[int]
    subscriber_id: str
    account_id: str
    msisdn: str
    imsi: str
    sip_uris: _containers.RepeatedScalarFieldContainer[str]
    nais: _containers.RepeatedScalarFieldContainer[str]
    base_offer: str
    private_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, subscriber_id: _Optional[str] = ..., account_id: _Optional[str] = ..., msisdn: _Optional[str] = ..., imsi: _Optional[str] = ..., sip_uris: _Optional[_Iterable[str]] = ..., nais: _Optional[_Iterable[str]] = ..., base_offer: _Optional[str] = ..., private_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SetSubscriberStatusRequest(_message.Message):
    __slots__ = ("subscriber", "status", "reason")
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    subscriber: _common_pb2.SubscriberRef
    status: SubscriberStatus
    reason: str
    def __init__(self, subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., status: _Optional[_Union[SubscriberStatus, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "subscriber_id", "gateway", "state", "expires_ms")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    subscriber_id: str
    gateway: str
    state: str
    expires_ms: int
    def __init__(self, session_id: _Optional[str] = ..., subscriber_id: _Optional[str] = ..., gateway: _Optional[str] = ..., state: _Optional[str] = ..., expires_ms: _Optional[int] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ...) -> None: ...

class ListOffersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Allowance(_message.Message):
    __slots__ = ("id", "unit", "amount", "services", "validity_days")
    ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    unit: str
    amount: int
    services: _containers.RepeatedScalarFieldContainer[str]
    validity_days: int
    def __init__(self, id: _Optional[str] = ..., unit: _Optional[str] = ..., amount: _Optional[int] = ..., services: _Optional[_Iterable[str]] = ..., validity_days: _Optional[int] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("offer_id", "name", "kind", "price", "recurring_fee", "allowances", "services")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    RECURRING_FEE_FIELD_NUMBER: _ClassVar[int]
    ALLOWANCES_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    name: str
    kind: str
    price: int
    recurring_fee: int
    allowances: _containers.RepeatedCompositeFieldContainer[Allowance]
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, offer_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., price: _Optional[int] = ..., recurring_fee: _Optional[int] = ..., allowances: _Optional[_Iterable[_Union[Allowance, _Mapping]]] = ..., services: _Optional[_Iterable[str]] = ...) -> None: ...

class ListOffersResponse(_message.Message):
    __slots__ = ("currency", "offers", "minor_unit_digits")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    MINOR_UNIT_DIGITS_FIELD_NUMBER: _ClassVar[int]
    currency: str
    offers: _containers.RepeatedCompositeFieldContainer[Offer]
    minor_unit_digits: int
    def __init__(self, currency: _Optional[str] = ..., offers: _Optional[_Iterable[_Union[Offer, _Mapping]]] = ..., minor_unit_digits: _Optional[int] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "kind", "subscriber_id", "offer_id", "state", "failure", "charged_minor", "bucket_ids", "created_ms", "completed_ms", "account_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MINOR_FIELD_NUMBER: _ClassVar[int]
    BUCKET_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_MS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    kind: str
    subscriber_id: str
    offer_id: str
    state: OrderState
    failure: str
    charged_minor: int
    bucket_ids: _containers.RepeatedScalarFieldContainer[str]
    created_ms: int
    completed_ms: int
    account_id: str
    def __init__(self, order_id: _Optional[str] = ..., kind: _Optional[str] = ..., subscriber_id: _Optional[str] = ..., offer_id: _Optional[str] = ..., state: _Optional[_Union[OrderState, str]] = ..., failure: _Optional[str] = ..., charged_minor: _Optional[int] = ..., bucket_ids: _Optional[_Iterable[str]] = ..., created_ms: _Optional[int] = ..., completed_ms: _Optional[int] = ..., account_id: _Optional[str] = ...) -> None: ...

class PurchaseOfferRequest(_message.Message):
    __slots__ = ("order_id", "subscriber", "offer_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    subscriber: _common_pb2.SubscriberRef
    offer_id: str
    def __init__(self, order_id: _Optional[str] = ..., subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., offer_id: _Optional[str] = ...) -> None: ...

class CancelOfferRequest(_message.Message):
    __slots__ = ("order_id", "subscriber", "offer_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    subscriber: _common_pb2.SubscriberRef
    offer_id: str
    def __init__(self, order_id: _Optional[str] = ..., subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., offer_id: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class AdjustBalanceRequest(_message.Message):
    __slots__ = ("adjustment_id", "account_id", "bucket_id", "amount", "reason")
    ADJUSTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    adjustment_id: str
    account_id: str
    bucket_id: str
    amount: int
    reason: str
    def __init__(self, adjustment_id: _Optional[str] = ..., account_id: _Optional[str] = ..., bucket_id: _Optional[str] = ..., amount: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class AdjustBalanceResponse(_message.Message):
    __slots__ = ("balance", "replayed")
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    balance: int
    replayed: bool
    def __init__(self, balance: _Optional[int] = ..., replayed: _Optional[bool] = ...) -> None: ...

class CustomerView(_message.Message):
    __slots__ = ("customer", "accounts", "subscribers", "recent_usage", "recent_usage_from_ms", "recent_usage_partial")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBERS_FIELD_NUMBER: _ClassVar[int]
    RECENT_USAGE_FIELD_NUMBER: _ClassVar[int]
    RECENT_USAGE_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    RECENT_USAGE_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    subscribers: _containers.RepeatedCompositeFieldContainer[Subscriber]
    recent_usage: _containers.RepeatedCompositeFieldContainer[UsageSummary]
    recent_usage_from_ms: int
    recent_usage_partial: bool
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., subscribers: _Optional[_Iterable[_Union[Subscriber, _Mapping]]] = ..., recent_usage: _Optional[_Iterable[_Union[UsageSummary, _Mapping]]] = ..., recent_usage_from_ms: _Optional[int] = ..., recent_usage_partial: _Optional[bool] = ...) -> None: ...

class UsageSummary(_message.Message):
    __slots__ = ("subscriber_id", "service", "unit", "units", "money_minor", "events")
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    MONEY_MINOR_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    subscriber_id: str
    service: str
    unit: str
    units: int
    money_minor: int
    events: int
    def __init__(self, subscriber_id: _Optional[str] = ..., service: _Optional[str] = ..., unit: _Optional[str] = ..., units: _Optional[int] = ..., money_minor: _Optional[int] = ..., events: _Optional[int] = ...) -> None: ...
