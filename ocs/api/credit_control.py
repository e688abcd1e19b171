"""CreditControl over gRPC: a second adapter onto the charging core, beside Diameter Gy.

Translation only (like ``ocs/gy/messages.py``): a SessionRequest / EventRequest becomes a
:class:`~ocs.charging.types.ChargingRequest`, the core decides, and its
:class:`~ocs.charging.types.ChargingResult` becomes the response, with the same result codes
(the enum's numbers are Diameter's), units, rating groups and idempotency by
(session_id, request_number). Requests that cannot be understood at all are INVALID_ARGUMENT
naming the field; a balance store that cannot be reached is UNAVAILABLE (Diameter: TOO_BUSY).

``Stream`` serves a bidirectional stream with a small pool of worker coroutines per stream (at
most ``stream_window``, started as the load needs them): no task per message, at most
``stream_window`` requests in progress, and the server stops reading beyond that, so HTTP/2
flow control pushes back on the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import grpc

from ocs.api import limits
from ocs.api.convert import SUBSCRIPTION_ID_TYPE, quantity, ref_identity, units_in, units_out
from ocs.api.errors import ApiError, from_exception, invalid, status_proto
from ocs.api.metrics import STREAM_MESSAGES, child
from ocs.api.rpc import NETWORK, Call, Methods, _failure
from ocs.api.v1 import common_pb2, credit_control_pb2
from ocs.balance.store import BalanceStore
from ocs.charging.core import ChargingCore
from ocs.charging.metrics import DURATION as CHARGING_DURATION
from ocs.charging.types import (
    ChargingRequest,
    ChargingResult,
    FinalUnitAction,
    ItemAnswer,
    ReportingReason,
    RequestedAction,
    RequestType,
    SubscriptionIdType,
    UsageItem,
    foreign_session,
)
from ocs.policy.catalog import Catalog
from ocs.tasks import cancel_and_wait

SERVICE = credit_control_pb2.DESCRIPTOR.services_by_name["CreditControl"]
StreamKind = credit_control_pb2.StreamRequest.Kind

# The core names fields as Diameter AVPs (Failed-AVP); gRPC clients read the proto's names.
_FIELD_NAMES = {
    "CC-Request-Number": "request_number",
    "Requested-Action": "action",
    "Subscription-Id": "subscriber",
    "Requested-Service-Unit": "item.requested",
    "Unit-Value": "item.requested.money_minor",
    "Currency-Code": "item.requested.money_minor",
    "CC-Money": "item.requested.money_minor",
    "Refund-Information": "refund_reference",
    "Session-Id": "session_id",
}
_KINDS = {
    StreamKind.KIND_INITIAL: RequestType.INITIAL,
    StreamKind.KIND_UPDATE: RequestType.UPDATE,
    StreamKind.KIND_TERMINATE: RequestType.TERMINATE,
}
_ORIGIN_REALM = "grpc"


class CreditControlService:
    def __init__(
        self, core: ChargingCore, store: BalanceStore, catalog: Catalog, stream_window: int
    ) -> None:
        self.core = core
        self.store = store
        self.catalog = catalog
        self.stream_window = stream_window

    def methods(self) -> Methods:
        return {
            "Initial": (NETWORK, self.initial),
            "Update": (NETWORK, self.update),
            "Terminate": (NETWORK, self.terminate),
            "Event": (NETWORK, self.event),
            "Stream": (NETWORK, self.stream),
        }

    async def initial(
        self, request: credit_control_pb2.SessionRequest, call: Call
    ) -> credit_control_pb2.SessionResponse:
        return await self.session(request, RequestType.INITIAL, call)

    async def update(
        self, request: credit_control_pb2.SessionRequest, call: Call
    ) -> credit_control_pb2.SessionResponse:
        return await self.session(request, RequestType.UPDATE, call)

    async def terminate(
        self, request: credit_control_pb2.SessionRequest, call: Call
    ) -> credit_control_pb2.SessionResponse:
        return await self.session(request, RequestType.TERMINATE, call)

    async def session(
        self, request: credit_control_pb2.SessionRequest, kind: RequestType, call: Call
    ) -> credit_control_pb2.SessionResponse:
        started = time.perf_counter()
        charging = await self.session_request(request, kind, call)
        result = await self.core.handle(charging)
        child(CHARGING_DURATION, "grpc", kind.name).observe(time.perf_counter() - started)
        return session_response(request.session_id, request.request_number, result)

    async def event(
        self, request: credit_control_pb2.EventRequest, call: Call
    ) -> credit_control_pb2.EventResponse:
        started = time.perf_counter()
        charging = await self.event_request(request, call)
        result = await self.core.handle(charging)
        child(CHARGING_DURATION, "grpc", "EVENT").observe(time.perf_counter() - started)
        return self.event_response(request, result)

    # -- requests ---------------------------------------------------------------------------

    async def session_request(
        self, request: credit_control_pb2.SessionRequest, kind: RequestType, call: Call
    ) -> ChargingRequest:
        if not request.session_id:
            raise invalid("session_id", "required")
        if foreign_session(request.session_id):
            raise invalid("session_id", "the nchf: namespace is the Nchf adapter's")
        ids: list[tuple[SubscriptionIdType, str]] = []
        user_name = None
        if kind is RequestType.INITIAL:
            if not request.HasField("subscriber"):
                raise invalid("subscriber", "required on Initial")
            ids, user_name = await self._identities(request.subscriber, "subscriber")
        return ChargingRequest(
            session_id=request.session_id,
            request_type=kind,
            request_number=request.request_number,
            origin_host=_origin(request.client_id, call),
            origin_realm=_ORIGIN_REALM,
            subscription_ids=ids,
            user_name=user_name,
            service_context_id=request.service_context_id,
            items=[
                _usage_item(item, f"items[{n}]", self.catalog.minor_digits)
                for n, item in enumerate(request.items)
            ],
            multiple_services=True,
            service_info=_service_info(request.service_info),
        )

    async def event_request(
        self, request: credit_control_pb2.EventRequest, call: Call
    ) -> ChargingRequest:
        if not request.session_id:
            raise invalid("session_id", "required")
        if foreign_session(request.session_id):
            raise invalid("session_id", "the nchf: namespace is the Nchf adapter's")
        if not request.HasField("subscriber"):
            raise invalid("subscriber", "required")
        try:
            action = RequestedAction(request.action)
        except ValueError:
            raise invalid("action", f"unknown value {request.action}") from None
        ids, user_name = await self._identities(request.subscriber, "subscriber")
        digits = self.catalog.minor_digits
        items = [_usage_item(request.item, "item", digits)] if request.HasField("item") else []
        return ChargingRequest(
            session_id=request.session_id,
            request_type=RequestType.EVENT,
            request_number=request.request_number,
            origin_host=_origin(request.client_id, call),
            origin_realm=_ORIGIN_REALM,
            subscription_ids=ids,
            user_name=user_name,
            service_context_id=request.service_context_id,
            items=items,
            multiple_services=False,
            requested_action=action,
            service_info=_service_info(request.service_info),
            refund_reference=request.refund_reference or None,
        )

    async def _identities(
        self, ref: common_pb2.SubscriberRef, field: str
    ) -> tuple[list[tuple[SubscriptionIdType, str]], str | None]:
        kind, value = ref_identity(ref, field)
        if kind != "subscriber_id":
            return [(SUBSCRIPTION_ID_TYPE[kind], value)], None
        # ocs's own id: charge through the subscriber's first identity (one extra read)
        found = await self.store.get_subscriber(value)
        if found is None:
            return [], None  # the core answers USER_UNKNOWN
        for identity in found.identities:
            if identity.kind == "username":
                return [], identity.value
            return [(SUBSCRIPTION_ID_TYPE[identity.kind], identity.value)], None
        return [], None

    # -- responses --------------------------------------------------------------------------

    def event_response(
        self, request: credit_control_pb2.EventRequest, result: ChargingResult
    ) -> credit_control_pb2.EventResponse:
        response = credit_control_pb2.EventResponse(
            session_id=request.session_id,
            request_number=request.request_number,
            result_code=int(result.result_code),  # type: ignore[arg-type]
            error_message=_error_text(result),
            failed_field=_field_name(result.failed_field),
        )
        if result.items:
            response.item.CopyFrom(item_result(result.items[0], self.catalog.minor_digits))
        if result.cost is not None:
            response.cost.CopyFrom(
                credit_control_pb2.CostInformation(
                    amount=result.cost.amount,
                    exponent=result.cost.exponent,
                    currency_code=result.cost.currency_code,
                    currency=self.catalog.currency,
                )
            )
        if result.check_balance is not None:
            response.check_balance = int(result.check_balance)  # type: ignore[assignment]
        if result.refund_reference:
            response.refund_reference = result.refund_reference
        return response

    # -- the bidirectional stream -----------------------------------------------------------

    async def stream(
        self, requests: AsyncIterator[credit_control_pb2.StreamRequest], call: Call
    ) -> AsyncIterator[credit_control_pb2.StreamResponse]:
        pending: asyncio.Queue[credit_control_pb2.StreamRequest | None] = asyncio.Queue(
            self.stream_window
        )
        answers: asyncio.Queue[credit_control_pb2.StreamResponse | None] = asyncio.Queue()
        workers: set[asyncio.Task[None]] = set()
        idle = 0
        done = asyncio.Event()

        async def work() -> None:
            nonlocal idle
            try:
                while True:
                    idle += 1
                    request = await pending.get()
                    idle -= 1
                    if request is None:
                        return
                    answers.put_nowait(await self.stream_answer(request, call))
            finally:
                if len(workers) == 1 and done.is_set():
                    answers.put_nowait(None)
                workers.discard(asyncio.current_task())

        async def read() -> None:
            try:
                async for request in requests:
                    if idle == 0 and len(workers) < self.stream_window:
                        workers.add(asyncio.get_running_loop().create_task(work()))
                    await pending.put(request)
            finally:
                done.set()
                if not workers:
                    answers.put_nowait(None)
                for _ in range(len(workers)):
                    pending.put_nowait(None)

        reader = asyncio.get_running_loop().create_task(read())
        try:
            while (answer := await answers.get()) is not None:
                yield answer
            await reader  # the client's end of input, or its error
        finally:
            for task in (reader, *workers):
                task.cancel()
            for task in (reader, *workers):
                with contextlib.suppress(grpc.RpcError):
                    await cancel_and_wait([task])

    async def stream_answer(
        self, request: credit_control_pb2.StreamRequest, call: Call
    ) -> credit_control_pb2.StreamResponse:
        reply = credit_control_pb2.StreamResponse(tag=request.tag)
        try:
            limits.check(request)
            if request.kind == StreamKind.KIND_EVENT:
                reply.event.CopyFrom(await self.event(request.event, call))
            elif request.kind in _KINDS:
                kind = _KINDS[request.kind]
                reply.response.CopyFrom(await self.session(request.request, kind, call))
            else:
                raise invalid("kind", "name the request's kind (INITIAL, UPDATE, TERMINATE, EVENT)")
        except Exception as exc:
            error: ApiError = from_exception(exc) or _failure(exc, "CreditControl", "Stream")
            reply.error.CopyFrom(status_proto(error))
            child(STREAM_MESSAGES, error.code.name).inc()
            return reply
        child(STREAM_MESSAGES, "OK").inc()
        return reply


def _origin(client_id: str, call: Call) -> str:
    """gRPC sessions' "gateway": never a Diameter identity (a FQDN has no colon), so no
    Diameter peer is ever sent a RAR/ASR for them."""
    return f"grpc:{client_id or call.principal.subject}"


def _usage_item(item: credit_control_pb2.UsageItem, field: str, minor_digits: int) -> UsageItem:
    reason = None
    if item.reporting_reason:
        try:
            reason = ReportingReason(item.reporting_reason - 1)
        except ValueError:
            raise invalid(f"{field}.reporting_reason", "unknown value") from None
    return UsageItem(
        rating_group=item.rating_group or None,
        service_id=quantity(f"{field}.service_id", item.service_id)
        if item.HasField("service_id")
        else None,
        requested=units_in(item.requested, f"{field}.requested", minor_digits)
        if item.HasField("requested")
        else None,
        used=[units_in(u, f"{field}.used[{n}]", minor_digits) for n, u in enumerate(item.used)],
        reporting_reason=reason,
    )


def _service_info(info: credit_control_pb2.ServiceInfo) -> dict[str, str]:
    result = dict(info.extra)
    for name in ("visited_network", "apn", "rat_type", "called_party"):
        value = getattr(info, name)
        if value:
            result[name] = value
    return result


def _field_name(failed: str | None) -> str:
    return _FIELD_NAMES.get(failed, failed) if failed else ""


def _error_text(result: ChargingResult) -> str:
    """The core's Error-Message, with the field it names in the proto's words."""
    if int(result.result_code) == 2001:
        return ""
    failed = result.failed_field
    if failed and failed in _FIELD_NAMES:
        return result.error_message.replace(failed, _FIELD_NAMES[failed])
    return result.error_message


def item_result(item: ItemAnswer, minor_digits: int) -> credit_control_pb2.ItemResult:
    result = credit_control_pb2.ItemResult(
        rating_group=item.rating_group or 0,
        result_code=int(item.result_code),  # type: ignore[arg-type]
        validity_time_seconds=item.validity_time or 0,
        quota_threshold=item.quota_threshold or 0,
        quota_holding_time_seconds=item.quota_holding_time or 0,
    )
    if item.service_id is not None:
        result.service_id = item.service_id
    if item.granted is not None:
        result.granted.CopyFrom(units_out(item.granted, minor_digits))
    if item.final_unit is not None:
        final = item.final_unit
        result.final_unit.CopyFrom(
            credit_control_pb2.FinalUnit(
                action=int(final.action),  # type: ignore[arg-type]
                redirect_url=final.redirect_url if final.action is FinalUnitAction.REDIRECT else "",
                filter_id=final.filter_id,
            )
        )
    return result


def session_response(
    session_id: str, request_number: int, result: ChargingResult
) -> credit_control_pb2.SessionResponse:
    return credit_control_pb2.SessionResponse(
        session_id=session_id,
        request_number=request_number,
        result_code=int(result.result_code),  # type: ignore[arg-type]
        items=[item_result(item, 0) for item in result.items],  # sessions grant no money
        error_message=_error_text(result),
        failed_field=_field_name(result.failed_field),
    )


__all__ = ["SERVICE", "CreditControlService"]
