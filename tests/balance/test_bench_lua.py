"""The session script's phase benchmark cuts the script where its phases begin."""

from __future__ import annotations

import msgpack
import redis

from ocs.balance.scripts import load_scripts
from ocs.bench.lua import FLOOR, FLOORS, PHASES, prepared, variants


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
        for name, script in [*cut, *((name, text.encode()) for name, text in FLOORS)]:
            assert client.script_load(script), name  # a syntax error raises
    finally:
        client.close()


async def test_the_floor_reads_and_writes_the_records_the_session_script_wrote(
    redis_url: str,
) -> None:
    """The floor stands for the real script only while it runs on the real records: a changed
    record layout (no ``buckets.money`` in the account, say) makes it fail here, not in a
    benchmark run."""
    calls = await prepared(redis_url, sessions=2, rounds=1)
    client = redis.Redis.from_url(redis_url)
    try:
        for call in calls:
            numkeys = call[0]
            keys, args = call[1 : 1 + numkeys], call[1 + numkeys :]
            stream = keys[7]
            events = client.xlen(stream)
            rows = client.eval(FLOOR, numkeys, *keys, *args)
            assert msgpack.unpackb(rows, raw=True) == msgpack.unpackb(args[0], raw=True)[9]
            assert client.xlen(stream) == events + 1
            session = msgpack.unpackb(client.get(keys[0]), raw=True, strict_map_key=False)
            assert session[1] == 1  # its request number, as the CCR-U set it
    finally:
        client.close()
