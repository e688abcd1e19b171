"""``ocs portal agent create``: an operator makes a care agent who can then sign in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ocs.api.auth import Role
from ocs.bss.database import open_database
from ocs.portal.people import People


def test_an_operator_creates_an_agent_and_resets_its_password(tmp_path: Path) -> None:
    config = tmp_path / "ocs.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n')

    def create(password: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "ocs",
                "portal",
                "agent",
                "create",
                "jo.smith",
                "--config",
                str(config),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "OCS_AGENT_PASSWORD": password},
        )

    made = create("correct horse battery", "--name", "Jo Smith")
    assert made.returncode == 0, made.stderr
    assert "agent jo.smith (care) can sign in" in made.stdout
    short = create("short")
    assert short.returncode == 2 and "password" in short.stderr
    reset = create("another long passphrase", "--role", "admin")
    assert reset.returncode == 0, reset.stderr

    db = open_database("", tmp_path / "state")
    try:
        people = People(db, lambda: 0, 3600)
        agent = people.find("jo.smith")
        assert agent is not None and agent.role is Role.ADMIN
        stored = db.rows("SELECT password_hash FROM portal_users WHERE login = 'jo.smith'")
        assert stored[0][0].startswith("$argon2")  # only a hash is kept
    finally:
        db.close()
