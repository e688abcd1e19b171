"""Logging set-up: one line per event, UTC timestamps, ``key=value`` details.

Lines look like::

    2026-11-22T12:00:00.123Z INFO ocs.diameter: listening transport=tcp address=127.0.0.1:3868

so that an operator can grep by logger, level or key.
"""

from __future__ import annotations

import logging
import sys
import time

_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
_DATEFMT = "%Y-%m-%dT%H:%M:%S"


def setup(level: str = "info", worker: int | None = None) -> None:
    """Route all ocs logs to stderr in the operator format; a worker of ``--workers`` tags its
    lines with its index (``ocs.diameter[w1]: ...``)."""
    line = _FORMAT if worker is None else _FORMAT.replace("%(name)s", f"%(name)s[w{worker}]")
    formatter = logging.Formatter(line, _DATEFMT)
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
