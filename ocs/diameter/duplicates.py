"""Duplicate detection (RFC 6733 sections 3 and 6.1.1), within one process.

A request is a duplicate of an earlier one when it has the same End-to-End id
and the same Origin-Host, whether or not the T flag says so. The cache keeps,
per Origin-Host, the answer to each recent request (or the list of
retransmissions waiting while the first is still being handled) so a duplicate
gets the identical answer without the handler running again; only the
hop-by-hop id differs. Bounded in size per Origin-Host and in hosts, and in
time. Duplicates arriving at another ocs process are the application's concern
(it keeps results in Redis, keyed by Session-Id and CC-Request-Number).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable

_HOP_BY_HOP = struct.Struct(">I")

Waiter = Callable[[bytes], None]
"""Sends an answer (already carrying the waiter's hop-by-hop id)."""


class Entry:
    __slots__ = ("answer", "created", "waiters")

    def __init__(self, created: float) -> None:
        self.created = created
        self.answer: bytes | None = None
        self.waiters: list[tuple[int, Waiter]] = []


def with_hop_by_hop(answer: bytes, hop_by_hop: int) -> bytes:
    return answer[:12] + _HOP_BY_HOP.pack(hop_by_hop) + answer[16:]


class DuplicateCache:
    def __init__(self, size_per_host: int, ttl: float, max_hosts: int = 1024) -> None:
        self.size_per_host = size_per_host
        self.ttl = ttl
        self.max_hosts = max_hosts
        self._hosts: OrderedDict[str, OrderedDict[int, Entry]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.size_per_host > 0

    def seen(self, origin_host: str, end_to_end: int, now: float) -> Entry | None:
        """The entry of an earlier request with these ids, if still remembered."""
        entries = self._hosts.get(origin_host)
        if entries is None:
            return None
        entry = entries.get(end_to_end)
        if entry is not None and now - entry.created > self.ttl:
            del entries[end_to_end]
            return None
        return entry

    def begin(self, origin_host: str, end_to_end: int, now: float) -> Entry:
        """Remember a request now being handled."""
        entries = self._hosts.get(origin_host)
        if entries is None:
            if len(self._hosts) >= self.max_hosts:
                self._hosts.popitem(last=False)
            entries = self._hosts[origin_host] = OrderedDict()
        else:
            self._hosts.move_to_end(origin_host)
            while entries:  # expire from the oldest end
                oldest = next(iter(entries.values()))
                if now - oldest.created <= self.ttl and len(entries) < self.size_per_host:
                    break
                entries.popitem(last=False)
        entry = entries[end_to_end] = Entry(now)
        return entry

    def finish(self, origin_host: str, end_to_end: int, entry: Entry, answer: bytes | None) -> None:
        """The first request got ``answer``: send it to the waiting retransmissions,
        and keep it for later ones (``None``: forget the request, e.g. a 3004)."""
        for hop_by_hop, send in entry.waiters:
            if answer is not None:
                send(with_hop_by_hop(answer, hop_by_hop))
        entry.waiters.clear()
        if answer is None:
            entries = self._hosts.get(origin_host)
            if entries is not None and entries.get(end_to_end) is entry:
                del entries[end_to_end]
        else:
            entry.answer = answer

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._hosts.values())
