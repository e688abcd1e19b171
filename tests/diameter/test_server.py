"""The Diameter server over real TCP: handlers, errors, duplicates, overload, peers."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from ocs import tally
from ocs.diameter import avps
from ocs.diameter.capabilities import PeerInfo
from ocs.diameter.codec import Codec, Message
from ocs.diameter.constants import Application, Command, DisconnectCause, ResultCode
from ocs.diameter.errors import DiameterError, NotConnected, RequestTimeout
from ocs.diameter.metrics import DUPLICATES, HANDLER_ERRORS, MESSAGES, TOO_BUSY
from ocs.diameter.server import DiameterServer, firmware_revision
from tests.diameter.client import Client, cer_bytes, port_of, running_server, server_config
from tests.diameter.messages import ccr

CCR = (Application.CREDIT_CONTROL, Command.CREDIT_CONTROL)


def success(request: Message, peer: PeerInfo) -> Message:
    answer = request.answer(ResultCode.DIAMETER_SUCCESS, peer.local)
    answer.add(avps.CC_REQUEST_NUMBER, request.get(avps.CC_REQUEST_NUMBER))
    return answer


def value(metric: Any) -> float:
    tally.flush()  # hot-path counts reach prometheus-client when read
    return float(metric._value.get())


async def test_capabilities_exchange_and_a_sync_handler() -> None:
    async with running_server() as server:
        server.register(*CCR, success)
        client = await Client.connect(port_of(server))
        info = await asyncio.wait_for(client.opened, 5)
        assert info.origin_host == "ocs.test.local"
        assert info.applications == {Application.CREDIT_CONTROL}
        assert info.product_name == "ocs"
        (peer,) = server.connected_peers()
        assert (peer.origin_host, peer.product_name) == ("pgw.mno.example", "test-client")
        answer = await client.ccr(request_number=5)
        assert answer.get(avps.RESULT_CODE) == 2001
        assert answer.get(avps.CC_REQUEST_NUMBER) == 5
        assert answer.get(avps.ORIGIN_HOST) == "ocs.test.local"
        await client.close()


async def test_async_handlers_run_concurrently_and_answer_out_of_order() -> None:
    release = asyncio.Event()
    order: list[int] = []

    async def handler(request: Message, peer: PeerInfo) -> Message:
        number = request.get(avps.CC_REQUEST_NUMBER)
        if number == 1:
            await release.wait()
        order.append(number)
        return success(request, peer)

    async with running_server() as server:
        server.register(*CCR, handler)
        client = await Client.connect(port_of(server))
        first = asyncio.ensure_future(client.ccr(1))
        second = await client.ccr(2)  # answered while the first still waits
        release.set()
        assert (await first).get(avps.CC_REQUEST_NUMBER) == 1
        assert second.get(avps.CC_REQUEST_NUMBER) == 2
        assert order == [2, 1]
        await client.close()


async def test_a_handler_returning_a_future_gets_no_task(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[Message]] = []

    def handler(request: Message, peer: PeerInfo) -> asyncio.Future[Message]:
        future: asyncio.Future[Message] = loop.create_future()
        loop.call_soon(future.set_result, success(request, peer))
        futures.append(future)
        return future

    async with running_server() as server:
        server.register(*CCR, handler)
        client = await Client.connect(port_of(server))

        def no_tasks(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a Future must not be wrapped in a task")

        monkeypatch.setattr(asyncio, "ensure_future", no_tasks)
        answer = await client.ccr(3)
        monkeypatch.undo()
        assert answer.get(avps.RESULT_CODE) == 2001 and len(futures) == 1
        await client.close()


async def test_diameter_error_becomes_its_answer_and_other_errors_5012(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def handler(request: Message, peer: PeerInfo) -> Message:
        if request.get(avps.CC_REQUEST_NUMBER) == 1:
            failed = request.raw(avps.CC_REQUEST_NUMBER)
            assert failed is not None
            raise DiameterError(ResultCode.DIAMETER_RATING_FAILED, [failed], "no tariff")
        raise RuntimeError("database on fire")

    async with running_server() as server:
        server.register(*CCR, handler)
        client = await Client.connect(port_of(server))
        rated = await client.ccr(1)
        assert rated.get(avps.RESULT_CODE) == ResultCode.DIAMETER_RATING_FAILED
        assert rated.get(avps.ERROR_MESSAGE) == "no tariff"
        failed = rated.group(avps.FAILED_AVP)
        assert failed is not None and failed.get(avps.CC_REQUEST_NUMBER) == 1
        before = value(HANDLER_ERRORS)
        with caplog.at_level(logging.ERROR, logger="ocs.diameter"):
            broken = await client.ccr(2)
        assert broken.get(avps.RESULT_CODE) == ResultCode.DIAMETER_UNABLE_TO_COMPLY
        assert avps.ERROR_MESSAGE not in broken  # no traceback or detail on the wire
        assert value(HANDLER_ERRORS) == before + 1
        (record,) = [r for r in caplog.records if "handler failed" in r.message]
        assert "RuntimeError: database on fire" in record.message and record.exc_info is None
        await client.close()


async def test_a_retransmission_gets_the_identical_answer_without_running_the_handler() -> None:
    calls: list[int] = []

    def handler(request: Message, peer: PeerInfo) -> Message:
        calls.append(request.end_to_end)
        return success(request, peer)

    async with running_server() as server:
        server.register(*CCR, handler)
        client = await Client.connect(port_of(server))
        before = value(DUPLICATES)
        first = await client.ccr(1, end_to_end=0xABC)
        again = await client.ccr(1, end_to_end=0xABC)  # new hop-by-hop, same end-to-end
        assert calls == [0xABC]
        assert again.hop_by_hop != first.hop_by_hop
        assert again.to_bytes()[16:] == first.to_bytes()[16:]
        assert value(DUPLICATES) == before + 1
        await client.ccr(1, end_to_end=0xABD)
        assert calls == [0xABC, 0xABD]
        await client.close()


async def test_over_the_in_flight_bound_requests_are_answered_too_busy() -> None:
    release, both_started = asyncio.Event(), asyncio.Event()
    started: list[int] = []

    async def slow(request: Message, peer: PeerInfo) -> Message:
        started.append(1)
        if len(started) == 2:
            both_started.set()
        await release.wait()
        return success(request, peer)

    async with running_server(max_in_flight_per_peer=2) as server:
        server.register(*CCR, slow)
        client = await Client.connect(port_of(server))
        before = value(TOO_BUSY)
        pending = [asyncio.ensure_future(client.ccr(n)) for n in (1, 2)]
        await asyncio.wait_for(both_started.wait(), 5)
        busy = await client.ccr(3)
        assert busy.get(avps.RESULT_CODE) == ResultCode.DIAMETER_TOO_BUSY and busy.is_error
        assert value(TOO_BUSY) == before + 1
        release.set()
        assert [(await p).get(avps.RESULT_CODE) for p in pending] == [2001, 2001]
        await client.close()


async def test_server_requests_are_matched_by_hop_by_hop_and_time_out() -> None:
    def raa(request: Message) -> Message:
        return request.answer(ResultCode.DIAMETER_SUCCESS, client_identity)

    async with running_server() as server:
        client = await Client.connect(port_of(server), handler=raa)
        client_identity = client.peer.local.identity
        rar = Message.request(Command.RE_AUTH, Application.CREDIT_CONTROL, proxiable=True)
        rar.add(avps.SESSION_ID, "s;1").add_raw(server.identity.avps)
        rar.add(avps.DESTINATION_REALM, "mno.example").add(avps.DESTINATION_HOST, "pgw.mno.example")
        rar.add(avps.AUTH_APPLICATION_ID, 4).add(avps.RE_AUTH_REQUEST_TYPE, 0)
        answer = await server.request("PGW.mno.example", rar, timeout=2)
        assert answer.get(avps.RESULT_CODE) == 2001 and answer.get(avps.SESSION_ID) == "s;1"
        client.handler = None  # stops answering
        with pytest.raises(RequestTimeout):
            await server.request("pgw.mno.example", rar, timeout=0.2)
        with pytest.raises(NotConnected, match=r"no open Diameter connection to other\.example"):
            await server.request("other.example", rar)
        await client.close()


async def test_watchdog_keeps_an_idle_peer_and_closes_a_silent_one() -> None:
    async with running_server(watchdog_interval=0.5) as server:
        live = await Client.connect(port_of(server))
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(cer_bytes("silent.mno.example"))  # then never a DWA
        started = asyncio.get_running_loop().time()
        while await reader.read(65536):
            pass  # CEA, DWRs, then the server closes
        elapsed = asyncio.get_running_loop().time() - started
        assert 1.0 < elapsed < 8.0  # about 3 Tw (RFC 3539): not before 2 Tw, not hanging on
        assert [p.origin_host for p in server.connected_peers()] == ["pgw.mno.example"]
        assert not live.closed.done()
        await live.close()
        writer.close()


async def test_allow_lists_answer_3010_and_close() -> None:
    async with running_server(allowed_peers=["pgw.mno.example"]) as server:
        with pytest.raises(ConnectionError, match="3010"):
            await Client.connect(port_of(server), origin_host="rogue.example")
        ok = await Client.connect(port_of(server))
        await ok.close()
    async with running_server(allowed_networks=["10.0.0.0/8"]) as server:
        with pytest.raises(ConnectionError, match="3010"):
            await Client.connect(port_of(server))


async def test_no_common_application_is_5010() -> None:
    from ocs.diameter.capabilities import Advertised

    async with running_server() as server:
        with pytest.raises(ConnectionError, match="5010"):
            await Client.connect(port_of(server), applications=(Advertised(999),))


async def test_a_second_connection_from_a_connected_host_is_refused_and_the_first_probed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answered = tally.counter(MESSAGES, "in", "DWA", "2001")
    async with running_server() as server:
        first = await Client.connect(port_of(server))
        before = answered.total
        with caplog.at_level(logging.WARNING, logger="ocs.diameter"):
            with pytest.raises(ConnectionError, match="5012"):
                await Client.connect(port_of(server))
        assert any(
            "already connected" in r.message and "result_code=5012" in r.message
            for r in caplog.records
        )
        for _ in range(200):  # the DWR probing the first connection comes back answered
            if answered.total > before:
                break
            await asyncio.sleep(0.01)
        assert answered.total == before + 1
        assert not first.closed.done()
        assert len(server.connected_peers()) == 1
        await first.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x01\x00\x00\x13" + bytes(16),  # length not a multiple of 4
        b"\x01\xff\xff\xfc" + bytes(16),  # above the maximum
        b"\x00" * 4,
    ],
)
async def test_garbage_closes_that_connection_and_the_server_serves_the_next(
    garbage: bytes,
) -> None:
    async with running_server() as server:
        server.register(*CCR, success)
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(garbage)
        assert await asyncio.wait_for(reader.read(65536), 5) == b""  # closed, nothing answered
        writer.close()
        client = await Client.connect(port_of(server))
        assert (await client.ccr()).get(avps.RESULT_CODE) == 2001
        await client.close()


async def test_section_7_errors_are_answered_over_the_wire() -> None:
    async with running_server() as server:
        server.register(*CCR, success)
        client = await Client.connect(port_of(server))
        reply = asyncio.get_running_loop().create_future()
        client.peer._pending[0x1111] = 1e18  # let the raw request's answer through
        client._waiting[0x1111] = reply
        client.send_raw(ccr([]))  # no AVPs at all
        answer = await asyncio.wait_for(reply, 5)
        assert answer.get(avps.RESULT_CODE) == ResultCode.DIAMETER_MISSING_AVP
        assert answer.group(avps.FAILED_AVP) is not None
        await client.close()


async def test_stop_answers_in_flight_requests_then_sends_dpr() -> None:
    release, started = asyncio.Event(), asyncio.Event()

    async def slow(request: Message, peer: PeerInfo) -> Message:
        started.set()
        await release.wait()
        return success(request, peer)

    server = DiameterServer(server_config())
    server.register(*CCR, slow)
    await server.start()
    port = port_of(server)
    client = await Client.connect(port)
    in_flight = asyncio.ensure_future(client.ccr(1))
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.ensure_future(server.stop())
    await asyncio.sleep(0)  # stop() closes the listeners before its first await
    with pytest.raises(OSError):  # no longer accepting
        await asyncio.open_connection("127.0.0.1", port)
    busy = await client.ccr(2)  # new requests while draining
    assert busy.get(avps.RESULT_CODE) == ResultCode.DIAMETER_TOO_BUSY
    assert busy.get(avps.ERROR_MESSAGE) == "shutting down"
    release.set()
    assert (await in_flight).get(avps.RESULT_CODE) == 2001
    reason = await asyncio.wait_for(asyncio.shield(client.closed), 5)
    await stopping
    assert client.disconnect_cause == DisconnectCause.REBOOTING  # the server's DPR
    assert reason == "closed by the server"  # after our DPA
    assert server.connected_peers() == []


def test_firmware_revision_from_the_version() -> None:
    assert firmware_revision("0.1.0") == 100
    assert firmware_revision("2.3.14") == 20314
    assert firmware_revision("1.0rc1") == 10000
    assert Codec()  # keep the import used


async def test_metrics_follow_peers_and_decode_errors() -> None:
    from ocs.diameter.metrics import DECODE_ERRORS, MESSAGES, PEERS

    def count(metric: Any, *labels: str) -> float:
        tally.flush()
        return float(metric.labels(*labels)._value.get())

    async with running_server() as server:
        server.register(*CCR, success)
        open_before = count(PEERS, "open")
        framing_before = count(DECODE_ERRORS, "version")
        cca_before = count(MESSAGES, "out", "CCA", "2001")
        client = await Client.connect(port_of(server))
        assert count(PEERS, "open") == open_before + 1
        await client.ccr()
        assert count(MESSAGES, "out", "CCA", "2001") == cca_before + 1
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(b"\x02\x00\x00\x14" + bytes(16))
        assert await asyncio.wait_for(reader.read(100), 5) == b""
        writer.close()
        assert count(DECODE_ERRORS, "version") == framing_before + 1
        await client.disconnect()
        await client.close()
        await asyncio.wait_for(asyncio.shield(client.closed), 5)
    assert count(PEERS, "open") == open_before


async def test_reading_pauses_while_the_peer_does_not_read_its_answers() -> None:
    from ocs.diameter.framing import Framer
    from ocs.diameter.metrics import READING_PAUSED

    def large(request: Message, peer: PeerInfo) -> Message:
        answer = request.answer(ResultCode.DIAMETER_SUCCESS, peer.local)
        return answer.add(avps.USER_NAME, "x" * 60000)

    async with running_server(write_buffer_limit=4096, max_message_size=65536) as server:
        server.register(*CCR, large)
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port_of(server)))
        await loop.sock_sendall(sock, cer_bytes())
        framer = Framer()
        while not framer.feed(await loop.sock_recv(sock, 65536)):
            pass  # the CEA
        before = float(READING_PAUSED._value.get())
        count = 60
        await loop.sock_sendall(
            sock, b"".join(ccr(hop_by_hop=n, end_to_end=n) for n in range(count))
        )
        for _ in range(100):  # the server stops reading once ~4 KiB wait to be written
            if float(READING_PAUSED._value.get()) > before:
                break
            await asyncio.sleep(0.05)
        assert float(READING_PAUSED._value.get()) > before
        answers: list[bytes] = []
        while len(answers) < count:  # draining lets it read, answer and finish
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
            assert data
            answers += framer.feed(data)
        assert sorted(int.from_bytes(a[12:16], "big") for a in answers) == list(range(count))
        sock.close()
