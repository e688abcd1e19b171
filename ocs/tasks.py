"""Stopping background tasks without swallowing the caller's own cancellation, and an event
loop close that cannot hang the process."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any] | None]) -> None:
    """Cancel ``tasks`` and wait until each has ended.

    Their ``CancelledError`` is expected and dropped; one aimed at the caller (its own task was
    cancelled while it waited) is raised again, so a stop that is itself cancelled still ends.
    """
    pending = [task for task in tasks if task is not None]
    for task in pending:
        task.cancel()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


def exit_if_close_hangs(timeout_s: float, log: logging.Logger) -> threading.Timer:
    """Call as the last thing before the event loop closes, once everything has stopped.

    uvloop's ``loop.close()`` runs its loop until every handle is closed, so a socket some
    library left open (seen: a redis-py cluster client reconnecting after it was closed) would
    keep a stopped server from ever exiting. If the close takes longer than ``timeout_s``, the
    process says so and exits with status 0: nothing is left to stop or flush."""

    def expire() -> None:
        log.warning(
            "event loop did not close within %.0fs (a connection left open); exiting", timeout_s
        )
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    timer.start()
    return timer
