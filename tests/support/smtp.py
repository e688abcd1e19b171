"""A real SMTP server for the tests (aiosmtpd on a free loopback port, its own thread)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.ports import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.changed:
            self.messages.append(message)  # type: ignore[arg-type]
            self.changed.notify_all()
        return "250 OK"


class MailServer:
    def __init__(self) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    async def wait_for(self, to: str, subject_part: str, within: float = 20.0) -> EmailMessage:
        """The first message to ``to`` whose subject contains ``subject_part`` (waits in a
        thread on the inbox's condition: the app under test runs in the caller's loop)."""
        return await asyncio.to_thread(self._wait_for, to, subject_part, within)

    def _wait_for(self, to: str, subject_part: str, timeout: float) -> EmailMessage:
        deadline = time.monotonic() + timeout
        with self.inbox.changed:
            while True:
                for message in self.inbox.messages:
                    if to in str(message["To"]) and subject_part in str(message["Subject"]):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [(str(m["To"]), str(m["Subject"])) for m in self.inbox.messages]
                    raise AssertionError(f"no mail to {to} about {subject_part!r}: {subjects}")
                self.inbox.changed.wait(left)
