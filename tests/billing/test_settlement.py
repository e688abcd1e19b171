"""Settlement per partner from real roaming, content and wholesale charges."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

from ocs.balance.model import RequestType
from ocs.balance.store import BalanceStore
from ocs.billing_bridge.invoices import round_half_up
from ocs.billing_bridge.ledger import Ledger
from ocs.billing_bridge.settlement import export, settle
from ocs.policy.catalog import Catalog, load_catalog
from ocs.policy.offers import allowance_buckets
from ocs.policy.schema import Partner, PartnerRate
from tests.balance.helpers import ccr, item, ok
from tests.billing.accounts import NOV, ingest, ms, postpaid

CATALOG = load_catalog(Path("config/catalog.toml"))
# partner terms of these tests (the demo catalog's may change): shares, and one wholesale rate
TERMS = Catalog(
    CATALOG.data.model_copy(
        update={
            "partners": {
                "orange_fr": Partner(
                    name="Orange France",
                    kind="roaming",
                    networks=["20801"],
                    share_percent=60,
                    rates=[PartnerRate(service="internet", block=1_000_000, price=1)],
                ),
                "vodafone_es": Partner(
                    name="Vodafone Spain", kind="roaming", networks=["21401"], share_percent=60
                ),
                "streamco": Partner(
                    name="StreamCo", kind="content", services=["video"], share_percent=30
                ),
                "host_mno": Partner(
                    name="Host network",
                    kind="wholesale",
                    services=["internet", "voice", "sms"],
                    share_percent=40,
                ),
            }
        }
    ),
    "settlement terms",
)


async def session(
    store: BalanceStore,
    ids: tuple[str, str, str],
    sid: str,
    rg: int,
    used: int,
    network: str,
    when: int = NOV,
) -> None:
    info = {"visited_network": network}
    ok(
        await ccr(
            store,
            ids,
            sid,
            0,
            RequestType.INITIAL,
            [item(rg, requested=used)],
            now=when,
            service_info=info,
        )
    )
    ok(
        await ccr(
            store,
            ids,
            sid,
            1,
            RequestType.TERMINATE,
            [item(rg, used=used)],
            now=when,
            service_info=info,
        )
    )


async def test_partners_are_owed_their_share_of_the_matching_charges(
    store: BalanceStore, ledger: Ledger, tmp_path: Path
) -> None:
    ids = await postpaid(store, "4933001", offers=["payg"])
    await session(store, ids, "fr-1", 100, 2_000_000, "20801")  # Orange France, data: 2000
    await session(store, ids, "fr-2", 100, 333_333, "20801")  # 334
    await session(store, ids, "es-1", 100, 10_000, "21401")  # Vodafone Spain: 10
    await session(store, ids, "home-video", 500, 55_555, "00101")  # StreamCo: 56
    await session(store, ids, "home-data", 100, 1_001, "00101")  # host network only: 2
    await session(store, ids, "dec", 100, 9_000, "20801", when=ms(2026, 12, 1))  # not November
    await ingest(store, ledger)
    rows = settle(ledger, TERMS, "2026-11")
    by_partner = {(r.partner, r.rating_group): r for r in rows}

    orange = by_partner[("orange_fr", 100)]
    assert (orange.events, orange.units, orange.gross) == (2, 2_333_333, 2334)
    assert orange.share_owed == round_half_up(Fraction(2334 * 60, 100)) == 1400
    assert orange.usage_owed == 3  # 1 cent per started MB of 2_333_333 octets
    assert (orange.owed, orange.retained) == (1403, 931)
    assert by_partner[("vodafone_es", 100)].gross == 10
    video = by_partner[("streamco", 500)]
    assert (video.gross, video.owed) == (56, 17)  # 30 % of 56 = 16.8
    host = by_partner[("host_mno", 100)]  # wholesale: every network
    assert (host.events, host.gross, host.owed) == (4, 2346, 938)
    assert ("host_mno", 500) not in by_partner  # video is not a wholesale service

    files = export(rows, TERMS, "2026-11", tmp_path)
    assert {f.name for f in files} >= {"orange_fr.csv", "streamco.json", "summary.json"}
    with (tmp_path / "settlement/2026-11/orange_fr.csv").open() as handle:
        (record,) = list(csv.DictReader(handle))
    assert (record["gross"], record["owed"], record["share_percent"]) == ("2334", "1403", "60")
    assert record["usage_rate"] == "1 per 1000000 octets"
    summary = json.loads((tmp_path / "settlement/2026-11/summary.json").read_text())
    assert {s["partner"]: s["owed"] for s in summary} == {
        "host_mno": 938,
        "orange_fr": 1403,
        "streamco": 17,
        "vodafone_es": 6,
    }


async def test_roaming_on_a_bundle_still_owes_the_visited_network_its_wholesale_rate(
    store: BalanceStore, ledger: Ledger
) -> None:
    """Data roamed from an allowance earns nothing, yet the visited network bills its rate:
    the demo catalog's 2 cents per started 10 MB; the row shows the loss as negative retained."""
    ids = await postpaid(store, "4933002", offers=["payg", "bundle_s"])
    buckets = allowance_buckets(CATALOG, "bundle_s", NOV, "test")
    assert (await store.add_buckets("b-4933002", ids[1], buckets, now_ms=NOV)).ok
    await session(store, ids, "fr-bundle", 100, 25_000_000, "20801")
    await ingest(store, ledger)
    (orange,) = [r for r in settle(ledger, CATALOG, "2026-11") if r.partner == "orange_fr"]
    assert (orange.units, orange.gross, orange.share_owed) == (25_000_000, 0, 0)
    assert (orange.usage_owed, orange.owed, orange.retained) == (6, 6, -6)  # 3 started 10 MB
