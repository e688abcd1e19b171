"""RFC 7807 problem details with the causes of TS 32.291 §6.1.7.3 and TS 29.500 §5.2.7.2.

Every error answer of the Nchf server is ``application/problem+json``: ``status``,
``title``, ``cause`` (the machine-readable application error of the table below),
``detail`` (for a person) and, for a request field at fault, ``invalidParams`` with the
field as a JSON pointer (TS 29.571 InvalidParam).

    cause                             status  when
    CHARGING_FAILED                   400     the request cannot be rated (rating group unknown)
    MANDATORY_IE_MISSING              400     a field the operation needs is absent
    MANDATORY_IE_INCORRECT            400     a field has the wrong type or an impossible value
    INVALID_MSG_FORMAT                400     the body is not a JSON object
    END_USER_REQUEST_DENIED           403     the subscriber is not active
    QUOTA_LIMIT_REACHED               403     a one-time event the balance cannot pay
    CHARGING_NOT_APPLICABLE           403     the service is not charged (zero-rated event)
    USER_UNKNOWN                      404     no subscriber has the request's identities
    CONTEXT_NOT_FOUND                 404     no charging data resource has this ChargingDataRef
    RESOURCE_URI_STRUCTURE_NOT_FOUND  404     the path names no resource of this API
    (none)                            405     a method other than POST
    (none)                            411/413 no usable length / a body above nchf.max_body
    (none)                            415     a body that is not application/json
    NF_CONGESTION                     503     overload or the balance store unreachable
                                              (with Retry-After, never queued)
    SYSTEM_FAILURE                    500     a defect in ocs (logged with its traceback)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from ocs.errors import OcsError

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class InvalidParam:
    param: str
    """A JSON pointer into the request body, e.g. ``/multipleUnitUsage/0/ratingGroup``."""
    reason: str


@dataclass
class Problem(OcsError):
    """An error answer: raised anywhere in the adapter, rendered once by the server."""

    status: int
    cause: str = ""
    detail: str = ""
    invalid_params: list[InvalidParam] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.cause}: {self.detail}")

    def body(self) -> bytes:
        document: dict[str, object] = {
            "status": self.status,
            "title": _TITLES.get(self.status, "Error"),
        }
        if self.cause:
            document["cause"] = self.cause
        if self.detail:
            document["detail"] = self.detail
        if self.invalid_params:
            document["invalidParams"] = [
                {"param": p.param, "reason": p.reason} for p in self.invalid_params
            ]
        return orjson.dumps(document)


def missing(pointer: str, reason: str = "required") -> Problem:
    return Problem(
        400, "MANDATORY_IE_MISSING", f"{pointer} is {reason}", [InvalidParam(pointer, reason)]
    )


def incorrect(pointer: str, reason: str) -> Problem:
    return Problem(
        400, "MANDATORY_IE_INCORRECT", f"{pointer}: {reason}", [InvalidParam(pointer, reason)]
    )


def congestion(retry_after: int, detail: str) -> Problem:
    return Problem(503, "NF_CONGESTION", detail, headers=[("retry-after", str(retry_after))])


__all__ = ["PROBLEM_JSON", "InvalidParam", "Problem", "congestion", "incorrect", "missing"]
