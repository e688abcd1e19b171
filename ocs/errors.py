"""The exception tree of ocs, in one place.

    OcsError                      base of every error ocs raises on purpose
    +-- ConfigError               a config or catalog file / environment value is wrong;
    |                             names the source, the key and the problem (exit code 2)
    +-- StartupError              a subsystem could not start (port in use, redis-server
    |                             failed, state dir locked by another server) (exit code 1)
    +-- (subsystem errors)        defined next to their subsystem, subclassing OcsError:
                                  protocol errors in ocs.diameter, balance errors in
                                  ocs.balance, each carrying the result code it maps to

Lower-level exceptions (OSError, redis errors) are translated at the boundary of
the subsystem that meets them, with ``raise X from exc``.
"""

from __future__ import annotations


class OcsError(Exception):
    """Base of every error ocs raises on purpose."""


class ConfigError(OcsError):
    """A configuration problem: where it is, which key, and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.problem}"
        return f"{self.source}: {self.problem}"


class StartupError(OcsError):
    """A subsystem could not start; the message says which and why."""
