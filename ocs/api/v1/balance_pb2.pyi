from ocs.api.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountSelector(_message.Message):
    __slots__ = ("account_id", "subscriber")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    subscriber: _common_pb2.SubscriberRef
    def __init__(self, account_id: _Optional[str] = ..., subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ...) -> None: ...

class BalanceView(_message.Message):
    __slots__ = ("account_id", "currency", "credit_limit", "money_available", "buckets", "parent_account_id", "minor_unit_digits")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MONEY_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    PARENT_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    MINOR_UNIT_DIGITS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    currency: str
    credit_limit: int
    money_available: int
    buckets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Bucket]
    parent_account_id: str
    minor_unit_digits: int
    def __init__(self, account_id: _Optional[str] = ..., currency: _Optional[str] = ..., credit_limit: _Optional[int] = ..., money_available: _Optional[int] = ..., buckets: _Optional[_Iterable[_Union[_common_pb2.Bucket, _Mapping]]] = ..., parent_account_id: _Optional[str] = ..., minor_unit_digits: _Optional[int] = ...) -> None: ...

class TopUpRequest(_message.Message):
    __slots__ = ("account", "payment_id", "amount_minor", "currency")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    account: AccountSelector
    payment_id: str
    amount_minor: int
    currency: str
    def __init__(self, account: _Optional[_Union[AccountSelector, _Mapping]] = ..., payment_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class TopUpResponse(_message.Message):
    __slots__ = ("balance_minor", "replayed", "sessions_reauthorized")
    BALANCE_MINOR_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_REAUTHORIZED_FIELD_NUMBER: _ClassVar[int]
    balance_minor: int
    replayed: bool
    sessions_reauthorized: int
    def __init__(self, balance_minor: _Optional[int] = ..., replayed: _Optional[bool] = ..., sessions_reauthorized: _Optional[int] = ...) -> None: ...

class ListUsageRequest(_message.Message):
    __slots__ = ("account", "from_ms", "to_ms", "rating_group", "page_size", "page_token", "service")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    FROM_MS_FIELD_NUMBER: _ClassVar[int]
    TO_MS_FIELD_NUMBER: _ClassVar[int]
    RATING_GROUP_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    account: AccountSelector
    from_ms: int
    to_ms: int
    rating_group: int
    page_size: int
    page_token: str
    service: str
    def __init__(self, account: _Optional[_Union[AccountSelector, _Mapping]] = ..., from_ms: _Optional[int] = ..., to_ms: _Optional[int] = ..., rating_group: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("event_id", "time_ms", "type", "subscriber_id", "session_id", "rating_group", "service", "unit", "units", "money_minor", "charged", "visited_network", "account_id")
    class ChargedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RATING_GROUP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    MONEY_MINOR_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FIELD_NUMBER: _ClassVar[int]
    VISITED_NETWORK_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    time_ms: int
    type: str
    subscriber_id: str
    session_id: str
    rating_group: int
    service: str
    unit: str
    units: int
    money_minor: int
    charged: _containers.ScalarMap[str, int]
    visited_network: str
    account_id: str
    def __init__(self, event_id: _Optional[str] = ..., time_ms: _Optional[int] = ..., type: _Optional[str] = ..., subscriber_id: _Optional[str] = ..., session_id: _Optional[str] = ..., rating_group: _Optional[int] = ..., service: _Optional[str] = ..., unit: _Optional[str] = ..., units: _Optional[int] = ..., money_minor: _Optional[int] = ..., charged: _Optional[_Mapping[str, int]] = ..., visited_network: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ListUsageResponse(_message.Message):
    __slots__ = ("records", "next_page_token", "history_from_ms")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[UsageRecord]
    next_page_token: str
    history_from_ms: int
    def __init__(self, records: _Optional[_Iterable[_Union[UsageRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., history_from_ms: _Optional[int] = ...) -> None: ...

class BalanceNotification(_message.Message):
    __slots__ = ("event_id", "time_ms", "type", "money_balance", "buckets", "threshold", "subscriber_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MONEY_BALANCE_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    time_ms: int
    type: str
    money_balance: int
    buckets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Bucket]
    threshold: Threshold
    subscriber_id: str
    def __init__(self, event_id: _Optional[str] = ..., time_ms: _Optional[int] = ..., type: _Optional[str] = ..., money_balance: _Optional[int] = ..., buckets: _Optional[_Iterable[_Union[_common_pb2.Bucket, _Mapping]]] = ..., threshold: _Optional[_Union[Threshold, _Mapping]] = ..., subscriber_id: _Optional[str] = ...) -> None: ...

class Threshold(_message.Message):
    __slots__ = ("bucket_id", "percent_used", "remaining", "kind", "floor")
    BUCKET_ID_FIELD_NUMBER: _ClassVar[int]
    PERCENT_USED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FLOOR_FIELD_NUMBER: _ClassVar[int]
    bucket_id: str
    percent_used: int
    remaining: int
    kind: str
    floor: int
    def __init__(self, bucket_id: _Optional[str] = ..., percent_used: _Optional[int] = ..., remaining: _Optional[int] = ..., kind: _Optional[str] = ..., floor: _Optional[int] = ...) -> None: ...
