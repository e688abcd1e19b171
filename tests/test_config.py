"""Config errors name the file (or environment variable), the key and the problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocs import config
from ocs.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ocs.toml"
    path.write_text(text)
    return path


def load_error(path: Path | None, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config.load(path, environ or {})
    return info.value


def test_demo_config_loads_with_the_documented_listeners() -> None:
    cfg = config.load(Path("config/ocs.toml"), {})
    assert cfg.diameter.listen == "127.0.0.1:3868"
    assert cfg.grpc.listen == "127.0.0.1:50051"
    assert cfg.metrics.listen == "127.0.0.1:9464"
    assert cfg.redis.url == ""  # embedded default


def test_unknown_key_is_named_with_its_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[diameter]\nlisten = '127.0.0.1:3868'\norigin_hots = 'x'\n")
    error = load_error(path)
    assert str(error) == f"{path}: diameter.origin_hots: unknown key"


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[diameterr]\nlisten = 'x'\n"))
    assert error.key == "diameterr"
    assert error.problem == "unknown key"


def test_wrong_type_says_what_was_expected_and_given(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[redis]\npartitions = '64'\n"))
    assert error.key == "redis.partitions"
    assert "valid integer" in error.problem
    assert "'64'" in error.problem


def test_out_of_range_value(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[redis]\npartitions = 0\n"))
    assert error.key == "redis.partitions"
    assert "greater than or equal to 1" in error.problem


def test_port_out_of_range(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[diameter]\nlisten = '127.0.0.1:70000'\n"))
    assert error.key == "diameter.listen"
    assert "70000" in error.problem and "out of range" in error.problem


def test_bad_network_in_a_list_is_located_by_index(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[diameter]\nallowed_networks = ['127.0.0.0/8', 'nope']\n"))
    assert error.key == "diameter.allowed_networks[1]"
    assert "not an IP network" in error.problem


def test_redis_url_scheme_is_checked(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[redis]\nurl = 'http://x'\n"))
    assert error.key == "redis.url"
    assert "redis://" in error.problem


def test_url_and_cluster_together_are_rejected(tmp_path: Path) -> None:
    error = load_error(
        write(tmp_path, "[redis]\nurl = 'redis://x'\ncluster_nodes = ['127.0.0.1:7000']\n")
    )
    assert error.key == "redis"
    assert "either url or cluster_nodes" in error.problem


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    error = load_error(missing)
    assert error.source == str(missing)
    assert "cannot read file" in error.problem


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "[redis\nurl = 1\n"))
    assert "not valid TOML" in error.problem
    assert "line 1" in error.problem


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "state_dir = 'a'\n[redis]\nurl = ''\n")
    cfg = config.load(
        path,
        {
            "OCS_STATE_DIR": "/srv/ocs",
            "OCS_REDIS_URL": "redis://:pw@10.0.0.5:6379/0",
            "OCS_DIAMETER_LISTEN": "0.0.0.0:3869",
            "OCS_GRPC_LISTEN": "[::1]:50052",
            "OCS_METRICS_LISTEN": "127.0.0.1:9999",
            "OCS_DIAMETER_ALLOWED_PEERS": "pgw1.example.net, pgw2.example.net",
            "OCS_METRICS_ENABLED": "false",
            "OCS_REDIS_PARTITIONS": "128",
        },
    )
    assert cfg.state_dir == Path("/srv/ocs")
    assert cfg.redis.url == "redis://:pw@10.0.0.5:6379/0"
    assert cfg.diameter.listen == "0.0.0.0:3869"
    assert config.split_listen(cfg.grpc.listen) == ("::1", 50052)
    assert cfg.metrics.listen == "127.0.0.1:9999"
    assert cfg.diameter.allowed_peers == ["pgw1.example.net", "pgw2.example.net"]
    assert cfg.metrics.enabled is False
    assert cfg.redis.partitions == 128


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    error = load_error(None, {"OCS_REDIS_PARTITIONS": "many"})
    assert error.source == "environment OCS_REDIS_PARTITIONS"
    assert error.key == "redis.partitions"
    error = load_error(None, {"OCS_DIAMETER_LISTEN": "localhost:99999"})
    assert error.source == "environment OCS_DIAMETER_LISTEN"
    assert "out of range" in error.problem


def test_the_invoice_issuer_and_payment_terms_come_from_the_file_or_the_environment(
    tmp_path: Path,
) -> None:
    demo = config.load(Path("config/ocs.toml"), {})
    assert demo.billing.issuer.name and demo.billing.issuer.vat_id and demo.billing.payment.iban
    path = write(
        tmp_path,
        "[billing.issuer]\nname = 'Zażółć Telecom S.A.'\naddress = ['ul. Prosta 1', 'Warszawa']\n"
        "[billing.payment]\nterms_days = 30\n",
    )
    cfg = config.load(
        path,
        {
            "OCS_BILLING_ISSUER_VAT_ID": "PL5260250274",
            "OCS_BILLING_PAYMENT_IBAN": "PL61 1090 1014 0000 0712 1981 2874",
            "OCS_BILLING_PAYMENT_TERMS_DAYS": "7",
        },
    )
    assert cfg.billing.issuer.name == "Zażółć Telecom S.A."
    assert cfg.billing.issuer.address == ["ul. Prosta 1", "Warszawa"]
    assert cfg.billing.issuer.vat_id == "PL5260250274"
    assert (cfg.billing.payment.terms_days, cfg.billing.payment.iban[:4]) == (7, "PL61")
    assert config.load(write(tmp_path, ""), {}).billing.payment.terms_days == 14  # default


def test_a_mistyped_iban_or_bic_is_refused_by_name(tmp_path: Path) -> None:
    error = load_error(None, {"OCS_BILLING_PAYMENT_IBAN": "PL62 1090 1014 0000 0712 1981 2874"})
    assert (error.source, error.key) == (
        "environment OCS_BILLING_PAYMENT_IBAN",
        "billing.payment.iban",
    )
    assert "check digits" in error.problem
    error = load_error(write(tmp_path, "[billing.payment]\nbic = 'cobadeff'\n"))
    assert error.key == "billing.payment.bic" and "not a BIC" in error.problem
    error = load_error(write(tmp_path, "[billing.payment]\nterms_days = -1\n"))
    assert error.key == "billing.payment.terms_days"


def test_a_misspelt_variable_is_an_error_naming_it_and_the_right_one(tmp_path: Path) -> None:
    """A typo in an override used to be ignored without a word: the default was served."""
    path = write(tmp_path, "[metrics]\nenabled = false\n")
    result = subprocess.run(
        [sys.executable, "-m", "ocs", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OCS_DIAMETR_LISTEN": "127.0.0.1:0"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ocs: config error: environment OCS_DIAMETR_LISTEN: no such setting "
        "(did you mean OCS_DIAMETER_LISTEN?)"
    )
    error = load_error(None, {"OCS_BALANCE_RETRY": "3"})
    assert error.source == "environment OCS_BALANCE_RETRY"
    assert "OCS_BALANCE_RETRIES" in error.problem
    # the API commands' variables and the load tests' are not settings, and are allowed
    allowed = {"OCS_TOKEN": "t", "OCS_SERVER": "127.0.0.1:1", "OCS_LOAD_MIX": "sms"}
    assert config.load(None, allowed).workers == 1


def test_ocs_config_variable_selects_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "log_level = 'debug'\n")
    assert config.load(None, {"OCS_CONFIG": str(path)}).log_level == "debug"


def test_serve_with_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[metrics]\nlisten = 9464\n")
    result = subprocess.run(
        [sys.executable, "-m", "ocs", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ocs: config error: {path}: metrics.listen: ")
    assert "Traceback" not in result.stderr


def test_catalog_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "catalog = 'offers.toml'\n")
    assert config.load(path, {}).catalog == tmp_path / "offers.toml"
    assert config.load(Path("config/ocs.toml"), {}).catalog == Path("config/catalog.toml")


def test_serve_with_a_broken_catalog_exits_2_naming_the_catalog_path(tmp_path: Path) -> None:
    (tmp_path / "catalog.toml").write_text(
        Path("config/catalog.toml").read_text().replace('service = "voice"', 'service = "vocie"', 1)
    )
    path = write(tmp_path, "catalog = 'catalog.toml'\n")
    result = subprocess.run(
        [sys.executable, "-m", "ocs", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ocs: config error: {tmp_path / 'catalog.toml'}: offers.payg.rates[3].service: "
        "unknown service 'vocie'"
    )
