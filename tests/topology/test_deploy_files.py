"""deploy/: the systemd units are valid and run commands that exist; the script parses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def test_there_are_units_for_ocs_and_the_bridge() -> None:
    names = {unit.name for unit in UNITS}
    assert {"ocs.service", "ocs-billing-bridge.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_units_run_an_ocs_command_that_exists(unit: Path) -> None:
    text = unit.read_text()
    assert "User=" in text and "NoNewPrivileges=yes" in text and "UMask=0077" in text
    (exec_start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    command = exec_start.removeprefix("ExecStart=").split()
    if not command[0].endswith("/ocs"):
        return  # redis-server's unit
    help_run = subprocess.run(
        [sys.executable, "-m", "ocs", command[1], "--help"], capture_output=True, text=True
    )
    assert help_run.returncode == 0, help_run.stderr
    for option in [word for word in command[2:] if word.startswith("--")]:
        assert option in help_run.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_finds_nothing_wrong_but_the_install_paths(tmp_path: Path) -> None:
    run = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, UNITS)],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    problems = [
        line
        for line in (run.stdout + run.stderr).splitlines()
        if line.strip() and "is not executable: No such file or directory" not in line
    ]
    assert not problems, problems


def test_the_local_cluster_script_parses() -> None:
    script = DEPLOY / "local-cluster.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
