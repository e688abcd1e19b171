"""How every RPC is served: bound, authenticated, authorized, measured, errors mapped.

Services declare their methods as ``{name: (roles, handler)}``; :class:`Dispatcher` turns them
into a generic handler for the ``grpc.aio`` server, wrapping each call in the same steps:

1. overload: a bounded number of unary calls, streams and watchers in progress; beyond it the
   call ends at once with RESOURCE_EXHAUSTED (and a RetryInfo), never queued without limit;
2. authentication: the ``authorization: Bearer <token>`` metadata (UNAUTHENTICATED without a
   valid token), and, if configured, network functions only over mutual TLS;
3. authorization: the token's role must be one the method allows (PERMISSION_DENIED); the
   handler checks account ownership for subscriber tokens (:meth:`Call.require_account`);
   then the request's bounds (:mod:`ocs.api.limits`: every string, repeated field and map,
   INVALID_ARGUMENT naming the field);
4. errors: :mod:`ocs.api.errors` maps every failure to a status with details; a bug is
   logged with its traceback and answered INTERNAL without any detail;
5. metrics: ``ocs_grpc_requests_total`` and ``ocs_grpc_request_duration_seconds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from ocs.api import limits
from ocs.api.auth import Principal, Role, TokenError, Tokens
from ocs.api.errors import (
    INTERNAL,
    ApiError,
    exhausted,
    from_exception,
    permission_denied,
    to_status,
    unauthenticated,
)
from ocs.api.metrics import DURATION, IN_FLIGHT, REJECTED, REQUESTS, child

log = logging.getLogger("ocs.api")

Unary = Callable[[Any, "Call"], Awaitable[Any]]
ServerStream = Callable[[Any, "Call"], AsyncIterator[Any]]
BidiStream = Callable[[AsyncIterator[Any], "Call"], AsyncIterator[Any]]
Methods = Mapping[str, tuple[frozenset[Role], Callable[..., Any]]]

ANY_ROLE = frozenset(Role)
STAFF = frozenset({Role.CARE, Role.ADMIN})
SELF_CARE = frozenset({Role.SUBSCRIBER, Role.CARE, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
NETWORK = frozenset({Role.NETWORK_FUNCTION})


class Limiter:
    """A count of calls in progress with a ceiling (no waiting: full means refused)."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self.used = 0
        self._gauge = child(IN_FLIGHT, kind)

    def acquire(self) -> bool:
        if self.used >= self.limit:
            return False
        self.used += 1
        self._gauge.inc()
        return True

    def release(self) -> None:
        self.used -= 1
        self._gauge.dec()


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler knows about the call besides its request."""

    principal: Principal
    context: grpc.aio.ServicerContext[Any, Any]

    @property
    def actor(self) -> str:
        """Recorded in events: ``<role>:<subject>``."""
        return f"{self.principal.role.value}:{self.principal.subject}"

    def require_account(self, account_id: str) -> None:
        """A subscriber token may use its own account only (PERMISSION_DENIED otherwise)."""
        if self.principal.role is Role.SUBSCRIBER and account_id != self.principal.account_id:
            raise permission_denied("a subscriber token may only use its own account")

    @property
    def is_subscriber(self) -> bool:
        return self.principal.role is Role.SUBSCRIBER


class Dispatcher:
    def __init__(
        self,
        tokens: Callable[[], Tokens],
        *,
        max_concurrent_rpcs: int,
        max_streams: int,
        max_watchers: int,
        network_function_mtls: bool = False,
    ) -> None:
        self._tokens = tokens
        self.unary_limit = Limiter("unary", max_concurrent_rpcs)
        self.stream_limit = Limiter("stream", max_streams)
        self.watch_limit = Limiter("watch", max_watchers)
        self.network_function_mtls = network_function_mtls

    # -- authentication ---------------------------------------------------------------------

    def authenticate(
        self, context: grpc.aio.ServicerContext[Any, Any], roles: frozenset[Role]
    ) -> Call:
        token = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() != "bearer":
                    token = ""
                break
        if not token:
            REJECTED.labels("unauthenticated").inc()
            raise unauthenticated("missing bearer token (metadata authorization: Bearer <token>)")
        try:
            principal = self._tokens().verify(token.strip())
        except TokenError as exc:
            REJECTED.labels("unauthenticated").inc()
            raise unauthenticated(str(exc)) from None
        if principal.role not in roles:
            REJECTED.labels("permission_denied").inc()
            allowed = ", ".join(sorted(role.value for role in roles))
            raise permission_denied(
                f"role {principal.role.value} may not call this (needs {allowed})"
            )
        if (
            principal.role is Role.NETWORK_FUNCTION
            and self.network_function_mtls
            and context.peer_identities() is None
        ):
            REJECTED.labels("permission_denied").inc()
            raise permission_denied("network functions must connect with a client certificate")
        return Call(principal, context)

    # -- handlers ---------------------------------------------------------------------------

    def service_handler(
        self, service: ServiceDescriptor, methods: Methods
    ) -> grpc.GenericRpcHandler:
        handlers: dict[str, grpc.RpcMethodHandler] = {}
        missing = {m.name for m in service.methods} - set(methods)
        if missing:
            raise ValueError(f"{service.full_name}: no handler for {sorted(missing)}")
        for method in service.methods:
            roles, function = methods[method.name]
            handlers[method.name] = self._handler(service.name, method, roles, function)
        return grpc.method_handlers_generic_handler(service.full_name, handlers)

    def _handler(
        self,
        service: str,
        method: MethodDescriptor,
        roles: frozenset[Role],
        function: Callable[..., Any],
    ) -> grpc.RpcMethodHandler:
        request = message_factory.GetMessageClass(method.input_type)
        response = message_factory.GetMessageClass(method.output_type)
        codec = {
            "request_deserializer": request.FromString,
            "response_serializer": response.SerializeToString,
        }
        name = method.name
        if method.client_streaming and method.server_streaming:
            return grpc.stream_stream_rpc_method_handler(
                self._bidi(service, name, roles, function), **codec
            )
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(
                self._server_stream(service, name, roles, function), **codec
            )
        return grpc.unary_unary_rpc_method_handler(
            self._unary(service, name, roles, function), **codec
        )

    def _unary(
        self, service: str, method: str, roles: frozenset[Role], function: Unary
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
        limiter = self.unary_limit
        duration = child(DURATION, service, method)

        async def serve(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            if not limiter.acquire():
                error: ApiError = exhausted(f"more than {limiter.limit} calls in progress")
                REJECTED.labels("overload").inc()
            else:
                try:
                    call = self.authenticate(context, roles)
                    limits.check(request)
                    reply = await function(request, call)
                except Exception as exc:  # every failure becomes a status, see _failure
                    error = _failure(exc, service, method)
                else:
                    child(REQUESTS, service, method, "OK").inc()
                    duration.observe(time.perf_counter() - started)
                    return reply
                finally:
                    limiter.release()
            child(REQUESTS, service, method, error.code.name).inc()
            duration.observe(time.perf_counter() - started)
            await context.abort_with_status(to_status(error))

        return serve

    def _server_stream(
        self, service: str, method: str, roles: frozenset[Role], function: ServerStream
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
        return self._streaming(service, method, roles, function, self.watch_limit, "watchers")

    def _bidi(
        self, service: str, method: str, roles: frozenset[Role], function: BidiStream
    ) -> Callable[[AsyncIterator[Any], grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
        return self._streaming(service, method, roles, function, self.stream_limit, "streams")

    def _streaming(
        self,
        service: str,
        method: str,
        roles: frozenset[Role],
        function: Callable[[Any, Call], AsyncIterator[Any]],
        limiter: Limiter,
        what: str,
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
        """A handler for a call that answers with a stream (its request is one message or a
        stream of them, as ``function`` takes it)."""

        async def serve(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            started = time.perf_counter()
            error: ApiError | None = None
            if not limiter.acquire():
                error = exhausted(f"more than {limiter.limit} {what}")
                REJECTED.labels("overload").inc()
            else:
                try:
                    call = self.authenticate(context, roles)
                    if isinstance(request, Message):  # a stream's messages: by the service
                        limits.check(request)
                    async for item in function(request, call):
                        yield item
                except Exception as exc:
                    error = _failure(exc, service, method)
                finally:
                    limiter.release()
            code = error.code.name if error is not None else "OK"
            child(REQUESTS, service, method, code).inc()
            child(DURATION, service, method).observe(time.perf_counter() - started)
            if error is not None:
                await context.abort_with_status(to_status(error))

        return serve


def _failure(exc: Exception, service: str, method: str) -> ApiError:
    error = from_exception(exc)
    if error is None:
        log.error("grpc call failed service=%s method=%s", service, method, exc_info=exc)
        return INTERNAL
    return error
