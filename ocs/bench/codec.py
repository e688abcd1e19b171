"""Codec benchmark: decode a Gy CCR-UPDATE and encode its CCA, ours vs python-diameter.

Run with ``make bench-codec``. The request is a realistic Gy CCR-UPDATE
(Session-Id, Origin-*, Destination-*, Service-Context-Id, two Subscription-Id,
User-Equipment-Info, one Multiple-Services-Credit-Control with RSU, USU and
Rating-Group, Service-Information/PS-Information with 15 members), built with
python-diameter so neither side encodes its own input.

Each round decodes the CCR and encodes a CCA (Session-Id, Result-Code, Origin-*,
Auth-Application-Id, CC-Request-Type/Number, one MSCC granting quota):

* ours: ``Codec.decode`` (framing checks, section 7 validation with the CCR
  grammar, the layout cache) and ``Message.answer`` + ``to_bytes``; printed
  with and without the ~20 value reads a Gy adapter makes;
* python-diameter: ``Message.from_bytes`` (which decodes every value into its
  CreditControlRequest) and the CCA's ``as_bytes``.

Rounds alternate between the two so both see the same machine load; each
figure is the best round (the usual way to time code on a shared machine).
Benchmarks are not tests: they print figures and assert nothing.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import time
from collections.abc import Callable

from diameter.message import Message as PdMessage
from diameter.message.avp.grouped import (
    GrantedServiceUnit,
    MultipleServicesCreditControl,
    PsInformation,
    RequestedServiceUnit,
    ServiceInformation,
    SubscriptionId,
    UsedServiceUnit,
    UserEquipmentInfo,
)
from diameter.message.commands import CreditControlRequest
from diameter.message.constants import E_CC_REQUEST_TYPE_UPDATE_REQUEST

from ocs.diameter import avps
from ocs.diameter.codec import Codec, Identity, Message
from ocs.diameter.dictionary import DICTIONARY, AvpDef

IDENTITY = Identity("ocs.demo.local", "demo.local")


def _D(key: int) -> AvpDef:
    found = DICTIONARY.by_key(key)
    assert found is not None, key
    return found


AUTH_APPLICATION_ID = _D(avps.AUTH_APPLICATION_ID)
CC_REQUEST_TYPE = _D(avps.CC_REQUEST_TYPE)
CC_REQUEST_NUMBER = _D(avps.CC_REQUEST_NUMBER)
MSCC = _D(avps.MULTIPLE_SERVICES_CREDIT_CONTROL)
GSU = _D(avps.GRANTED_SERVICE_UNIT)
CC_TOTAL_OCTETS = _D(avps.CC_TOTAL_OCTETS)
RATING_GROUP = _D(avps.RATING_GROUP)
VALIDITY_TIME = _D(avps.VALIDITY_TIME)
RESULT_CODE = _D(avps.RESULT_CODE)
VOLUME_QUOTA_THRESHOLD = _D(avps.VOLUME_QUOTA_THRESHOLD)


def build_ccr() -> bytes:
    ccr = CreditControlRequest()
    ccr.header.hop_by_hop_identifier = 0x1234
    ccr.header.end_to_end_identifier = 0x5678
    ccr.header.is_proxyable = True
    ccr.session_id = "pgw1.mno.example;1700000000;12345;67890"
    ccr.origin_host = b"pgw1.mno.example"
    ccr.origin_realm = b"mno.example"
    ccr.destination_realm = b"demo.local"
    ccr.destination_host = b"ocs.demo.local"
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = E_CC_REQUEST_TYPE_UPDATE_REQUEST
    ccr.cc_request_number = 3
    ccr.event_timestamp = datetime.datetime(2024, 5, 1, 12, 0, 0)
    ccr.subscription_id = [
        SubscriptionId(subscription_id_type=0, subscription_id_data="41790000001"),
        SubscriptionId(subscription_id_type=1, subscription_id_data="228010000000001"),
    ]
    ccr.multiple_services_indicator = 1
    ccr.user_equipment_info = UserEquipmentInfo(
        user_equipment_info_type=0, user_equipment_info_value=b"3533110123456789"
    )
    usage = UsedServiceUnit(
        cc_time=120,
        cc_total_octets=1048576,
        cc_input_octets=48576,
        cc_output_octets=1000000,
        reporting_reason=2,
    )
    ccr.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            requested_service_unit=RequestedServiceUnit(),
            used_service_unit=[usage],
            rating_group=10,
            service_identifier=[1],
        )
    ]
    ps = PsInformation(
        tgpp_charging_id=b"\x00\x01\x02\x03",
        tgpp_pdp_type=0,
        pdp_address=["10.20.30.40"],
        sgsn_address=["192.0.2.10"],
        ggsn_address=["192.0.2.20"],
        tgpp_imsi_mcc_mnc="22801",
        tgpp_ggsn_mcc_mnc="22801",
        tgpp_nsapi=b"5",
        called_station_id="internet.mno.example",
        tgpp_selection_mode="0",
        tgpp_charging_characteristics="0800",
        tgpp_sgsn_mcc_mnc="22801",
        tgpp_ms_timezone=b"\x40\x00",
        tgpp_user_location_info=b"\x82\x22\xf8\x10\x00\x01\x22\xf8\x10\x00\x00\x00\x01",
        tgpp_rat_type=b"\x06",
    )
    ccr.service_information = ServiceInformation(ps_information=ps)
    return bytes(ccr.as_bytes())


def ours_answer(request: Message) -> bytes:
    answer = request.answer(2001, IDENTITY)
    answer.add_raw(
        AUTH_APPLICATION_ID.encode(4),
        CC_REQUEST_TYPE.encode(2),
        CC_REQUEST_NUMBER.encode(3),
        MSCC.encode(
            [
                GSU.encode([CC_TOTAL_OCTETS.encode(10485760)]),
                RATING_GROUP.encode(10),
                VALIDITY_TIME.encode(3600),
                RESULT_CODE.encode(2001),
                VOLUME_QUOTA_THRESHOLD.encode(1048576),
            ]
        ),
    )
    return answer.to_bytes()


def ours(codec: Codec) -> Callable[[bytes], bytes]:
    def round_trip(data: bytes) -> bytes:
        return ours_answer(codec.decode(data))

    return round_trip


def ours_with_reads(codec: Codec) -> Callable[[bytes], bytes]:
    """Decode, read what a Gy adapter reads (22 values, 7 groups), encode."""

    def round_trip(data: bytes) -> bytes:
        request = codec.decode(data)
        request.get(avps.SESSION_ID)
        request.get(avps.CC_REQUEST_TYPE)
        request.get(avps.CC_REQUEST_NUMBER)
        request.get(avps.SERVICE_CONTEXT_ID)
        request.get(avps.EVENT_TIMESTAMP)
        request.get(avps.ORIGIN_HOST)
        for subscription in request.groups(avps.SUBSCRIPTION_ID):
            subscription.get(avps.SUBSCRIPTION_ID_TYPE)
            subscription.get(avps.SUBSCRIPTION_ID_DATA)
        for mscc in request.groups(avps.MULTIPLE_SERVICES_CREDIT_CONTROL):
            mscc.get(avps.RATING_GROUP)
            _ = avps.REQUESTED_SERVICE_UNIT in mscc
            for used in mscc.groups(avps.USED_SERVICE_UNIT):
                used.get(avps.CC_TIME)
                used.get(avps.CC_TOTAL_OCTETS)
                used.get(avps.CC_INPUT_OCTETS)
                used.get(avps.CC_OUTPUT_OCTETS)
                used.get(avps.REPORTING_REASON)
        service = request.group(avps.SERVICE_INFORMATION)
        assert service is not None
        ps = service.group(avps.PS_INFORMATION)
        assert ps is not None
        ps.get(avps.CALLED_STATION_ID)
        ps.get(avps.TGPP_RAT_TYPE)
        ps.get(avps.TGPP_USER_LOCATION_INFO)
        ps.get(avps.TGPP_SGSN_MCC_MNC)
        return ours_answer(request)

    return round_trip


def python_diameter(data: bytes) -> bytes:
    request = PdMessage.from_bytes(data)
    answer = request.to_answer()
    answer.session_id = request.session_id
    answer.origin_host = b"ocs.demo.local"
    answer.origin_realm = b"demo.local"
    answer.result_code = 2001
    answer.auth_application_id = 4
    answer.cc_request_type = request.cc_request_type
    answer.cc_request_number = request.cc_request_number
    answer.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            granted_service_unit=GrantedServiceUnit(cc_total_octets=10485760),
            rating_group=10,
            validity_time=3600,
            result_code=2001,
            volume_quota_threshold=1048576,
        )
    ]
    return bytes(answer.as_bytes())


def best_of(
    functions: dict[str, Callable[[bytes], bytes]], data: bytes, rounds: int, seconds: float
) -> dict[str, float]:
    """Best microseconds per call of each function, rounds interleaved."""
    loops = {}
    for name, function in functions.items():  # calibrate: ~seconds/rounds per round
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < 0.05:
            function(data)
            count += 1
        per_call = (time.perf_counter() - start) / count
        loops[name] = max(1, int(seconds / rounds / per_call))
    best = {name: float("inf") for name in functions}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, function in functions.items():
                n = loops[name]
                start = time.perf_counter()
                for _ in range(n):
                    function(data)
                best[name] = min(best[name], (time.perf_counter() - start) / n * 1e6)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per function")
    args = parser.parse_args()

    data = build_ccr()
    codec = Codec()
    cold = Codec()
    cold.cache.capacity = 0
    # Same answer bytes from both sides (modulo Origin-Host/Realm flags python-diameter
    # leaves clear): a sanity check that both do the same work.
    assert PdMessage.from_bytes(ours(codec)(data), plain_msg=True).header.length > 0
    results = best_of(
        {
            "ours": ours(codec),
            "ours_reads": ours_with_reads(codec),
            "ours_cold": ours(cold),
            "python_diameter": python_diameter,
        },
        data,
        args.rounds,
        args.seconds,
    )
    reference = results["python_diameter"]
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"request: Gy CCR-UPDATE of {len(data)} octets, 47 AVPs")
    print(f"ours, layout not cached (first request of its shape): {results['ours_cold']:.1f} us")
    print(
        f"ours, decode + 22 adapter reads + encode: {results['ours_reads']:.1f} us, "
        f"ratio {reference / results['ours_reads']:.1f}"
    )
    print(
        f"codec: ours {results['ours']:.1f} us, python-diameter {reference:.1f} us, "
        f"ratio {reference / results['ours']:.1f}"
    )


if __name__ == "__main__":
    main()
