"""The session script's phase benchmark cuts the script where its phases begin."""

from __future__ import annotations

import redis

from ocs.balance.bench_lua import PHASES, variants
from ocs.balance.scripts import load_scripts


def test_every_phase_cut_is_found_and_each_variant_compiles(redis_url: str) -> None:
    text = load_scripts()["session"].text.decode()
    cut = variants(text)
    assert [name for name, _ in cut] == [name for name, _ in PHASES]
    assert cut[-1][1] == text.encode()  # the last phase runs the whole script
    cuts = [script.count(b"do return 'cut' end") for _, script in cut]
    assert cuts == [1] * (len(PHASES) - 1) + [0]
    # each cut comes later in the script than the one before
    offsets = [script.index(b"do return 'cut' end") for _, script in cut[:-1]]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    client = redis.Redis.from_url(redis_url)
    try:
        for name, script in cut:
            assert client.script_load(script), name  # a syntax error raises
    finally:
        client.close()
