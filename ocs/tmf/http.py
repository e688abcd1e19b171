"""What every TM Forum REST call shares: exact JSON, the error body, bearer tokens, paging.

* **JSON**: money travels as JSON numbers written from integer minor units with
  :class:`~decimal.Decimal` (``12.50``), and request numbers are parsed as ``Decimal``: no float
  ever carries an amount. An amount with more decimals than the currency has is refused.
* **Errors**: every failure is the TMF ``Error`` shape with the HTTP status of the gRPC code the
  same failure has there (one mapping, from :class:`~ocs.api.errors.ApiError`), plus ``field``
  naming the request field (``@type`` ``OcsError``)::

      {"@type": "OcsError", "code": "INVALID_ARGUMENT", "status": "400",
       "reason": "amount.amount: must be > 0", "field": "amount.amount"}

* **Tokens**: ``Authorization: Bearer <token>``, the tokens of the gRPC APIs (same key, roles).
* **Paging**: ``offset`` and ``limit`` (1..500, default 50), ``X-Total-Count`` and
  ``X-Result-Count`` headers, as TMF630 describes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import grpc
from aiohttp import web

from ocs.api.auth import Principal, TokenError, Tokens
from ocs.api.errors import ApiError, from_exception, invalid, unauthenticated

log = logging.getLogger("ocs.tmf")

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.INTERNAL: 500,
}
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
PRINCIPAL = web.AppKey("principal", Principal)


def dumps(value: Any) -> str:
    return _dump(value)


def _dump(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value)


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=_dump(value), status=status, content_type="application/json", headers=headers
    )


def error_body(error: ApiError) -> dict[str, Any]:
    status = HTTP_STATUS.get(error.code, 500)
    body: dict[str, Any] = {
        "@type": "OcsError",
        "@baseType": "Error",
        "code": error.reason or error.code.name,
        "reason": error.message,
        "status": str(status),
    }
    if error.field:
        body["field"] = error.field
    return body


def error_response(error: ApiError) -> web.Response:
    status = HTTP_STATUS.get(error.code, 500)
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return json_response(error_body(error), status, headers)


def failure(exc: Exception, where: str) -> ApiError:
    error = from_exception(exc)
    if error is None:
        log.error("tmf call failed where=%s", where, exc_info=exc)
        return ApiError(grpc.StatusCode.INTERNAL, "internal error (logged by the server)")
    return error


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (numbers as Decimal); 400 naming ``body`` if not."""
    if request.content_type != "application/json":
        raise invalid("body", "send application/json")
    raw = await request.read()
    try:
        value = json.loads(raw, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("body", f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise invalid("body", "must be a JSON object")
    return value


def bearer(tokens: Tokens, request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    try:
        return tokens.verify(token.strip())
    except TokenError as exc:
        raise unauthenticated(str(exc)) from None


def paging(request: web.Request) -> tuple[int, int]:
    return (
        _int(request, "offset", 0, 0, 10_000_000),
        _int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
    )


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name, "")
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise invalid(name, f"must be a whole number {low}..{high}, got {text!r}")
    return int(text)


def paged(items: list[Any], total: int) -> web.Response:
    return json_response(
        items, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(items))}
    )


def iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def parse_time(name: str, text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, f"not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def money_out(minor: int, currency: str, digits: int) -> dict[str, Any]:
    return {"unit": currency, "value": Decimal(minor).scaleb(-digits)}


def minor_units(name: str, value: Any, digits: int, *, signed: bool = False) -> int:
    """An exact amount in the currency (``12.5`` -> ``1250`` with 2 digits)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise invalid(name, "must be a number")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise invalid(name, f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise invalid(name, "must be a finite number")
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise invalid(name, f"at most {digits} decimal places")
    minor = int(scaled)
    if not signed and minor <= 0:
        raise invalid(name, "must be > 0")
    if abs(minor) >= 2**53:
        raise invalid(name, "too large")
    return minor


def text_field(
    body: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 500
) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    value = value.strip()
    if required and not value:
        raise invalid(name, "required")
    if len(value) > limit:
        raise invalid(name, f"at most {limit} characters")
    return value


def ref_id(body: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    ref = body.get(name)
    if ref is None:
        if required:
            raise invalid(f"{name}.id", "required")
        return ""
    if not isinstance(ref, dict):
        raise invalid(name, "must be an object with an id")
    return text_field(ref, "id", required=required, limit=128) if ref.get("id") or required else ""


Handler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: served by the router and described in the OpenAPI document."""

    method: str
    path: str
    operation: str
    tag: str
    summary: str
    handler: Handler
    responses: Mapping[int, str | None]
    """Status -> schema (``"TMF654.Bucket"``, ``"[TMF654.Bucket]"`` for an array, None)."""
    body: str | None = None
    query: tuple[str, ...] = ()
    roles: str = ""
    """Who may call it, for the document (the handler enforces it)."""
    content: str = "application/json"
    extra: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False
    """No bearer token (the handler authenticates, e.g. a signed webhook)."""
