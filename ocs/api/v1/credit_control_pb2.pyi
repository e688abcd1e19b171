from google.rpc import status_pb2 as _status_pb2
from ocs.api.v1 import common_pb2 as _common_pb2
from ocs.api.v1 import limits_pb2 as _limits_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportingReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORTING_REASON_UNSPECIFIED: _ClassVar[ReportingReason]
    REPORTING_REASON_THRESHOLD: _ClassVar[ReportingReason]
    REPORTING_REASON_QHT: _ClassVar[ReportingReason]
    REPORTING_REASON_FINAL: _ClassVar[ReportingReason]
    REPORTING_REASON_QUOTA_EXHAUSTED: _ClassVar[ReportingReason]
    REPORTING_REASON_VALIDITY_TIME: _ClassVar[ReportingReason]
    REPORTING_REASON_OTHER_QUOTA_TYPE: _ClassVar[ReportingReason]
    REPORTING_REASON_RATING_CONDITION_CHANGE: _ClassVar[ReportingReason]
    REPORTING_REASON_FORCED_REAUTHORISATION: _ClassVar[ReportingReason]
    REPORTING_REASON_POOL_EXHAUSTED: _ClassVar[ReportingReason]

class FinalUnitAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINAL_UNIT_ACTION_TERMINATE: _ClassVar[FinalUnitAction]
    FINAL_UNIT_ACTION_REDIRECT: _ClassVar[FinalUnitAction]
    FINAL_UNIT_ACTION_RESTRICT_ACCESS: _ClassVar[FinalUnitAction]

class RequestedAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUESTED_ACTION_DIRECT_DEBITING: _ClassVar[RequestedAction]
    REQUESTED_ACTION_REFUND_ACCOUNT: _ClassVar[RequestedAction]
    REQUESTED_ACTION_CHECK_BALANCE: _ClassVar[RequestedAction]
    REQUESTED_ACTION_PRICE_ENQUIRY: _ClassVar[RequestedAction]

class CheckBalanceResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHECK_BALANCE_RESULT_ENOUGH_CREDIT: _ClassVar[CheckBalanceResult]
    CHECK_BALANCE_RESULT_NO_CREDIT: _ClassVar[CheckBalanceResult]
REPORTING_REASON_UNSPECIFIED: ReportingReason
REPORTING_REASON_THRESHOLD: ReportingReason
REPORTING_REASON_QHT: ReportingReason
REPORTING_REASON_FINAL: ReportingReason
REPORTING_REASON_QUOTA_EXHAUSTED: ReportingReason
REPORTING_REASON_VALIDITY_TIME: ReportingReason
REPORTING_REASON_OTHER_QUOTA_TYPE: ReportingReason
REPORTING_REASON_RATING_CONDITION_CHANGE: ReportingReason
REPORTING_REASON_FORCED_REAUTHORISATION: ReportingReason
REPORTING_REASON_POOL_EXHAUSTED: ReportingReason
FINAL_UNIT_ACTION_TERMINATE: FinalUnitAction
FINAL_UNIT_ACTION_REDIRECT: FinalUnitAction
FINAL_UNIT_ACTION_RESTRICT_ACCESS: FinalUnitAction
REQUESTED_ACTION_DIRECT_DEBITING: RequestedAction
REQUESTED_ACTION_REFUND_ACCOUNT: RequestedAction
REQUESTED_ACTION_CHECK_BALANCE: RequestedAction
REQUESTED_ACTION_PRICE_ENQUIRY: RequestedAction
CHECK_BALANCE_RESULT_ENOUGH_CREDIT: CheckBalanceResult
CHECK_BALANCE_RESULT_NO_CREDIT: CheckBalanceResult

class UsageItem(_message.Message):
    __slots__ = ("rating_group", "service_id", "requested", "used", "reporting_reason")
    RATING_GROUP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    REPORTING_REASON_FIELD_NUMBER: _ClassVar[int]
    rating_group: int
    service_id: int
    requested: _common_pb2.ServiceUnits
    used: _containers.RepeatedCompositeFieldContainer[_common_pb2.ServiceUnits]
    reporting_reason: ReportingReason
    def __init__(self, rating_group: _Optional[int] = ..., service_id: _Optional[int] = ..., requested: _Optional[_Union[_common_pb2.ServiceUnits, _Mapping]] = ..., used: _Optional[_Iterable[_Union[_common_pb2.ServiceUnits, _Mapping]]] = ..., reporting_reason: _Optional[_Union[ReportingReason, str]] = ...) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("visited_network", "apn", "rat_type", "called_party", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VISITED_NETWORK_FIELD_NUMBER: _ClassVar[int]
    APN_FIELD_NUMBER: _ClassVar[int]
    RAT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CALLED_PARTY_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    visited_network: str
    apn: str
    rat_type: str
    called_party: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, visited_network: _Optional[str] = ..., apn: _Optional[str] = ..., rat_type: _Optional[str] = ..., called_party: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("session_id", "request_number", "subscriber", "service_context_id", "items", "service_info", "client_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_INFO_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_number: int
    subscriber: _common_pb2.SubscriberRef
    service_context_id: str
    items: _containers.RepeatedCompositeFieldContainer[UsageItem]
    service_info: ServiceInfo
    client_id: str
    def __init__(self, session_id: _Optional[str] = ..., request_number: _Optional[int] = ..., subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., service_context_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[UsageItem, _Mapping]]] = ..., service_info: _Optional[_Union[ServiceInfo, _Mapping]] = ..., client_id: _Optional[str] = ...) -> None: ...

