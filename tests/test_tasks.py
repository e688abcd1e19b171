"""Stopping background tasks: their cancellation is absorbed, the caller's own is not."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from ocs.tasks import cancel_and_wait


async def test_cancelled_tasks_are_waited_for_and_their_cancellation_absorbed() -> None:
    ended: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append(name)

    tasks = [asyncio.create_task(worker(n)) for n in ("a", "b")]
    await asyncio.sleep(0)
    await cancel_and_wait([*tasks, None])
    assert sorted(ended) == ["a", "b"] and all(t.cancelled() for t in tasks)


async def test_a_stop_that_is_itself_cancelled_raises_instead_of_carrying_on() -> None:
    release = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await release.wait()  # e.g. a client closing its socket

    after_stop: list[str] = []

    async def stopper(task: asyncio.Task[None]) -> None:
        await cancel_and_wait([task])
        after_stop.append("went on")

    inner = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    outer = asyncio.create_task(stopper(inner))
    await asyncio.sleep(0)
    outer.cancel()  # lands while it waits for ``inner``
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert after_stop == []


async def test_a_task_that_failed_does_not_keep_the_others_from_being_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ended: list[str] = []

    async def broken() -> None:
        raise RuntimeError("boom")

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.05)  # some cleanup
            ended.append("slow")

    failed = asyncio.create_task(broken())
    slow = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    await cancel_and_wait([failed, slow])
    assert ended == ["slow"] and slow.done()
    assert "task ended with an error while stopping" in caplog.text and "boom" in caplog.text


async def test_a_cancelled_stop_still_lets_every_task_finish_its_cleanup() -> None:
    """A gRPC stream whose client went away: its handler is cancelled while it stops its
    reader and workers; each of them still ends (within the grace time) before the cancel
    goes on."""
    ended: list[int] = []

    async def worker(n: int) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.01 * n)
            ended.append(n)

    tasks = [asyncio.create_task(worker(n)) for n in range(3)]
    await asyncio.sleep(0)
    stopper = asyncio.create_task(cancel_and_wait(tasks))
    await asyncio.sleep(0)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert sorted(ended) == [0, 1, 2]


@pytest.mark.parametrize("status", [0, 1])
def test_a_loop_close_that_hangs_ends_the_process_after_the_timeout(status: int) -> None:
    """Stands in for uvloop's close waiting on a socket a library left open: the guard logs
    why and exits with the status it was given (1 after a failed start)."""
    code = (
        "import logging, sys, time\n"
        "from ocs.tasks import exit_if_close_hangs\n"
        "logging.basicConfig(stream=sys.stderr)\n"
        f"exit_if_close_hangs(0.5, logging.getLogger('ocs.app'), {status})\n"
        "time.sleep(30)  # the close that never returns\n"
        "print('not reached')\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == status and "not reached" not in result.stdout
    assert "event loop did not close within" in result.stderr
    assert time.monotonic() - started < 10


def test_a_loop_close_that_returns_cancels_the_guard() -> None:
    code = (
        "import logging, time\n"
        "from ocs.tasks import exit_if_close_hangs\n"
        "guard = exit_if_close_hangs(0.3, logging.getLogger('ocs.app'))\n"
        "guard.cancel()\n"
        "time.sleep(0.6)\n"
        "print('still running')\n"
        "raise SystemExit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20
    )
    assert (result.returncode, result.stdout.strip()) == (3, "still running")
