"""Stopping background tasks: their cancellation is absorbed, the caller's own is not."""

from __future__ import annotations

import asyncio

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