class FinalUnit(_message.Message):
    __slots__ = ("action", "redirect_url", "filter_id")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URL_FIELD_NUMBER: _ClassVar[int]
    FILTER_ID_FIELD_NUMBER: _ClassVar[int]
    action: FinalUnitAction
    redirect_url: str
    filter_id: str
    def __init__(self, action: _Optional[_Union[FinalUnitAction, str]] = ..., redirect_url: _Optional[str] = ..., filter_id: _Optional[str] = ...) -> None: ...

class ItemResult(_message.Message):
    __slots__ = ("rating_group", "service_id", "result_code", "granted", "validity_time_seconds", "quota_threshold", "quota_holding_time_seconds", "final_unit")
    RATING_GROUP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    QUOTA_HOLDING_TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FINAL_UNIT_FIELD_NUMBER: _ClassVar[int]
    rating_group: int
    service_id: int
    result_code: _common_pb2.ResultCode
    granted: _common_pb2.ServiceUnits
    validity_time_seconds: int
    quota_threshold: int
    quota_holding_time_seconds: int
    final_unit: FinalUnit
    def __init__(self, rating_group: _Optional[int] = ..., service_id: _Optional[int] = ..., result_code: _Optional[_Union[_common_pb2.ResultCode, str]] = ..., granted: _Optional[_Union[_common_pb2.ServiceUnits, _Mapping]] = ..., validity_time_seconds: _Optional[int] = ..., quota_threshold: _Optional[int] = ..., quota_holding_time_seconds: _Optional[int] = ..., final_unit: _Optional[_Union[FinalUnit, _Mapping]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ("session_id", "request_number", "result_code", "items", "error_message", "failed_field")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_number: int
    result_code: _common_pb2.ResultCode
    items: _containers.RepeatedCompositeFieldContainer[ItemResult]
    error_message: str
    failed_field: str
    def __init__(self, session_id: _Optional[str] = ..., request_number: _Optional[int] = ..., result_code: _Optional[_Union[_common_pb2.ResultCode, str]] = ..., items: _Optional[_Iterable[_Union[ItemResult, _Mapping]]] = ..., error_message: _Optional[str] = ..., failed_field: _Optional[str] = ...) -> None: ...

class EventRequest(_message.Message):
    __slots__ = ("session_id", "request_number", "subscriber", "service_context_id", "action", "item", "service_info", "client_id", "refund_reference")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    SERVICE_CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    SERVICE_INFO_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_number: int
    subscriber: _common_pb2.SubscriberRef
    service_context_id: str
    action: RequestedAction
    item: UsageItem
    service_info: ServiceInfo
    client_id: str
    refund_reference: str
    def __init__(self, session_id: _Optional[str] = ..., request_number: _Optional[int] = ..., subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., service_context_id: _Optional[str] = ..., action: _Optional[_Union[RequestedAction, str]] = ..., item: _Optional[_Union[UsageItem, _Mapping]] = ..., service_info: _Optional[_Union[ServiceInfo, _Mapping]] = ..., client_id: _Optional[str] = ..., refund_reference: _Optional[str] = ...) -> None: ...

class CostInformation(_message.Message):
    __slots__ = ("amount", "exponent", "currency_code", "currency")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPONENT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount: int
    exponent: int
    currency_code: int
    currency: str
    def __init__(self, amount: _Optional[int] = ..., exponent: _Optional[int] = ..., currency_code: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class EventResponse(_message.Message):
    __slots__ = ("session_id", "request_number", "result_code", "item", "cost", "check_balance", "error_message", "failed_field", "refund_reference")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RESULT_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    CHECK_BALANCE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_FIELD_NUMBER: _ClassVar[int]
    REFUND_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    request_number: int
    result_code: _common_pb2.ResultCode
    item: ItemResult
    cost: CostInformation
    check_balance: CheckBalanceResult
    error_message: str
    failed_field: str
    refund_reference: str
    def __init__(self, session_id: _Optional[str] = ..., request_number: _Optional[int] = ..., result_code: _Optional[_Union[_common_pb2.ResultCode, str]] = ..., item: _Optional[_Union[ItemResult, _Mapping]] = ..., cost: _Optional[_Union[CostInformation, _Mapping]] = ..., check_balance: _Optional[_Union[CheckBalanceResult, str]] = ..., error_message: _Optional[str] = ..., failed_field: _Optional[str] = ..., refund_reference: _Optional[str] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("tag", "kind", "request", "event")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[StreamRequest.Kind]
        KIND_INITIAL: _ClassVar[StreamRequest.Kind]
        KIND_UPDATE: _ClassVar[StreamRequest.Kind]
        KIND_TERMINATE: _ClassVar[StreamRequest.Kind]
        KIND_EVENT: _ClassVar[StreamRequest.Kind]
    KIND_UNSPECIFIED: StreamRequest.Kind
    KIND_INITIAL: StreamRequest.Kind
    KIND_UPDATE: StreamRequest.Kind
    KIND_TERMINATE: StreamRequest.Kind
    KIND_EVENT: StreamRequest.Kind
    TAG_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    tag: int
    kind: StreamRequest.Kind
    request: SessionRequest
    event: EventRequest
    def __init__(self, tag: _Optional[int] = ..., kind: _Optional[_Union[StreamRequest.Kind, str]] = ..., request: _Optional[_Union[SessionRequest, _Mapping]] = ..., event: _Optional[_Union[EventRequest, _Mapping]] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("tag", "response", "event", "error")
    TAG_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    tag: int
    response: SessionResponse
    event: EventResponse
    error: _status_pb2.Status
    def __init__(self, tag: _Optional[int] = ..., response: _Optional[_Union[SessionResponse, _Mapping]] = ..., event: _Optional[_Union[EventResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...
