"""The Lua scripts: ``lua/<op>.lua`` with the shared prelude ``lua/_lib.lua`` in front, and in
front of that the index constants of the positional records (generated: ``ocs.balance.records``).

A script is called by the SHA of its final text; a NOSCRIPT reply (after a Redis restart or a
failover the script cache is empty) is answered by sending the text with EVAL, which runs it
and caches it again, as redis-py's Script objects do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from ocs.balance.records import lua_constants

OPERATIONS = (
    "session",
    "debit",
    "refund",
    "topup",
    "adjust",
    "provision",
    "buckets",
    "purchase",
    "expire",
    "sweep",
    "trim",
    "credit_limit",
)


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    text: bytes
    sha: str


def _read(name: str) -> str:
    return resources.files("ocs.balance").joinpath("lua", name).read_text(encoding="utf-8")


def load_scripts() -> dict[str, Script]:
    prelude = lua_constants() + _read("_lib.lua")
    scripts = {}
    for name in OPERATIONS:
        text = (prelude + "\n-- " + name + ".lua\n" + _read(name + ".lua")).encode()
        scripts[name] = Script(name, text, hashlib.sha1(text).hexdigest())
    return scripts
