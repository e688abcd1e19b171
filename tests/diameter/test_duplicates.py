"""The duplicate cache answers retransmissions identically and stays bounded."""

from __future__ import annotations

from ocs.diameter.duplicates import DuplicateCache, with_hop_by_hop
from tests.diameter.messages import ccr


def test_a_finished_request_is_answered_identically_with_the_new_hop_by_hop() -> None:
    cache = DuplicateCache(size_per_host=10, ttl=60)
    entry = cache.begin("pgw", 7, now=0)
    answer = ccr(hop_by_hop=1)
    cache.finish("pgw", 7, entry, answer)
    seen = cache.seen("pgw", 7, now=1)
    assert seen is entry and seen.answer == answer
    again = with_hop_by_hop(answer, 0xABCDEF01)
    assert again[12:16] == bytes.fromhex("abcdef01") and again[16:] == answer[16:]
    assert cache.seen("other-host", 7, now=1) is None
    assert cache.seen("pgw", 8, now=1) is None


def test_retransmissions_during_handling_wait_for_the_first_answer() -> None:
    cache = DuplicateCache(size_per_host=10, ttl=60)
    entry = cache.begin("pgw", 7, now=0)
    sent: list[bytes] = []
    seen = cache.seen("pgw", 7, now=0.5)
    assert seen is entry and seen.answer is None
    seen.waiters.append((0x99, sent.append))
    cache.finish("pgw", 7, entry, ccr(hop_by_hop=1))
    assert [s[12:16] for s in sent] == [bytes.fromhex("00000099")]


def test_an_answer_not_worth_keeping_forgets_the_request() -> None:
    cache = DuplicateCache(size_per_host=10, ttl=60)
    entry = cache.begin("pgw", 7, now=0)
    cache.finish("pgw", 7, entry, None)
    assert cache.seen("pgw", 7, now=0) is None


def test_entries_expire_and_are_bounded_per_host_and_in_hosts() -> None:
    cache = DuplicateCache(size_per_host=3, ttl=60, max_hosts=2)
    for e2e in range(10):
        cache.finish("pgw", e2e, cache.begin("pgw", e2e, now=e2e), b"x")
    assert len(cache) == 3
    assert cache.seen("pgw", 9, now=9) is not None
    assert cache.seen("pgw", 9, now=100) is None  # older than ttl
    cache.begin("b", 1, now=0)
    cache.begin("c", 1, now=0)
    assert cache.seen("pgw", 8, now=9) is None  # least recently used host dropped
