"""Partitioning and key names. Every key of partition p carries the hash tag ``{p}``.

A customer's partition is ``crc32(customer_id) % P``; its accounts, subscribers, sessions,
operation records and the partition's event stream share that tag, so one script touches one
slot and runs unchanged on Redis Cluster. Global keys (identity index, locators) are untagged
and written by single commands, never inside a partition script.
"""

from __future__ import annotations

import zlib

from redis.crc import key_slot

META = "ocs:meta"
INVALIDATION_CHANNEL = "ocs:invalidate"
PROFILE_CHANNEL = "ocs:profiles"
"""Subscriber ids whose offers changed: every process drops its cached rating profile."""


def partition_of(customer_id: str, partitions: int) -> int:
    return zlib.crc32(customer_id.encode()) % partitions


def slot_of(key: str) -> int:
    """The Redis Cluster slot of a key (hash tags honoured)."""
    return int(key_slot(key.encode()))


class PartitionKeys:
    """Key names of one partition; ``prefix`` is ``ocs:{p}:``."""

    __slots__ = (
        "bucket_expiry",
        "partition",
        "prefix",
        "renewals",
        "reservation_expiry",
        "slot",
        "stream",
    )

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.prefix = f"ocs:{{{partition}}}:"
        self.stream = self.prefix + "events"
        self.reservation_expiry = self.prefix + "rexp"
        self.bucket_expiry = self.prefix + "bexp"
        self.renewals = self.prefix + "renew"
        """Subscriber id by the time its recurring fees are next due (zset)."""
        self.slot = slot_of(self.prefix)

    def customer(self, customer_id: str) -> str:
        return f"{self.prefix}cust:{customer_id}"

    def account(self, account_id: str) -> str:
        return f"{self.prefix}acct:{account_id}"

    def subscriber(self, subscriber_id: str) -> str:
        return f"{self.prefix}sub:{subscriber_id}"

    def session(self, session_id: str) -> str:
        return f"{self.prefix}sess:{session_id}"

    def members(self, account_id: str) -> str:
        """Set of the account's subscriber ids (kept out of the account record: charging
        reads that record on every call)."""
        return f"{self.prefix}members:{account_id}"

    def live(self, account_id: str) -> str:
        return f"{self.prefix}live:{account_id}"

    def operation(self, op_id: str) -> str:
        return f"{self.prefix}op:{op_id}"


def identity_key(kind: str, value: str) -> str:
    return f"ocs:id:{kind}:{value}"


def session_locator_key(session_id: str) -> str:
    return f"ocs:loc:{session_id}"


def account_locator_key(account_id: str) -> str:
    return f"ocs:aloc:{account_id}"


def subscriber_locator_key(subscriber_id: str) -> str:
    return f"ocs:sloc:{subscriber_id}"
