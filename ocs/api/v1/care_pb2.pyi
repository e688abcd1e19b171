from ocs.api.v1 import admin_pb2 as _admin_pb2
from ocs.api.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchRequest(_message.Message):
    __slots__ = ("query", "offset", "limit")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    query: str
    offset: int
    limit: int
    def __init__(self, query: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("customer_id", "name", "account_id", "subscriber_id", "msisdn", "imsi", "status", "email")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    MSISDN_FIELD_NUMBER: _ClassVar[int]
    IMSI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    name: str
    account_id: str
    subscriber_id: str
    msisdn: str
    imsi: str
    status: str
    email: str
    def __init__(self, customer_id: _Optional[str] = ..., name: _Optional[str] = ..., account_id: _Optional[str] = ..., subscriber_id: _Optional[str] = ..., msisdn: _Optional[str] = ..., imsi: _Optional[str] = ..., status: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "total")
    HITS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    total: int
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class ListLiveSessionsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ChangeIdentityRequest(_message.Message):
    __slots__ = ("subscriber", "value", "reason")
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    subscriber: _common_pb2.SubscriberRef
    value: str
    reason: str
    def __init__(self, subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., value: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SetCreditLimitRequest(_message.Message):
    __slots__ = ("account_id", "credit_limit", "reason")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    credit_limit: int
    reason: str
    def __init__(self, account_id: _Optional[str] = ..., credit_limit: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteSubscriberRequest(_message.Message):
    __slots__ = ("subscriber", "reason")
    SUBSCRIBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    subscriber: _common_pb2.SubscriberRef
    reason: str
    def __init__(self, subscriber: _Optional[_Union[_common_pb2.SubscriberRef, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class DeleteSubscriberResponse(_message.Message):
    __slots__ = ("subscriber_id", "account_id", "sessions_aborted", "balances")
    SUBSCRIBER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_ABORTED_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    subscriber_id: str
    account_id: str
    sessions_aborted: int
    balances: str
    def __init__(self, subscriber_id: _Optional[str] = ..., account_id: _Optional[str] = ..., sessions_aborted: _Optional[int] = ..., balances: _Optional[str] = ...) -> None: ...
