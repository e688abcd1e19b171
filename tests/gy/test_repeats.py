"""A repeated request gets its stored answer wherever it arrives: the same process, another
`ocs serve` on the same Redis, the first one after a SIGKILL and restart; with or without the T
flag; with a new End-to-End id (so no process's duplicate cache knows it). Charged once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from ocs.diameter.constants import CommandFlag
from tests.gy.gateway import (
    DIRECT_DEBITING,
    EVENT,
    INITIAL,
    TERMINATE,
    UPDATE,
    Cca,
    Gateway,
    Mscc,
)
from tests.gy.test_serve import FIRST_DEMO_MSISDN, MB, demo_account, serve_config, servers, start
from tests.support.ports import free_port
from tests.support.serve import ServeProcess

pytestmark = pytest.mark.slow
__all__ = ["servers"]  # the fixture, used by name


def meaning(answer: Cca) -> tuple[object, ...]:
    """What a gateway acts on: Result-Code, each MSCC's grant, cost, refund reference."""
    return (
        answer.result_code,
        answer.request_type,
        answer.request_number,
        sorted((rg, vars(grant)) for rg, grant in answer.grants.items() if rg is not None),
        answer.cost,
        answer.refund_information,
    )


async def test_repeats_of_every_request_type_are_answered_from_the_stored_answer(
    tmp_path: Path, redis_url: str, servers: list[ServeProcess]
) -> None:
    port_a, port_b = free_port(), free_port()
    config_a = serve_config(tmp_path, "a", redis_url, port_a)
    first = start(config_a, servers)
    start(serve_config(tmp_path, "b", redis_url, port_b), servers)
    gateways = {"a": await Gateway.connect(port_a), "b": await Gateway.connect(port_b)}
    money_before, _ = await demo_account(redis_url)

    async def everywhere(request_of: object, original: Cca) -> None:
        """Send the same request again: to a with the T flag, to b without, both with new
        End-to-End ids; each answer must mean what the original meant."""
        for name, flagged in (("a", True), ("b", False)):
            again = request_of()  # type: ignore[operator]
            if flagged:
                again.flags |= CommandFlag.RETRANSMITTED
            assert meaning(await gateways[name].send(again)) == meaning(original), name

    sid = gateways["a"].new_session()
    steps = [
        lambda: gateways["a"].build(
            sid, INITIAL, 0, msisdn=FIRST_DEMO_MSISDN, mscc=[Mscc(100, request=True)]
        ),
        lambda: gateways["a"].build(
            sid, UPDATE, 1, mscc=[Mscc(100, request=True, used_octets=6 * MB)]
        ),
        lambda: gateways["a"].build(sid, TERMINATE, 2, mscc=[Mscc(100, used_octets=3 * MB)]),
    ]
    answers = []
    for build in steps:
        answer = await gateways["a"].send(build())
        assert answer.result_code == 2001
        await everywhere(build, answer)
        answers.append(answer)

    event_sid = gateways["a"].new_session("smsc.mno.example")

    def sms() -> object:
        return gateways["a"].build(
            event_sid,
            EVENT,
            0,
            msisdn=FIRST_DEMO_MSISDN,
            service_context="32274@3gpp.org",
            requested_action=DIRECT_DEBITING,
            mscc=[Mscc(300, request=True, units=1)],
        )

    event = await gateways["a"].send(sms())  # type: ignore[arg-type]
    assert event.result_code == 2001
    await everywhere(sms, event)

    # the first instance killed and started again: its caches are gone, Redis remembers
    await gateways["a"].client.close()
    first.signal(signal.SIGKILL)
    first.wait()
    servers.remove(first)
    start(config_a, servers)
    gateways["a"] = await Gateway.connect(port_a)
    await everywhere(steps[-1], answers[-1])
    await everywhere(sms, event)
    for gateway in gateways.values():
        await gateway.close()

    money, buckets = await demo_account(redis_url)
    assert money == money_before  # the bundle paid for the data and the SMS
    assert buckets["data"] == 500 * MB - 9 * MB  # 6 + 3 MB, once
    assert buckets["sms"] == 49
