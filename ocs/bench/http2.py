"""HTTP/2 servers for Nchf, measured side by side: POST with a JSON body, JSON answer.

Run with ``make bench-http2`` (needs ``h2load``, Debian's nghttp2-client). Candidates:

* granian (Rust, embedded in the asyncio loop: ``granian.server.embed``), RSGI and ASGI;
* hypercorn (pure Python, on h2 + ASGI), ``hypercorn.asyncio.serve``;
* a hand-written asyncio Protocol on the sans-I/O ``h2`` package (what ``ocs.nchf.http2``
  is built from).

Each server runs in its own process on uvloop with the same handler: read the body,
``json.loads`` it, build a ChargingDataResponse-sized dict, ``json.dumps`` it, answer 200.
h2load (C, one thread) loads each over cleartext HTTP/2 with prior knowledge (h2c), in turn,
in the same run; the figures are requests per second and the server's CPU microseconds per
request (utime + stime of its process from /proc, so granian's Rust threads count too).
Benchmarks are not tests: they print figures and assert nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

BODY = {
    "subscriberIdentifier": "imsi-001010000000001",
    "nfConsumerIdentification": {"nodeFunctionality": "SMF", "nFName": "smf-bench"},
    "invocationTimeStamp": "2026-11-23T10:00:00Z",
    "invocationSequenceNumber": 1,
    "notifyUri": "http://127.0.0.1:9/notify",
    "multipleUnitUsage": [
        {
            "ratingGroup": 100,
            "requestedUnit": {},
            "usedUnitContainer": [
                {"localSequenceNumber": 1, "totalVolume": 5000000, "uplinkVolume": 1000000}
            ],
        }
    ],
    "pDUSessionChargingInformation": {
        "chargingId": 1,
        "pduSessionInformation": {
            "pduSessionID": 5,
            "dnnId": "internet",
            "ratType": "NR",
            "servingCNPlmnId": {"mcc": "001", "mnc": "01"},
        },
    },
}


def answer(request: bytes) -> bytes:
    data = json.loads(request)
    units = data["multipleUnitUsage"][0]
    return json.dumps(
        {
            "invocationTimeStamp": data["invocationTimeStamp"],
            "invocationSequenceNumber": data["invocationSequenceNumber"],
            "sessionFailover": "FAILOVER_SUPPORTED",
            "multipleUnitInformation": [
                {
                    "ratingGroup": units["ratingGroup"],
                    "resultCode": "SUCCESS",
                    "grantedUnit": {"totalVolume": 10485760},
                    "validityTime": 3600,
                    "volumeQuotaThreshold": 2097152,
                }
            ],
        }
    ).encode()


# ------------------------------------------------------------------------------- servers


async def serve_h2(port: int) -> None:
    import h2.config
    import h2.connection
    import h2.events

    config = h2.config.H2Configuration(client_side=False, header_encoding=None)

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.conn = h2.connection.H2Connection(config)
            self.conn.initiate_connection()
            self.bodies: dict[int, bytearray] = {}
            transport.write(self.conn.data_to_send())

        def data_received(self, data: bytes) -> None:
            conn = self.conn
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    self.bodies[event.stream_id] = bytearray()
                elif isinstance(event, h2.events.DataReceived):
                    self.bodies[event.stream_id] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    body = answer(bytes(self.bodies.pop(event.stream_id)))
                    conn.send_headers(
                        event.stream_id,
                        [
                            (b":status", b"200"),
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    )
                    conn.send_data(event.stream_id, body, end_stream=True)
            self.transport.write(conn.data_to_send())

    server = await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", port)
    await server.serve_forever()


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = answer(body)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def rsgi_app(scope: Any, protocol: Any) -> None:
    body = await protocol()
    protocol.response_bytes(200, [("content-type", "application/json")], answer(body))


async def serve_hypercorn(port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.keep_alive_max_requests = 10**9  # its default (1000) sends GOAWAY, h2load stops
    await serve(asgi_app, config)  # type: ignore[arg-type]


async def serve_granian(port: int, interface: str) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    target = rsgi_app if interface == "rsgi" else asgi_app
    server = Server(
        target,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGI,
        http=HTTPModes.http2,
        log_enabled=False,
    )
    await server.serve()


SERVERS = {
    "granian-rsgi": lambda port: serve_granian(port, "rsgi"),
    "granian-asgi": lambda port: serve_granian(port, "asgi"),
    "hypercorn": serve_hypercorn,
    "h2-protocol": serve_h2,
}


# ------------------------------------------------------------------------------- driver


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not listen within 20 s")


def measure(name: str, requests: int, clients: int, streams: int, body_file: str) -> str:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", name, "--port", str(port)],
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        h2load = [
            "h2load",
            "-t",
            "1",
            "-c",
            str(clients),
            "-m",
            str(streams),
            "-d",
            body_file,
            "-H",
            "content-type: application/json",
        ]
        url = f"http://127.0.0.1:{port}/nchf-convergedcharging/v3/chargingdata"
        # warm up (imports, JIT-free but caches and allocators), then measure
        subprocess.run([*h2load, "-n", str(requests // 10), url], capture_output=True, check=True)
        cpu_before = _cpu(process.pid)
        run = subprocess.run([*h2load, "-n", str(requests), url], capture_output=True, text=True)
        cpu = _cpu(process.pid) - cpu_before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    output = run.stdout
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", output)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", output)
    latency = re.search(r"time for request:\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)", output)
    if rate is None or done is None:
        return f"{name:14} failed: {output[-400:]} {run.stderr[-400:]}"
    succeeded = int(done.group(2))
    return (
        f"{name:14} {float(rate.group(1)):>9,.0f} req/s  "
        f"{cpu / max(succeeded, 1) * 1e6:>6.0f} us server CPU/req  "
        f"{succeeded}/{requests} 2xx  "
        f"latency min/max/mean {latency.groups() if latency else '?'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=sorted(SERVERS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--streams", type=int, default=16, help="concurrent streams per client")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.serve:
        import uvloop

        uvloop.run(SERVERS[args.serve](args.port))
        return
    if shutil.which("h2load") is None:
        raise SystemExit("bench-http2 needs h2load: apt install nghttp2-client")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as body:
        json.dump(BODY, body)
    print(
        f"HTTP/2 (h2c prior knowledge) POST {len(json.dumps(BODY))} B JSON, "
        f"{args.requests} requests, {args.clients} connections x {args.streams} streams, "
        f"h2load -t 1; {os.cpu_count()} cores",
        flush=True,
    )
    try:
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}", flush=True)
            for name in SERVERS:
                print("  " + measure(name, args.requests, args.clients, args.streams, body.name))
    finally:
        os.unlink(body.name)


if __name__ == "__main__":
    main()
