"""The outbox: what is to be delivered, written in the same database (and, where it matters,
the same transaction) as the change it tells of, then delivered by :class:`Deliverer` at least
once: a failed attempt is tried again after 1, 2, 4 ... s (``webhook_retries`` more times),
then the row is marked ``failed`` for an operator to see. A row is unique per channel, target
and event id, so the same event noticed twice (two feed readers, a replay) is sent once."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import aiohttp

from ocs.billing_bridge.ledger import LedgerCursor, LedgerError
from ocs.bss.database import BssDatabase
from ocs.config import PortalConfig
from ocs.notify.templates import render
from ocs.payments.signature import HEADER, sign
from ocs.tmf import metrics

log = logging.getLogger("ocs.notify")

BATCH = 50
WEBHOOK_TIMEOUT_S = 10.0


def enqueue(
    cur: LedgerCursor, channel: str, target: str, event_id: str, payload: dict[str, Any], now: int
) -> None:
    cur.execute(
        "INSERT INTO outbox (id, channel, target, event_id, payload, attempts, next_ms, state, "
        "last_error, created_ms) VALUES (?, ?, ?, ?, ?, 0, ?, 'pending', '', ?) "
        "ON CONFLICT DO NOTHING",
        (uuid.uuid4().hex, channel, target, event_id, json.dumps(payload, default=str), now, now),
    )


def email(
    cur: LedgerCursor, to: str, template: str, context: dict[str, Any], event_id: str, now: int
) -> None:
    """An e-mail from ``template`` (see :mod:`ocs.notify.templates`), if there is an address."""
    if to:
        enqueue(cur, "email", to, event_id, {"template": template, "context": context}, now)


def publish(
    cur: LedgerCursor,
    api: str,
    event_type: str,
    resource: dict[str, Any],
    event_id: str,
    now: int,
) -> None:
    """A TMF event to every hub subscription of ``api`` (its ``query`` may name event types)."""
    cur.execute("SELECT id, callback, query FROM hub_subscriptions WHERE api = ?", (api,))
    for sub_id, callback, query in cur.fetchall():
        if query and event_type not in str(query):
            continue
        event = {
            "eventId": event_id,
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1000)),
            "eventType": event_type,
            "event": resource,
        }
        enqueue(cur, "webhook", str(sub_id), event_id, {"callback": callback, "body": event}, now)


class Deliverer:
    def __init__(self, db: BssDatabase, config: PortalConfig, clock: Callable[[], int]) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.delivered = 0
        self._session: aiohttp.ClientSession | None = None

    async def run(self, interval_s: float) -> None:
        try:
            while True:
                try:
                    sent = await self.once()
                except LedgerError as exc:
                    log.warning("outbox read failed error=%s", exc)
                    sent = 0
                if sent < BATCH:
                    await asyncio.sleep(interval_s)
        finally:
            if self._session is not None:
                await self._session.close()

    async def once(self) -> int:
        rows = await self.db.run(
            self.db.rows,
            "SELECT id, channel, target, payload, attempts FROM outbox "
            "WHERE state = 'pending' AND next_ms <= ? ORDER BY next_ms LIMIT ?",
            (self.clock(), BATCH),
        )
        for row_id, channel, target, payload, attempts in rows:
            try:
                if channel == "email":
                    await self._email(str(target), json.loads(payload))
                else:
                    await self._webhook(str(target), json.loads(payload))
            except Exception as exc:  # any failure of one delivery is retried (logged)
                await self.db.run(self._failed, row_id, channel, int(attempts), repr(exc)[:500])
                continue
            await self.db.run(
                self.db.write,
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1 WHERE id = ?",
                (row_id,),
            )
            metrics.DELIVERIES.labels(channel, "sent").inc()
            self.delivered += 1
        return len(rows)

    def _failed(self, row_id: str, channel: str, attempts: int, error: str) -> None:
        attempts += 1
        if attempts > self.config.webhook_retries:
            state, next_ms = "failed", 0
            metrics.DELIVERIES.labels(channel, "failed").inc()
            log.warning("delivery given up channel=%s id=%s error=%s", channel, row_id, error)
        else:
            state, next_ms = "pending", self.clock() + 1000 * 2 ** (attempts - 1)
            log.info(
                "delivery failed, retrying channel=%s id=%s attempt=%d error=%s",
                channel,
                row_id,
                attempts,
                error,
            )
        self.db.write(
            "UPDATE outbox SET state = ?, attempts = ?, next_ms = ?, last_error = ? WHERE id = ?",
            (state, attempts, next_ms, error, row_id),
        )

    async def _email(self, to: str, payload: dict[str, Any]) -> None:
        smtp = self.config.smtp
        if not smtp.host:
            return  # no SMTP server configured: nothing to send
        subject, body = render(smtp.templates_dir, payload["template"], payload["context"])
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        smtp = self.config.smtp
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(message)

    async def _webhook(self, subscription: str, payload: dict[str, Any]) -> None:
        row = await self.db.run(
            self.db.one, "SELECT secret FROM hub_subscriptions WHERE id = ?", (subscription,)
        )
        if row is None:
            return  # unsubscribed since: nothing to deliver
        body = json.dumps(payload["body"]).encode()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
            )
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(str(row[0]).encode(), body, self.clock() // 1000),
        }
        async with self._session.post(payload["callback"], data=body, headers=headers) as reply:
            if reply.status >= 300:
                raise RuntimeError(f"callback answered {reply.status}")
