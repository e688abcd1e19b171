"""The [nchf] table: the demo serves Nchf on its documented port; mistakes name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocs import config
from ocs.errors import ConfigError


def test_the_demo_config_serves_nchf_on_8090() -> None:
    cfg = config.load(Path("config/ocs.toml"), {})
    assert cfg.nchf.enabled and cfg.nchf.listen == "127.0.0.1:8090"
    assert not cfg.nchf.nrf_uri  # no NRF unless one is named


def test_nchf_is_off_unless_a_config_turns_it_on() -> None:
    assert not config.load(None, {"OCS_CONFIG": "/dev/null"}).nchf.enabled


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('tls_listen = "127.0.0.1:8443"', "nchf", "tls_listen needs tls_cert and tls_key"),
        ('nrf_uri = "nrf:8000"', "nchf.nrf_uri", "must be an http:// or https:// URI"),
        ('api_prefix = "chf"', "nchf.api_prefix", "must be a path starting with /"),
        ("max_body = 10", "nchf.max_body", "greater than or equal to 1024"),
        ('listen = "127.0.0.1:99999"', "nchf.listen", "out of range"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = tmp_path / "ocs.toml"
    path.write_text(f"[nchf]\n{text}\n")
    with pytest.raises(ConfigError) as info:
        config.load(path, {})
    assert info.value.key == key and problem in info.value.problem, info.value


def test_environment_overrides() -> None:
    cfg = config.load(None, {"OCS_NCHF_ENABLED": "true", "OCS_NCHF_LISTEN": "127.0.0.1:0"})
    assert cfg.nchf.enabled and cfg.nchf.listen == "127.0.0.1:0"
