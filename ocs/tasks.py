"""Stopping background tasks without swallowing the caller's own cancellation, and an event
loop close that cannot hang the process."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

_log = logging.getLogger("ocs.tasks")
CANCEL_GRACE_S = 1.0


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any] | None]) -> None:
    """Cancel ``tasks`` and wait until every one has ended.

    Their ``CancelledError`` is expected and dropped; an error a task ended with is logged, not
    raised (it must not keep the others from being waited for). If the caller itself is
    cancelled while it waits, the tasks get ``CANCEL_GRACE_S`` more to end, then the caller's
    cancel is raised: a stop that is cancelled still ends (callers close what they own in a
    ``finally``)."""
    pending = [task for task in tasks if task is not None]
    if not pending:
        return
    for task in pending:
        task.cancel()
    current = asyncio.current_task()
    before = current.cancelling() if current is not None else 0
    try:
        await asyncio.wait(pending)
    except asyncio.CancelledError:
        await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
        raise
    for task in pending:
        if not task.cancelled() and task.exception() is not None:
            _log.error("task ended with an error while stopping", exc_info=task.exception())
    if current is not None and current.cancelling() > before:
        raise asyncio.CancelledError  # a cancel of ours that something swallowed


def raise_if_cancelling() -> None:
    """End the current task if a cancel was requested that something below swallowed (on
    Python 3.11, ``asyncio.wait_for`` drops one that lands as its awaitable completes)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def exit_if_close_hangs(timeout_s: float, log: logging.Logger, status: int = 0) -> threading.Timer:
    """Call as the last thing before the event loop closes, once everything has stopped.

    uvloop's ``loop.close()`` runs its loop until every handle is closed, so a socket some
    library left open (seen: a redis-py cluster client reconnecting after it was closed) would
    keep a stopped server from ever exiting. If the close (of the runner: its leftover tasks and
    the loop) takes longer than ``timeout_s``, the process says so and exits with ``status``
    (0 after a clean stop, 1 after a failed start): nothing is left to stop or flush."""

    def expire() -> None:
        log.warning(
            "event loop did not close within %.0fs (a connection left open); exiting", timeout_s
        )
        logging.shutdown()
        os._exit(status)

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    timer.start()
    return timer
