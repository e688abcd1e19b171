"""The three operations of Nchf_ConvergedCharging on the charging core (TS 32.291 §5.2.2).

    POST .../chargingdata                  create  -> INITIAL (EVENT with oneTimeEvent); 201
    POST .../chargingdata/{ref}/update     update  -> UPDATE;                             200
    POST .../chargingdata/{ref}/release    release -> TERMINATE;                          204

The ChargingDataRef is derived from the create request's content (32 hex digits), so a
retransmitted create names the same resource on any instance; the core's session id is
``nchf:<ref>``, which no Diameter Session-Id can be (a DiameterIdentity has no colon).
Request numbers and retransmissions: :mod:`ocs.nchf.records`. Result codes to HTTP:
:data:`_COMMAND_PROBLEMS` and :mod:`ocs.nchf.problems`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ocs.balance.errors import BalanceError
from ocs.charging.core import ChargingCore, ChargingUnavailable
from ocs.charging.types import NCHF_SESSIONS, ChargingResult, RequestType, ResultCode
from ocs.config import ChargingConfig, NchfConfig
from ocs.nchf import messages
from ocs.nchf.metrics import RETRANSMISSIONS
from ocs.nchf.problems import InvalidParam, Problem, congestion
from ocs.nchf.records import RequestRecords, Stored, digest

log = logging.getLogger("ocs.nchf")

SESSION_PREFIX = NCHF_SESSIONS
REF_PATTERN = re.compile(r"[0-9a-f]{32}")

# Command-level results of the core that are not a success: (status, cause).
_COMMAND_PROBLEMS = {
    ResultCode.USER_UNKNOWN: (404, "USER_UNKNOWN"),
    ResultCode.UNKNOWN_SESSION_ID: (404, "CONTEXT_NOT_FOUND"),
    ResultCode.END_USER_SERVICE_DENIED: (403, "END_USER_REQUEST_DENIED"),
    ResultCode.CREDIT_LIMIT_REACHED: (403, "QUOTA_LIMIT_REACHED"),
    ResultCode.CREDIT_CONTROL_NOT_APPLICABLE: (403, "CHARGING_NOT_APPLICABLE"),
    ResultCode.RATING_FAILED: (400, "CHARGING_FAILED"),
    ResultCode.MISSING_AVP: (400, "MANDATORY_IE_MISSING"),
    ResultCode.INVALID_AVP_VALUE: (400, "MANDATORY_IE_INCORRECT"),
}
# The core names request fields as Diameter AVPs; an Nchf client reads JSON pointers.
_POINTERS = {
    "CC-Request-Number": "/invocationSequenceNumber",
    "Requested-Service-Unit": "/multipleUnitUsage/0/requestedUnit",
    "Subscription-Id": "/subscriberIdentifier",
}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    location: str = ""
    retransmission: bool = False
    cause: str = ""
    operation: str = ""
    """create, event, update or release (metrics)."""


def session_id(ref: str) -> str:
    return SESSION_PREFIX + ref


class ChargingDataService:
    def __init__(
        self,
        core: ChargingCore,
        records: RequestRecords,
        config: NchfConfig,
        charging: ChargingConfig,
    ) -> None:
        self.core = core
        self.records = records
        self.config = config
        self.charging = charging

    async def create(self, body: Mapping[str, Any], api_root: str) -> Answer:
        request_digest = digest(body)
        ref = request_digest  # the resource is named by its create request's content
        request = messages.charging_request(body, session_id(ref), RequestType.INITIAL, 0)
        location = f"{api_root}/nchf-convergedcharging/v3/chargingdata/{ref}"
        operation = "event" if request.one_time_event else "create"
        return await self._charge(operation, ref, request_digest, request, location, create=True)

    async def update(self, ref: str, body: Mapping[str, Any]) -> Answer:
        return await self._existing("update", ref, body, RequestType.UPDATE)

    async def release(self, ref: str, body: Mapping[str, Any]) -> Answer:
        return await self._existing("release", ref, body, RequestType.TERMINATE)

    async def _existing(
        self, operation: str, ref: str, body: Mapping[str, Any], kind: RequestType
    ) -> Answer:
        if not REF_PATTERN.fullmatch(ref):
            raise _not_found(ref)
        request = messages.charging_request(body, session_id(ref), kind, 0)
        return await self._charge(operation, ref, digest(body), request, "", create=False)

    async def _charge(
        self,
        operation: str,
        ref: str,
        request_digest: str,
        request: messages.NchfRequest,
        location: str,
        *,
        create: bool,
    ) -> Answer:
        try:
            claim = await self.records.claim(
                ref, request_digest, create=create, notify_uri=request.notify_uri
            )
            if claim.request_number < 0:
                raise _not_found(ref)
            if claim.stored is not None:
                RETRANSMISSIONS.labels(operation).inc()
                stored = claim.stored
                return Answer(
                    stored.status,
                    stored.body,
                    "application/problem+json" if stored.status >= 400 else "application/json",
                    stored.location,
                    retransmission=True,
                    operation=operation,
                )
            charging = request.charging
            charging.request_number = claim.request_number
            result = await self.core.handle(charging)
        except (ChargingUnavailable, BalanceError) as exc:  # Redis unreachable: nothing changed
            raise congestion(
                self.config.retry_after_s, "balance store unavailable, try again"
            ) from exc
        answer = self._answer(operation, request, result, location)
        waiting, granted = messages.reauthorize_groups(result)
        try:
            await self.records.answer(
                ref,
                claim.request_number,
                Stored(answer.status, answer.body, answer.location),
                waiting=waiting,
                granted=granted,
                released=operation == "release" and answer.status < 400,
            )
        except BalanceError as exc:
            # charged and answered; a retransmission is charged once all the same (the engine
            # replays the request number), only its answer is rebuilt rather than stored
            log.warning("nchf answer not stored ref=%s error=%s", ref, exc)
        return answer

    def _answer(
        self,
        operation: str,
        request: messages.NchfRequest,
        result: ChargingResult,
        location: str,
    ) -> Answer:
        if result.result_code is not ResultCode.SUCCESS:
            status, cause = _COMMAND_PROBLEMS.get(result.result_code, (400, "CHARGING_FAILED"))
            params = []
            if result.failed_field:
                pointer = _POINTERS.get(result.failed_field, result.failed_field)
                params.append(InvalidParam(pointer, result.error_message or "incorrect"))
            problem = Problem(status, cause, result.error_message, params)
            return Answer(
                status, problem.body(), "application/problem+json", cause=cause, operation=operation
            )
        if operation == "release":
            return Answer(204, operation=operation)
        response = messages.charging_data_response(
            result,
            request.sequence_number,
            self.core.clock(),
            session_failover=self.charging.cc_session_failover,
            failure_handling=self.charging.credit_control_failure_handling,
        )
        body = orjson.dumps(response)
        if operation in ("create", "event"):
            return Answer(201, body, location=location, operation=operation)
        return Answer(200, body, operation=operation)


def _not_found(ref: str) -> Problem:
    return Problem(
        404,
        "CONTEXT_NOT_FOUND",
        "no charging data resource with this ChargingDataRef",
        [InvalidParam("{ChargingDataRef}", "unknown")],
    )


__all__ = ["SESSION_PREFIX", "Answer", "ChargingDataService", "session_id"]
