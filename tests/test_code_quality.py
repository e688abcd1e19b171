"""The package passes ruff and mypy (configured in pyproject.toml), so CI keeps them true; the
balance package keeps no import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "ocs", "tests", "loadtests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports, at run time or for type checking."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if name.startswith(package + ".")}
    return found


def test_the_balance_package_has_no_import_cycle() -> None:
    """The engine, identity index and pub/sub were a cycle (issue 16): each module of
    ocs.balance may import only modules that do not import it back, even for type checking."""
    modules = {f"ocs.balance.{path.stem}": path for path in (ROOT / "ocs" / "balance").glob("*.py")}
    graph = {
        name: {m for m in _imports(path, "ocs.balance") if m in modules and m != name}
        for name, path in modules.items()
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, {name}))
    assert not cycles, f"modules in an import cycle: {cycles}"
