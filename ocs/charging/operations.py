"""Account operations that affect live sessions: top-up (RAR) and termination (ASR).

Used by the gRPC APIs and the CLI. After the balance engine has recorded the
change, the sessions it concerns are signalled so that gateways act at once:
a top-up re-authorizes sessions that are blocked or on their final grant
(RFC 8506 §5.6.4); terminating a subscriber aborts its live sessions.
"""

from __future__ import annotations

from collections.abc import Callable

from ocs.balance.model import OpResult, Outcome, Status, TopupResult
from ocs.balance.store import BalanceStore
from ocs.charging.signals import SessionSignals, Signal


class AccountOperations:
    def __init__(
        self, store: BalanceStore, signals: SessionSignals, clock: Callable[[], int]
    ) -> None:
        self.store = store
        self.signals = signals
        self.clock = clock

    async def topup(
        self,
        payment_id: str,
        account_id: str,
        amount: int,
        currency: str,
        *,
        actor: str = "",
    ) -> TopupResult:
        """Money into the main wallet, then RAR to the account's blocked/final sessions.

        A replayed payment id signals again: the first attempt may have stopped
        between recording the top-up and publishing the signal, and a RAR is
        harmless to repeat.
        """
        result = await self.store.topup(
            payment_id, account_id, amount, currency, now_ms=self.clock(), actor=actor
        )
        if result.outcome is Outcome.OK:
            await self.signals.signal(Signal.REAUTHORIZE, result.sessions)
        return result

    async def terminate_subscriber(
        self, op_id: str, subscriber_id: str, *, actor: str = "", reason: str = ""
    ) -> OpResult:
        """Mark the subscriber terminated, then ASR to the gateways of its live sessions."""
        result = await self.store.set_subscriber_status(
            op_id, subscriber_id, Status.TERMINATED, now_ms=self.clock(), actor=actor, reason=reason
        )
        if result.outcome is Outcome.OK:
            subscriber = await self.store.get_subscriber(subscriber_id)
            if subscriber is not None:
                sessions = await self.store.live_sessions(subscriber.account_id, subscriber_id)
                await self.signals.signal(Signal.ABORT, sessions)
        return result
