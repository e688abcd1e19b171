"""Errors of the gRPC API and their mapping to gRPC status codes, in one place.

    ApiError (ocs.errors.OcsError)   .code: the gRPC status code, .field / .reason / .resource
    +-- raised by the services for what a caller can cause: a bad or missing field
        (INVALID_ARGUMENT), an unknown id (NOT_FOUND), a taken id (ALREADY_EXISTS), a state that
        does not allow the request (FAILED_PRECONDITION), a missing or bad token
        (UNAUTHENTICATED), a role or account it may not use (PERMISSION_DENIED), too much
        work in progress (RESOURCE_EXHAUSTED), Redis unreachable (UNAVAILABLE)

Lower-level errors are translated by :func:`from_exception`: the balance engine's
``InvalidRequest`` names its field (INVALID_ARGUMENT), ``BalanceUnavailable`` and
``ChargingUnavailable`` become UNAVAILABLE. Anything else is INTERNAL with no detail (the
traceback goes to the log, never to the peer).

:func:`to_status` builds the ``grpc-status-details-bin`` trailer: a ``google.rpc.Status``
whose details carry a ``BadRequest`` (the field at fault), an ``ErrorInfo`` (a machine-readable
reason), a ``ResourceInfo`` (what was not found), a ``PreconditionFailure`` or a ``RetryInfo``.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from ocs.balance.errors import BalanceUnavailable, InvalidRequest
from ocs.balance.model import Outcome
from ocs.charging.core import ChargingUnavailable
from ocs.errors import OcsError

DOMAIN = "ocs"
RETRY_AFTER_S = 1


class ApiError(OcsError):
    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        field: str = "",
        reason: str = "",
        resource: tuple[str, str] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.field = field
        self.reason = reason or code.name
        self.resource = resource
        super().__init__(f"{code.name}: {message}")


def invalid(field: str, problem: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {problem}", field=field)


def not_found(kind: str, name: str, field: str = "") -> ApiError:
    return ApiError(
        grpc.StatusCode.NOT_FOUND,
        f"no {kind} {name!r}",
        field=field,
        reason=f"{kind.upper().replace(' ', '_')}_NOT_FOUND",
        resource=(kind, name),
    )


def precondition(reason: str, message: str, field: str = "") -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, message, field=field, reason=reason)


def permission_denied(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.PERMISSION_DENIED, message)


def unauthenticated(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.UNAUTHENTICATED, message)


def exhausted(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED, message, reason="OVERLOADED")


def from_outcome(outcome: Outcome, message: str, field: str = "", name: str = "") -> ApiError:
    """A balance-engine refusal (not OK) as the error a caller sees."""
    if outcome is Outcome.UNKNOWN_ACCOUNT:
        return not_found("account", name, field or "account_id")
    if outcome is Outcome.UNKNOWN_SUBSCRIBER:
        return not_found("subscriber", name, field or "subscriber")
    if outcome is Outcome.ALREADY_EXISTS:
        return ApiError(grpc.StatusCode.ALREADY_EXISTS, message or "already exists", field=field)
    if outcome is Outcome.INVALID or outcome is Outcome.CURRENCY_MISMATCH:
        return invalid(field or "request", message or outcome.value.lower())
    if outcome is Outcome.UNAVAILABLE:
        return ApiError(grpc.StatusCode.UNAVAILABLE, message or "balance store unavailable")
    if outcome is Outcome.OUT_OF_RANGE:
        return ApiError(grpc.StatusCode.OUT_OF_RANGE, message or "out of range", field=field)
    return precondition(outcome.value, message or outcome.value.lower().replace("_", " "), field)


def from_exception(exc: BaseException) -> ApiError | None:
    """The API error for a lower-level exception, or None if it is a bug (INTERNAL)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidRequest):
        return invalid(exc.field, exc.problem)
    if isinstance(exc, BalanceUnavailable | ChargingUnavailable):
        return ApiError(
            grpc.StatusCode.UNAVAILABLE,
            "balance store unavailable, try another server",
            reason="BALANCE_STORE_UNAVAILABLE",
        )
    return None


INTERNAL = ApiError(grpc.StatusCode.INTERNAL, "internal error (logged by the server)")


def status_proto(error: ApiError) -> status_pb2.Status:
    details: list[any_pb2.Any] = []

    def add(message: object) -> None:
        packed = any_pb2.Any()
        packed.Pack(message)
        details.append(packed)

    if error.code is grpc.StatusCode.INVALID_ARGUMENT and error.field:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=error.field, description=error.message
        )
        add(error_details_pb2.BadRequest(field_violations=[violation]))
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN)
    if error.field:
        info.metadata["field"] = error.field
    add(info)
    if error.resource is not None:
        kind, name = error.resource
        add(error_details_pb2.ResourceInfo(resource_type=kind, resource_name=name))
    if error.code is grpc.StatusCode.FAILED_PRECONDITION:
        violation = error_details_pb2.PreconditionFailure.Violation(
            type=error.reason, subject=error.field, description=error.message
        )
        add(error_details_pb2.PreconditionFailure(violations=[violation]))
    if error.code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE):
        delay = duration_pb2.Duration(seconds=RETRY_AFTER_S)
        add(error_details_pb2.RetryInfo(retry_delay=delay))
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=details)


def to_status(error: ApiError) -> grpc.Status:
    """A ``grpc.Status`` for ``context.abort_with_status`` (details in the trailer)."""
    return rpc_status.to_status(status_proto(error))
