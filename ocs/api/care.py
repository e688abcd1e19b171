"""The Care service: day-2 operations of customer care (protos/ocs/api/v1/care.proto), over
:class:`ocs.bss.care.Care` (the same operations, rules and audit trail as the portal's care
pages). The portal subsystem hands it its services at start; until then (or with the portal
off) every call is UNAVAILABLE."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from ocs.api import resolve
from ocs.api.convert import account_out, sessions_out, subscriber_out
from ocs.api.errors import ApiError, invalid
from ocs.api.rpc import ADMIN, STAFF, Call, Methods
from ocs.api.v1 import admin_pb2, care_pb2

if TYPE_CHECKING:
    from ocs.bss.care import Care
    from ocs.bss.context import Services

SERVICE = care_pb2.DESCRIPTOR.services_by_name["Care"]


class CareService:
    def __init__(self) -> None:
        self.services: Services | None = None
        self._care: Care | None = None

    def methods(self) -> Methods:
        return {
            "Search": (STAFF, self.search),
            "ListLiveSessions": (STAFF, self.list_live_sessions),
            "SwapSim": (STAFF, self.swap_sim),
            "ChangeMsisdn": (STAFF, self.change_msisdn),
            "SetCreditLimit": (ADMIN, self.set_credit_limit),
            "DeleteSubscriber": (ADMIN, self.delete_subscriber),
        }

    @property
    def care(self) -> Care:
        if self.services is None:
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE,
                "care operations need the portal subsystem ([portal] enabled)",
                reason="PORTAL_DISABLED",
            )
        if self._care is None:
            from ocs.bss.care import Care

            self._care = Care(self.services)
        return self._care

    async def search(self, request: care_pb2.SearchRequest, call: Call) -> care_pb2.SearchResponse:
        hits, total = await self.care.search(
            call.principal, request.query, request.offset, request.limit or 50
        )
        return care_pb2.SearchResponse(
            hits=[
                care_pb2.SearchHit(
                    customer_id=h.customer,
                    name=h.name,
                    account_id=h.account,
                    subscriber_id=h.subscriber,
                    msisdn=h.msisdn,
                    imsi=h.imsi,
                    status=h.status,
                    email=h.email,
                )
                for h in hits
            ],
            total=total,
        )

    async def list_live_sessions(
        self, request: care_pb2.ListLiveSessionsRequest, call: Call
    ) -> admin_pb2.ListSessionsResponse:
        if not request.account_id:
            raise invalid("account_id", "required")
        sessions = await self.care.live_sessions(call.principal, request.account_id)
        return sessions_out(sessions)

    async def _subscriber_id(self, request: care_pb2.ChangeIdentityRequest) -> str:
        if not request.HasField("subscriber"):
            raise invalid("subscriber", "required")
        assert self.care is not None  # UNAVAILABLE before the store is touched
        assert self.services is not None
        found = await resolve.subscriber(self.services.store, request.subscriber, "subscriber")
        return found.id

    async def swap_sim(
        self, request: care_pb2.ChangeIdentityRequest, call: Call
    ) -> admin_pb2.Subscriber:
        subscriber_id = await self._subscriber_id(request)
        changed = await self.care.swap_sim(
            call.principal, subscriber_id, request.value, request.reason
        )
        return subscriber_out(changed)

    async def change_msisdn(
        self, request: care_pb2.ChangeIdentityRequest, call: Call
    ) -> admin_pb2.Subscriber:
        subscriber_id = await self._subscriber_id(request)
        changed = await self.care.change_msisdn(
            call.principal, subscriber_id, request.value, request.reason
        )
        return subscriber_out(changed)

    async def set_credit_limit(
        self, request: care_pb2.SetCreditLimitRequest, call: Call
    ) -> admin_pb2.Account:
        if not request.account_id:
            raise invalid("account_id", "required")
        await self.care.set_credit_limit(
            call.principal, request.account_id, request.credit_limit, request.reason
        )
        assert self.services is not None
        account = await self.services.store.get_account(request.account_id)
        assert account is not None
        return account_out(account, self.services.catalog)

    async def delete_subscriber(
        self, request: care_pb2.DeleteSubscriberRequest, call: Call
    ) -> care_pb2.DeleteSubscriberResponse:
        if not request.HasField("subscriber"):
            raise invalid("subscriber", "required")
        assert self.care is not None
        assert self.services is not None
        found = await resolve.subscriber(self.services.store, request.subscriber, "subscriber")
        deleted = await self.care.delete_subscriber(call.principal, found.id, request.reason)
        return care_pb2.DeleteSubscriberResponse(
            subscriber_id=deleted.subscriber,
            account_id=deleted.account,
            sessions_aborted=deleted.sessions_aborted,
            balances=deleted.balances,
        )
