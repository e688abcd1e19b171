"""Every string, repeated field and map of a request has a bound (protos/ocs/api/v1/limits.proto),
enforced by the real grpc.aio server: beyond it, INVALID_ARGUMENT naming the field, and
nothing changes. On 94cca2e a 1 MB Session-Id, a 1 MB customer name and 10,000 profile keys
were accepted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor

from ocs.api.limits import DEFAULT_MAX_ITEMS, DEFAULT_MAX_LEN, bounds
from ocs.api.v1 import admin_pb2, balance_pb2, credit_control_pb2
from ocs.api.v1 import credit_control_pb2 as cc
from ocs.app import App
from tests.api.conftest import Api, bad_field, msisdn

MEGABYTE = "x" * 1_000_000


@pytest.fixture
async def api(app: App) -> AsyncIterator[Api]:
    client = Api.connect(app)
    yield client
    await client.channel.close()


async def invalid_field(call: object) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return bad_field(caught.value)


async def test_a_megabyte_session_id_is_invalid_argument(api: Api) -> None:
    await api.customer("4915200000001")
    request = cc.SessionRequest(session_id=MEGABYTE, subscriber=msisdn("4915200000001"))
    assert await invalid_field(api.cc.Initial(request, metadata=api.as_nf)) == "session_id"
    event = cc.EventRequest(session_id="e" * 513, subscriber=msisdn("4915200000001"))
    assert await invalid_field(api.cc.Event(event, metadata=api.as_nf)) == "session_id"
    items = [cc.UsageItem(rating_group=100)] * (DEFAULT_MAX_ITEMS + 1)
    many = cc.SessionRequest(session_id="s1", subscriber=msisdn("4915200000001"), items=items)
    assert await invalid_field(api.cc.Initial(many, metadata=api.as_nf)) == "items"
    extra = cc.ServiceInfo(extra={"note": MEGABYTE})
    noted = cc.SessionRequest(session_id="s2", request_number=1, service_info=extra)
    field = await invalid_field(api.cc.Update(noted, metadata=api.as_nf))
    assert field == "service_info.extra['note']"


async def test_a_megabyte_name_or_ten_thousand_profile_keys_create_nothing(api: Api) -> None:
    big_name = admin_pb2.CreateCustomerRequest(customer_id="C-big", name=MEGABYTE)
    assert await invalid_field(api.admin.CreateCustomer(big_name, metadata=api.as_admin)) == "name"
    profile = {f"key{n}": "v" for n in range(10_000)}
    keys = admin_pb2.CreateCustomerRequest(customer_id="C-big", name="Big", profile=profile)
    assert await invalid_field(api.admin.CreateCustomer(keys, metadata=api.as_admin)) == "profile"
    address = admin_pb2.CreateCustomerRequest(
        customer_id="C-big", name="Big", profile={"address": "a" * 1025}
    )
    field = await invalid_field(api.admin.CreateCustomer(address, metadata=api.as_admin))
    assert field == "profile['address']"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.admin.GetCustomer(
            admin_pb2.GetCustomerRequest(customer_id="C-big"), metadata=api.as_admin
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # nothing was created
    fine = admin_pb2.CreateCustomerRequest(
        customer_id="C-big", name="Big", profile={"address": "a" * 1024}
    )
    await api.admin.CreateCustomer(fine, metadata=api.as_admin)


async def test_a_stream_message_beyond_a_bound_gets_its_error_and_the_stream_goes_on(
    api: Api,
) -> None:
    await api.customer("4915200000002")
    Kind = cc.StreamRequest.Kind

    async def source() -> AsyncIterator[cc.StreamRequest]:
        yield cc.StreamRequest(
            tag=1,
            kind=Kind.KIND_INITIAL,
            request=cc.SessionRequest(session_id=MEGABYTE, subscriber=msisdn("4915200000002")),
        )
        yield cc.StreamRequest(
            tag=2,
            kind=Kind.KIND_INITIAL,
            request=cc.SessionRequest(
                session_id="ok-1",
                subscriber=msisdn("4915200000002"),
                items=[cc.UsageItem(rating_group=100, requested={})],
            ),
        )

    answers = {a.tag: a async for a in api.cc.Stream(source(), metadata=api.as_nf)}
    assert answers[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "request.session_id" in answers[1].error.message
    assert answers[2].response.result_code == 2001


def _request_fields() -> Iterator[tuple[str, FieldDescriptor]]:
    seen: set[str] = set()
    pending = [
        method.input_type
        for module in (admin_pb2, balance_pb2, credit_control_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]
    while pending:
        message = pending.pop()
        if message.full_name in seen:
            continue
        seen.add(message.full_name)
        for field in message.fields:
            yield f"{message.full_name}.{field.name}", field
            if field.message_type is not None:
                pending.append(field.message_type)


def test_every_string_and_repeated_request_field_has_a_bound() -> None:
    checked = 0
    for name, field in _request_fields():
        if field.type == FieldDescriptor.TYPE_STRING or field.is_repeated:
            max_len, max_items = bounds(field)
            assert 0 < max_len <= 1024 and 0 < max_items <= DEFAULT_MAX_ITEMS, name
            checked += 1
    assert checked > 40
    assert DEFAULT_MAX_LEN == 256
