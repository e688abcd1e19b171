"""The embedded redis-server loses no acknowledged write when it is killed (issue 15).

With redis' own ``appendfsync everysec``, a kill -9 while its background fsync is slow loses
writes it already answered (CI lost a charge that way). The embedded server writes each command
to the AOF before answering and ocs fsyncs the file once a second (:mod:`ocs.redis_aof`).

The slow disk is real: ``strace`` fault injection makes every fsync/fdatasync of redis-server
take 0.9 s, so a kill almost always lands while one is running.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from ocs.embedded_redis import EmbeddedRedis
from ocs.redis_aof import current_aof
from ocs.redis_server import find_redis_server

STRACE = shutil.which("strace")
DEBIAN_REDIS = Path("/usr/bin/redis-server")


def binaries() -> list[Path]:
    found = [find_redis_server("")]
    if DEBIAN_REDIS.exists():
        found.append(DEBIAN_REDIS)  # redis 7: the multi-part AOF with its manifest
    return found


def slow_disk_wrapper(tmp_path: Path, binary: Path) -> Path:
    assert STRACE, "strace is installed by .ci/run"
    wrapper = tmp_path / "redis-server-slow-fsync"
    slow = "-e trace=fdatasync,fsync -e inject=fdatasync,fsync:delay_enter=900000"
    wrapper.write_text(f'#!/bin/sh\nexec {STRACE} -f -qq -o /dev/null {slow} {binary} "$@"\n')
    wrapper.chmod(0o700)
    return wrapper


@pytest.mark.parametrize("binary", binaries(), ids=lambda path: path.parent.parent.name)
async def test_kill_9_on_a_slow_disk_loses_no_acknowledged_write(
    tmp_path: Path, binary: Path
) -> None:
    embedded = EmbeddedRedis(tmp_path / "state", str(slow_disk_wrapper(tmp_path, binary)))
    await embedded.start()
    try:
        assert embedded.server is not None
        with embedded.server.client() as client:
            acknowledged = 0
            loop = asyncio.get_running_loop()
            until = loop.time() + 2.5  # past the first background fsync, into the second
            while loop.time() < until:
                acknowledged = int(client.incr("charges"))
                if acknowledged % 200 == 0:
                    await asyncio.sleep(0)  # let the syncer run, as the server would
        redis_pid = int((embedded.server.directory / "redis.pid").read_text())
        embedded.server.binary = binary  # restarted at full speed: the test is the kill
        os.kill(redis_pid, signal.SIGKILL)
        await asyncio.wait_for(embedded.restarted.wait(), 30)
        with embedded.server.client() as client:
            assert int(client.get("charges") or 0) == acknowledged
    finally:
        await embedded.stop()


@pytest.mark.parametrize("binary", binaries(), ids=lambda path: path.parent.parent.name)
async def test_ocs_fsyncs_the_file_redis_appends_to(tmp_path: Path, binary: Path) -> None:
    embedded = EmbeddedRedis(tmp_path / "state", str(binary))
    await embedded.start()
    try:
        assert embedded.server is not None and embedded.syncer is not None
        directory = embedded.server.directory
        assert "appendfsync no" in (directory / "redis.conf").read_text()
        with embedded.server.client() as client:
            client.set("balance", "1" * 1000)
            aof = current_aof(directory)
            assert aof is not None
            written = aof.stat().st_size
            await embedded.syncer.sync_once()
            assert embedded.syncer.synced == (aof, written)
            client.execute_command("BGREWRITEAOF")  # redis 7 moves on to a new file
            loop = asyncio.get_running_loop()
            until = loop.time() + 20
            while (
                client.info("persistence")["aof_rewrite_in_progress"]
                or (client.info("persistence")["aof_rewrite_scheduled"])
            ):
                assert loop.time() < until, "AOF rewrite did not finish"
                await asyncio.sleep(0.05)
            client.set("balance", "2")
        aof = current_aof(directory)
        assert aof is not None
        await embedded.syncer.sync_once()
        assert embedded.syncer.synced == (aof, aof.stat().st_size)
        assert embedded.syncer.failures == 0
    finally:
        await embedded.stop()
