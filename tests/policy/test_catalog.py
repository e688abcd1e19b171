"""The catalog loads the demo file and reports every mistake with file, path and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocs.errors import ConfigError
from ocs.policy.catalog import load_catalog

DEMO = Path("config/catalog.toml")

MINIMAL = """
currency = "EUR"
currency_code = 978
home_networks = ["00101"]
top_up_url = "http://topup.example/"

[services.data]
rating_group = 100
unit = "octets"
quantum = 1000

[services.voice]
rating_group = 200
unit = "seconds"
quantum = 60

[zones.eu]
networks = ["20801"]

[offers.base]
name = "Base"
kind = "base"

  [[offers.base.rates]]
  service = "data"
  block = 1000
  price = 1
"""


def load_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    load_catalog(path)


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert info.value.source == str(tmp_path / "catalog.toml")
    return info.value


def test_demo_catalog_loads_with_the_documented_rating_groups() -> None:
    catalog = load_catalog(DEMO)
    assert {rg: info.name for rg, info in catalog.services.items() if rg <= 400} == {
        100: "internet",
        200: "voice",
        300: "sms",
        400: "portal",
    }
    assert catalog.services[100].config.unit == "octets"
    assert catalog.services[200].config.unit == "seconds"
    assert catalog.services[300].config.unit == "units"
    assert catalog.zone_of("00101") == "home"
    assert catalog.zone_of("20801") == "eu"
    assert catalog.zone_of("31026") == "world"


def test_minimal_catalog_loads(tmp_path: Path) -> None:
    load_text(tmp_path, MINIMAL)


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (
            ('service = "data"', 'service = "dta"'),
            "offers.base.rates[0].service",
            "unknown service 'dta'",
        ),
        (("block = 1000", "block = 0"), "offers.base.rates[0].block", "greater than or equal to 1"),
        (("price = 1", "price = -1"), "offers.base.rates[0].price", "greater than or equal to 0"),
        (("price = 1", "price = 1.5"), "offers.base.rates[0].price", "valid integer"),
        (("quantum = 60", "quantum = 60\nquantom = 1"), "services.voice.quantom", "unknown key"),
        (
            ("rating_group = 200", "rating_group = 100"),
            "services.voice.rating_group",
            "already used",
        ),
        (('networks = ["20801"]', 'networks = ["00101"]'), "zones.eu.networks[0]", "home network"),
        (('networks = ["20801"]', 'networks = ["2080"]'), "zones.eu.networks[0]", "MCC-MNC"),
        (('kind = "base"', 'kind = "basic"'), "offers.base.kind", "'base'"),
        (('currency = "EUR"', 'currency = "euro"'), "currency", "should match pattern"),
    ],
)
def test_mistakes_name_the_path_and_problem(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    error = error_for(tmp_path, MINIMAL.replace(*change, 1))
    assert error.key == key
    assert problem in error.problem


def test_unknown_zone_in_a_rate(tmp_path: Path) -> None:
    error = error_for(
        tmp_path, MINIMAL.replace("  block = 1000", '  zone = "asia"\n  block = 1000')
    )
    assert (error.key, error.problem) == ("offers.base.rates[0].zone", "unknown zone 'asia'")


def test_duplicate_rate_for_the_same_service_and_zone(tmp_path: Path) -> None:
    text = MINIMAL + '\n  [[offers.base.rates]]\n  service = "data"\n  price = 2\n'
    error = error_for(tmp_path, text)
    assert error.key == "offers.base.rates[1]"
    assert "second rate" in error.problem


def test_overlapping_bands(tmp_path: Path) -> None:
    rate = (
        '\n  [[offers.base.rates]]\n  service = "voice"\n  block = 60\n  price = 5\n'
        '  bands = [{ days = "mon-fri", from = "08:00", to = "20:00", price = 9 },'
        ' { days = "fri-sun", from = "19:00", to = "22:00", price = 7 }]\n'
    )
    error = error_for(tmp_path, MINIMAL + rate)
    assert error.key == "offers.base.rates[1].bands[1]"
    assert "overlaps band 0" in error.problem


def test_band_times_and_days_are_checked(tmp_path: Path) -> None:
    rate = (
        '\n  [[offers.base.rates]]\n  service = "voice"\n  price = 5\n'
        '  bands = [{ days = "mon-fri", from = "20:00", to = "08:00", price = 9 }]\n'
    )
    assert "not before" in error_for(tmp_path, MINIMAL + rate).problem
    bad_days = rate.replace('"mon-fri", from = "20:00", to = "08:00"', '"weekdays"')
    assert "days must look like" in error_for(tmp_path, MINIMAL + bad_days).problem


def test_tiers_must_ascend_and_end_unbounded(tmp_path: Path) -> None:
    rate = (
        '\n  [[offers.base.rates]]\n  service = "voice"\n'
        "  tiers = [{ upto = 100, price = 2 }, { upto = 50, price = 1 }, { price = 1 }]\n"
    )
    error = error_for(tmp_path, MINIMAL + rate)
    assert error.key == "offers.base.rates[1].tiers[1].upto"
    unbounded_first = rate.replace(
        "{ upto = 100, price = 2 }, { upto = 50, price = 1 }", "{ price = 2 }"
    )
    assert "only the last tier" in error_for(tmp_path, MINIMAL + unbounded_first).problem


def test_allowance_unit_must_match_its_services(tmp_path: Path) -> None:
    allowance = (
        '\n  [[offers.base.allowances]]\n  id = "mins"\n  unit = "seconds"\n'
        '  amount = 60\n  services = ["data"]\n'
    )
    error = error_for(tmp_path, MINIMAL + allowance)
    assert error.key == "offers.base.allowances[0].services[0]"
    assert "measured in octets" in error.problem


def test_redirect_needs_a_top_up_url(tmp_path: Path) -> None:
    text = MINIMAL.replace('top_up_url = "http://topup.example/"', "").replace(
        "quantum = 1000", 'quantum = 1000\nfinal_unit_action = "redirect"'
    )
    error = error_for(tmp_path, text)
    assert error.key == "services.data.final_unit_action"
    assert "top_up_url" in error.problem


def test_discount_requires_known_offers(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[discounts.d]\nname = "D"\npercent = 10\nservices = ["data"]\nrequires = ["gold"]\n'
    )
    error = error_for(tmp_path, text)
    assert (error.key, error.problem) == ("discounts.d.requires[0]", "unknown offer 'gold'")


def test_unreadable_catalog(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_catalog(tmp_path / "nope.toml")
    assert "cannot read file" in info.value.problem


def test_service_contexts_name_the_default_service(tmp_path: Path) -> None:
    catalog = load_catalog(DEMO)
    default = catalog.default_service("32274@3gpp.org")
    assert default is not None and default.rating_group == 300
    assert catalog.default_service("unknown@3gpp.org") is None
    error = error_for(tmp_path, MINIMAL + '\n[service_contexts]\n"x@3gpp.org" = "fax"\n')
    assert (error.key, error.problem) == ("service_contexts.x@3gpp.org", "unknown service 'fax'")


@pytest.mark.parametrize(
    ("partner", "problem"),
    [
        ('kind = "roaming"\nrates = [{ service = "video", price = 1 }]', "unknown service 'video'"),
        (
            'kind = "roaming"\n'
            'rates = [{ service = "data", price = 1 }, { service = "data", price = 2 }]',
            "service 'data' has two rates",
        ),
        (
            'kind = "wholesale"\nservices = ["data"]\nrates = [{ service = "voice", price = 1 }]',
            "service 'voice' is not one of the partner's services",
        ),
    ],
)
def test_partner_rates_name_known_services_once(tmp_path: Path, partner: str, problem: str) -> None:
    text = MINIMAL.replace("[offers.base]", f'[partners.p]\nname = "P"\n{partner}\n\n[offers.base]')
    error = error_for(tmp_path, text)
    assert error.key.startswith("partners.p.rates[")
    assert error.problem == problem


@pytest.mark.parametrize(
    ("rate", "key"),
    [
        ('{ service = "data", block = 0, price = 1 }', "partners.p.rates[0].block"),
        ('{ service = "data", block = 1000 }', "partners.p.rates[0].price"),
    ],
)
def test_partner_rates_need_a_positive_block_and_a_price(
    tmp_path: Path, rate: str, key: str
) -> None:
    partner = f'[partners.p]\nname = "P"\nkind = "roaming"\nrates = [{rate}]'
    error = error_for(tmp_path, MINIMAL.replace("[offers.base]", f"{partner}\n\n[offers.base]"))
    assert error.key == key
