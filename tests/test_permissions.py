"""Customer data is the service user's alone: what `ocs serve` and `ocs billing ...` write
(ledger, invoices, settlement files, token key, metrics, locks) is 0600 under 0700
directories. On 94cca2e the ledger, invoices and settlement files were 0644 in a 0755
state dir."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ocs.balance.engine import RedisTarget
from ocs.balance.store import BalanceStore
from ocs.config import BalanceConfig
from tests.billing.accounts import november_usage, postpaid
from tests.support.ports import free_port
from tests.support.serve import DEMO_CATALOG, ServeProcess

pytestmark = pytest.mark.slow


def ocs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocs", *args], capture_output=True, text=True, timeout=120
    )


async def test_everything_ocs_writes_is_private(tmp_path: Path, redis_url: str) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)  # as an earlier version left it
    state.chmod(0o755)
    config = tmp_path / "ocs.toml"
    config.write_text(
        f'state_dir = "{state}"\ncatalog = "{DEMO_CATALOG}"\n[redis]\nurl = "{redis_url}"\n'
        f'[metrics]\nlisten = "127.0.0.1:0"\n[grpc]\nlisten = "127.0.0.1:0"\n'
        f'[diameter]\nlisten = "127.0.0.1:{free_port()}"\n[billing]\nenabled = true\n'
    )
    store = BalanceStore(RedisTarget(url=redis_url), BalanceConfig(), 64)
    await store.start()
    try:
        ids = await postpaid(store, "4936001", offers=["payg", "voice_pack"])
        await november_usage(store, ids, "perm")
    finally:
        await store.stop()
    server = ServeProcess(config).start()
    try:
        server.wait_ready()
        assert "state dir was readable by others, now private" in server.output
    finally:
        assert server.stop() == 0, server.output
    common = ("--period", "2026-11", "--config", str(config))
    for command in (("run", "--as-of", "2026-12-02"), ("settle",), ("reconcile",)):
        result = ocs("billing", *command, *common)
        assert result.returncode == 0, result.stderr
    written = [p for p in state.rglob("*") if not p.is_socket()]
    kinds = {p.suffix for p in written if p.is_file()}
    assert {".db", ".pdf", ".json", ".csv", ".key"} <= kinds, kinds  # ledger, documents, key
    loose = {
        str(p.relative_to(state)): oct(p.stat().st_mode & 0o777)
        for p in [state, *written]
        if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    }
    assert not loose, f"readable by others: {loose}"
