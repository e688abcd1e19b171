from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ResultCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_CODE_UNSPECIFIED: _ClassVar[ResultCode]
    RESULT_CODE_SUCCESS: _ClassVar[ResultCode]
    RESULT_CODE_TOO_BUSY: _ClassVar[ResultCode]
    RESULT_CODE_END_USER_SERVICE_DENIED: _ClassVar[ResultCode]
    RESULT_CODE_CREDIT_CONTROL_NOT_APPLICABLE: _ClassVar[ResultCode]
    RESULT_CODE_CREDIT_LIMIT_REACHED: _ClassVar[ResultCode]
    RESULT_CODE_UNKNOWN_SESSION_ID: _ClassVar[ResultCode]
    RESULT_CODE_INVALID_VALUE: _ClassVar[ResultCode]
    RESULT_CODE_MISSING_VALUE: _ClassVar[ResultCode]
    RESULT_CODE_UNABLE_TO_COMPLY: _ClassVar[ResultCode]
    RESULT_CODE_USER_UNKNOWN: _ClassVar[ResultCode]
    RESULT_CODE_RATING_FAILED: _ClassVar[ResultCode]
RESULT_CODE_UNSPECIFIED: ResultCode
RESULT_CODE_SUCCESS: ResultCode
RESULT_CODE_TOO_BUSY: ResultCode
RESULT_CODE_END_USER_SERVICE_DENIED: ResultCode
RESULT_CODE_CREDIT_CONTROL_NOT_APPLICABLE: ResultCode
RESULT_CODE_CREDIT_LIMIT_REACHED: ResultCode
RESULT_CODE_UNKNOWN_SESSION_ID: ResultCode
RESULT_CODE_INVALID_VALUE: ResultCode
RESULT_CODE_MISSING_VALUE: ResultCode
RESULT_CODE_UNABLE_TO_COMPLY: ResultCode
RESULT_CODE_USER_UNKNOWN: ResultCode
RESULT_CODE_RATING_FAILED: ResultCode

class ServiceUnits(_message.Message):
    __slots__ = ("time_seconds", "total_octets", "input_octets", "output_octets", "service_specific_units", "money_minor")
    TIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_OCTETS_FIELD_NUMBER: _ClassVar[int]
    INPUT_OCTETS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_OCTETS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_SPECIFIC_UNITS_FIELD_NUMBER: _ClassVar[int]
    MONEY_MINOR_FIELD_NUMBER: _ClassVar[int]
    time_seconds: int
    total_octets: int
    input_octets: int
    output_octets: int
    service_specific_units: int
    money_minor: int
    def __init__(self, time_seconds: _Optional[int] = ..., total_octets: _Optional[int] = ..., input_octets: _Optional[int] = ..., output_octets: _Optional[int] = ..., service_specific_units: _Optional[int] = ..., money_minor: _Optional[int] = ...) -> None: ...

class SubscriberRef(_message.Message):
    __slots__ = ("msisdn", "imsi", "sip_uri", "nai", "private_id", "subscriber_id")
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    IMSI_FIELD_NUMBER: _ClassVar[int]
    SIP_URI_FIELD_NUMBER: _ClassVar[int]
    NAI_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    msisdn: str
    imsi: str
    sip_uri: str
    nai: str
    private_id: str
    subscriber_id: str
    def __init__(self, msisdn: _Optional[str] = ..., imsi: _Optional[str] = ..., sip_uri: _Optional[str] = ..., nai: _Optional[str] = ..., private_id: _Optional[str] = ..., subscriber_id: _Optional[str] = ...) -> None: ...

class Bucket(_message.Message):
    __slots__ = ("id", "unit", "balance", "reserved", "available", "initial", "valid_from_ms", "expires_ms", "priority", "applies_to", "source", "services")
    ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    APPLIES_TO_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    id: str
    unit: str
    balance: int
    reserved: int
    available: int
    initial: int
    valid_from_ms: int
    expires_ms: int
    priority: int
    applies_to: _containers.RepeatedScalarFieldContainer[int]
    source: str
    services: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., unit: _Optional[str] = ..., balance: _Optional[int] = ..., reserved: _Optional[int] = ..., available: _Optional[int] = ..., initial: _Optional[int] = ..., valid_from_ms: _Optional[int] = ..., expires_ms: _Optional[int] = ..., priority: _Optional[int] = ..., applies_to: _Optional[_Iterable[int]] = ..., source: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ...) -> None: ...
