from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ocs import __version__


def run_ocs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocs", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_serve_command() -> None:
    result = run_ocs("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "Online Charging System" in result.stdout


def test_version_prints_the_package_version() -> None:
    result = run_ocs("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ocs {__version__}"


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "ocs"  # the venv's console script, not PATH's
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"ocs {__version__}"


def test_unknown_command_is_a_usage_error() -> None:
    result = run_ocs("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
