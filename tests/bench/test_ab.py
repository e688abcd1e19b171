"""`python -m ocs.bench.ab OTHER`: both sides loaded the same way, per-CCR CPU, Redis commands
and ratios printed, balances verified by each side's own code (here both sides are this
checkout, so the run is short and the ratios near 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ocs.bench import ab

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ab_runs_both_sides_and_prints_what_each_costs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = ab.main(
        [str(ROOT), "--rounds", "1", "--duration", "2", "--warmup", "0.5", "--in-flight", "10"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ab: balances exact in every round" in out
    rows = re.findall(r"^  ([AB]) +([\d,]+) CCR/s .* total +([\d.]+) us", out, re.M)
    assert sorted(side for side, _, _ in rows) == ["A", "B"]
    assert all(int(rate.replace(",", "")) > 0 and float(us) > 0 for _, rate, us in rows)
    # every CCR runs one script; the commands it runs inside are counted too
    per_ccr = re.findall(r"redis commands per CCR ([\d.]+): .*evalsha ([\d.]+)", out)
    assert len(per_ccr) == 2 and all(float(e) >= 0.9 for _, e in per_ccr)
    ratio = re.search(r"within each round \(server\+redis, redis\): ([\d.]+)", out)
    assert ratio is not None and float(ratio.group(1)) > 0
