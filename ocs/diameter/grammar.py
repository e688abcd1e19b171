"""Command and grouped-AVP grammars, written in RFC 6733's CCF notation (section 3.2).

A grammar is parsed from the text of the standard, e.g.::

    <Credit-Control-Request> ::= < Diameter Header: 272, REQ, PXY >
                                 < Session-Id >
                                 { Origin-Host }
                                *[ Subscription-Id ]
                                *[ AVP ]

and compiled into sets, so checking a message costs a few set operations:
fixed-position AVPs must lead in order (``< X >``), required AVPs must be
present (``{ X }``, ``1*{ X }``), no AVP may occur more often than its maximum,
and without ``*[ AVP ]`` only listed AVPs are allowed. ``values=`` adds the
allowed values of an Enumerated AVP (not expressible in CCF).

:meth:`Grammar.check` reports the first problem as a :class:`Violation`
carrying the Result-Code that section 7 prescribes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ocs.diameter.constants import ResultCode
from ocs.diameter.dictionary import DICTIONARY, Dictionary

_HEADER = re.compile(
    r"<\s*(?P<name>[\w-]+)\s*>\s*::=\s*<\s*(?:"
    r"Diameter[- ]Header:\s*(?P<code>\d+)(?P<flags>(?:\s*,\s*\w+)*)"
    r"|AVP[- ]Header:\s*(?P<avp>\d+)(?:\s+(?P<vendor>\d+))?"
    r")\s*>"
)
_RULE = re.compile(
    r"(?:(?P<min>\d*)\s*(?P<star>\*)\s*(?P<max>\d*))?\s*"
    r"(?P<open>[<{\[])\s*(?P<name>[\w-]+)\s*(?P<close>[>}\]])"
)
_KINDS = {"<": "fixed", "{": "required", "[": "optional"}
_CLOSE = {"<": ">", "{": "}", "[": "]"}


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    key: int
    kind: str
    """``fixed``, ``required`` or ``optional``."""
    min: int
    max: int | None
    """``None``: no limit."""


@dataclass(frozen=True, slots=True)
class Violation:
    """The first way a message (or grouped AVP) breaks its grammar."""

    result_code: ResultCode
    key: int
    """The AVP at fault (for a missing AVP: the one that should be there)."""
    occurrence: int | None
    """Index in the AVP list of the offending AVP, ``None`` when it is missing."""
    message: str


@dataclass(frozen=True, eq=False)
class Grammar:
    name: str
    code: int
    """Command code, or the AVP code of a grouped AVP."""
    vendor: int
    is_avp: bool
    request: bool
    proxiable: bool
    rules: tuple[Rule, ...]
    any_avp: bool
    values: Mapping[int, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        leading: list[int] = []
        for rule in self.rules:
            if rule.kind != "fixed":
                break
            leading.append(rule.key)
        # Fixed rules at the end (rare, e.g. an ICV) are checked like required ones.
        listed = {r.key for r in self.rules}
        object.__setattr__(self, "_fixed", tuple(leading))
        object.__setattr__(self, "_required", frozenset(r.key for r in self.rules if r.min))
        object.__setattr__(self, "_minimum", {r.key: r.min for r in self.rules if r.min > 1})
        object.__setattr__(
            self, "_maximum", {r.key: r.max for r in self.rules if r.max is not None}
        )
        object.__setattr__(self, "_allowed", None if self.any_avp else frozenset(listed))
        object.__setattr__(
            self, "_forbidden", frozenset(k for k, m in self._maximum.items() if m == 0)
        )

    _fixed: tuple[int, ...] = field(init=False, repr=False)
    _required: frozenset[int] = field(init=False, repr=False)
    _minimum: dict[int, int] = field(init=False, repr=False)
    _maximum: dict[int, int] = field(init=False, repr=False)
    _allowed: frozenset[int] | None = field(init=False, repr=False)
    _forbidden: frozenset[int] = field(init=False, repr=False)

    def rule_name(self, key: int) -> str:
        for rule in self.rules:
            if rule.key == key:
                return rule.name
        return f"AVP {key & 0xFFFFFFFF}" + (f" vendor {key >> 32}" if key >> 32 else "")

    def check(self, keys: list[int]) -> Violation | None:
        """Check the AVP keys of one message or grouped AVP, in order."""
        present = set(keys)
        if not present >= self._required:
            for rule in self.rules:
                if rule.min and rule.key not in present:
                    return Violation(
                        ResultCode.DIAMETER_MISSING_AVP,
                        rule.key,
                        None,
                        f"{self.name}: missing {rule.name}",
                    )
        position = 0
        for key in self._fixed:
            if position < len(keys) and keys[position] == key:
                position += 1
            elif key in present:
                return Violation(
                    ResultCode.DIAMETER_MISSING_AVP,
                    key,
                    keys.index(key),
                    f"{self.name}: {self.rule_name(key)} must be AVP number {position + 1}",
                )
        if self._forbidden & present:
            key = next(k for k in keys if k in self._forbidden)
            return Violation(
                ResultCode.DIAMETER_AVP_NOT_ALLOWED,
                key,
                keys.index(key),
                f"{self.name}: {self.rule_name(key)} is not allowed",
            )
        allowed = self._allowed
        if allowed is not None and not present <= allowed:
            index = next(i for i, k in enumerate(keys) if k not in allowed)
            return Violation(
                ResultCode.DIAMETER_AVP_NOT_ALLOWED,
                keys[index],
                index,
                f"{self.name}: {self.rule_name(keys[index])} is not allowed here",
            )
        if len(present) != len(keys):
            return self._check_counts(keys)
        return None

    def _check_counts(self, keys: list[int]) -> Violation | None:
        counts = Counter(keys)
        for key, limit in self._maximum.items():
            if counts[key] > limit:
                index = [i for i, k in enumerate(keys) if k == key][limit]
                return Violation(
                    ResultCode.DIAMETER_AVP_OCCURS_TOO_MANY_TIMES,
                    key,
                    index,
                    f"{self.name}: {self.rule_name(key)} occurs {counts[key]} times, max {limit}",
                )
        for key, least in self._minimum.items():
            if counts[key] < least:
                return Violation(
                    ResultCode.DIAMETER_MISSING_AVP,
                    key,
                    None,
                    f"{self.name}: {self.rule_name(key)} occurs {counts[key]} times, min {least}",
                )
        return None


def parse(
    text: str,
    dictionary: Dictionary = DICTIONARY,
    values: Mapping[str, Iterable[int]] | None = None,
) -> Grammar:
    """Compile one CCF definition; AVP names resolve through ``dictionary``."""
    header = _HEADER.search(text)
    if header is None:
        raise ValueError(f"no CCF header in {text.strip()[:60]!r}")
    body = text[header.end() :]
    rules: list[Rule] = []
    any_avp = False
    for match in _RULE.finditer(body):
        kind = _KINDS[match["open"]]
        name = match["name"]
        if name == "AVP":
            any_avp = True
            continue
        if _CLOSE[match["open"]] != match["close"]:
            raise ValueError(f"unbalanced rule {match.group(0).strip()!r}")
        if match["star"]:
            # With a qualifier, min defaults to 1 for required rules, else 0; max to no limit.
            low = int(match["min"]) if match["min"] else int(kind == "required")
            high = int(match["max"]) if match["max"] else None
        else:
            # No qualifier: fixed and required rules mean exactly one, optional 0 or 1.
            low, high = int(kind != "optional"), 1
        rules.append(Rule(name, dictionary.key(name), kind, low, high))
    flags = {f.strip().upper() for f in (header["flags"] or "").split(",") if f.strip()}
    allowed_values = {
        dictionary.key(name): frozenset(int(v) for v in accepted)
        for name, accepted in (values or {}).items()
    }
    is_avp = header["avp"] is not None
    return Grammar(
        name=header["name"],
        code=int(header["avp"] if is_avp else header["code"]),
        vendor=int(header["vendor"] or 0),
        is_avp=is_avp,
        request="REQ" in flags,
        proxiable="PXY" in flags,
        rules=tuple(rules),
        any_avp=any_avp,
        values=allowed_values,
    )


class Grammars:
    """Which grammar applies to a request (by application and command) or grouped AVP."""

    def __init__(self) -> None:
        self._commands: dict[tuple[int, int, bool], Grammar] = {}
        self._avps: dict[int, Grammar] = {}
        self.version = 0
        """Bumped on every change, so caches of checked layouts can tell."""

    def add_command(self, application_id: int, grammar: Grammar) -> None:
        if grammar.is_avp:
            raise ValueError(f"{grammar.name} is a grouped AVP grammar, not a command")
        self._commands[application_id, grammar.code, grammar.request] = grammar
        self.version += 1

    def add_avp(self, grammar: Grammar) -> None:
        if not grammar.is_avp:
            raise ValueError(f"{grammar.name} is a command grammar, not a grouped AVP")
        self._avps[grammar.vendor << 32 | grammar.code] = grammar
        self.version += 1

    def command(self, application_id: int, code: int, request: bool) -> Grammar | None:
        return self._commands.get((application_id, code, request))

    def avp(self, key: int) -> Grammar | None:
        return self._avps.get(key)

    def commands(self) -> list[tuple[int, Grammar]]:
        return [(app, g) for (app, _, _), g in self._commands.items()]

    def grouped(self) -> list[Grammar]:
        return list(self._avps.values())
