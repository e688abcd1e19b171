"""Everything the BSS services work with, built once by the portal subsystem at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocs.api.admin import AdminService
from ocs.api.auth import Tokens
from ocs.api.balance import BalanceService
from ocs.api.orders import Orders
from ocs.api.watch import WatchHub
from ocs.balance.model import Subscriber
from ocs.balance.store import BalanceStore
from ocs.bss.database import BssDatabase
from ocs.bss.directory import Directory
from ocs.charging.operations import AccountOperations
from ocs.config import PortalConfig
from ocs.policy.catalog import Catalog


@dataclass(eq=False)
class Services:
    config: PortalConfig
    store: BalanceStore
    catalog: Catalog
    db: BssDatabase
    balance: BalanceService
    admin: AdminService
    orders: Orders
    watch: WatchHub
    operations: AccountOperations
    tokens: Tokens
    clock: Callable[[], int]
    documents_dir: Path
    state_dir: Path

    def __post_init__(self) -> None:
        self.directory = Directory(self.db, self.store)

    @property
    def digits(self) -> int:
        return self.catalog.minor_digits

    @property
    def currency(self) -> str:
        return self.catalog.currency

    async def contact(self, account_id: str) -> tuple[str, str, str]:
        """(customer id, name, e-mail) of an account, from the balance engine itself."""
        account = await self.store.get_account(account_id)
        if account is None:
            return "", "", ""
        customer = await self.store.get_customer(account.customer_id)
        if customer is None:
            return account.customer_id, "", ""
        email = dict(customer.profile).get("email", "")
        return customer.id, customer.name or customer.id, email

    async def directory_put(self, subscriber: Subscriber) -> None:
        """Index a subscriber at once (the feed would in a moment): care sees its own change."""
        await self.db.run(self.directory.put_subscriber, subscriber, self.clock())
