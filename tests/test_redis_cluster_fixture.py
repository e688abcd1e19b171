from __future__ import annotations

import pytest

from tests.support.redis_cluster import RedisClusterProcesses

pytestmark = pytest.mark.cluster


def test_cluster_has_three_masters_covering_every_slot(
    redis_cluster: RedisClusterProcesses,
) -> None:
    client = redis_cluster.client()
    try:
        masters = {node.name for node in client.get_primaries()}
        assert len(masters) == 3
        # hash tags that land on different masters all work through one client
        owners = set()
        for tag in range(64):
            key = f"k:{{{tag}}}"
            client.set(key, tag)
            owners.add(client.get_node_from_key(key).name)
            assert client.get(key) == str(tag).encode()
        assert owners == masters
    finally:
        client.close()
