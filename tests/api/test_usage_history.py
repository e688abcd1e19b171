"""Usage history over the partition stream: the scan is bounded per call and page tokens go on
from where it stopped, without losing or repeating a record; other accounts are skipped."""

from __future__ import annotations

from ocs.api.usage import StreamUsageHistory, UsageQuery
from ocs.app import App
from tests.api.conftest import Api


async def test_a_bounded_scan_hands_out_a_token_and_loses_nothing(api: Api, ocs: App) -> None:
    mine = await api.customer("4919400001", money=0)
    others = await api.customer("4919400002", money=0)
    now = ocs.charging.clock()
    for n in range(6):
        for account in (mine, others):
            result = await ocs.balance.topup(f"p-{account}-{n}", account, 10 + n, "EUR", now_ms=now)
            assert result.balance
    history = StreamUsageHistory(ocs.balance, ocs.catalog, scan_limit=4)
    records, cursor, calls = [], "", 0
    while True:
        page = await history.page(UsageQuery(mine, page_size=50, cursor=cursor))
        calls += 1
        records.extend(page.entries)
        assert len(page.entries) <= 4
        if not page.cursor:
            break
        assert not page.complete
        cursor = page.cursor
    amounts = [r.money for r in records if r.type == "topup"]
    assert amounts == [-15, -14, -13, -12, -11, -10]  # newest first, each once
    assert {r.account_id for r in records} == {mine}
    assert calls >= 3  # at least 9 entries (3 provisioning, 6 top-ups), 4 per call
    small = await StreamUsageHistory(ocs.balance, ocs.catalog).page(UsageQuery(mine, page_size=2))
    assert [r.money for r in small.entries] == [-15, -14] and small.cursor and small.complete
