"""Currencies (ISO 4217) and money amounts as the protocols carry them.

ocs keeps money as an integer number of *minor units* of the account's currency: the
catalog's ``minor_unit_digits`` decimal places of one currency unit (2 for euro cents; an
operator may choose a finer unit, never a coarser one than ISO 4217's). Protocols carry money
as a decimal: RFC 8506 §8.8 Unit-Value is Value-Digits x 10^Exponent *currency units* (EUR
12.50 is (1250, -2) or (125, -1)), with an optional Currency-Code (§8.11, ISO 4217 numeric).

:func:`minor_units` turns such an amount into minor units exactly, or says why it cannot:
another currency than the account's (no conversion: the catalog defines no exchange rates),
or a fraction of the minor unit. The ISO 4217 table (codes, numbers, minor-unit digits) is the
``iso4217`` package's, not ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import iso4217

from ocs.errors import OcsError

MAX_AMOUNT = 2**53
"""Every amount ocs stores is below 2^53 (exact in the balance scripts' Lua numbers)."""


class MoneyError(OcsError):
    """An amount that cannot be taken as money of the account (``field`` names the part)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    """ISO 4217 alphabetic code, e.g. ``EUR``."""
    number: int
    """ISO 4217 numeric code, e.g. 978 (Diameter Currency-Code)."""
    digits: int
    """ISO 4217 minor-unit digits (2 for EUR, 0 for JPY, 3 for BHD)."""


@dataclass(frozen=True, slots=True)
class Money:
    """A decimal amount as carried on the wire: ``value_digits`` x 10^``exponent`` currency
    units of ``currency_code`` (ISO 4217 numeric; None: the account's currency)."""

    value_digits: int
    exponent: int = 0
    currency_code: int | None = None


@cache
def currency(code: str) -> Currency:
    """The ISO 4217 currency with alphabetic ``code``; KeyError for an unknown code or one
    without minor units (gold, SDR...)."""
    try:
        found = iso4217.Currency(code.upper())
    except ValueError:
        raise KeyError(f"{code!r} is not an ISO 4217 currency code") from None
    if found.exponent is None:
        raise KeyError(f"ISO 4217 {code} has no minor unit: not a currency ocs can charge in")
    return Currency(found.code, int(found.number), int(found.exponent))


@cache
def by_number(number: int) -> Currency | None:
    """The currency with ISO 4217 numeric code ``number``, if any."""
    for found in iso4217.Currency:
        if found.number == number and found.exponent is not None:
            return Currency(found.code, int(found.number), int(found.exponent))
    return None


def minor_units(money: Money, account: Currency, minor_digits: int) -> int:
    """``money`` in minor units (10^-``minor_digits``) of the account's currency.

    Raises :class:`MoneyError` naming the part at fault (``Currency-Code`` or ``Unit-Value``,
    RFC 8506's names) when it is in another currency or is not a whole number of minor units:
    money is never converted without a rate, nor rounded."""
    if money.currency_code is not None and money.currency_code != account.number:
        named = by_number(money.currency_code)
        other = named.code if named is not None else "an unknown currency"
        raise MoneyError(
            "Currency-Code",
            f"CC-Money is in {other} ({money.currency_code}); the account is in {account.code} "
            f"({account.number}) and no exchange rate is configured",
        )
    if money.value_digits < 0:
        raise MoneyError("Unit-Value", "CC-Money must not be negative")
    if money.value_digits == 0:
        return 0
    # Exponent is an Integer32: bound it before raising 10 to it (Value-Digits is below 2^63,
    # so beyond 19 places either way the amount is out of range or not whole).
    shift = max(-20, min(20, money.exponent + minor_digits))
    if shift >= 0:
        amount = money.value_digits * 10**shift
    else:
        scale = 10**-shift
        if money.value_digits % scale:
            raise MoneyError(
                "Unit-Value",
                f"CC-Money {money.value_digits}x10^{money.exponent} {account.code} is not a "
                f"whole number of the minor unit (10^-{minor_digits} {account.code})",
            )
        amount = money.value_digits // scale
    if amount >= MAX_AMOUNT:
        raise MoneyError("Unit-Value", "CC-Money is beyond the largest amount (2^53 - 1)")
    return amount


def money_of(amount: int, account: Currency, minor_digits: int) -> Money:
    """Minor units as a wire amount: (amount, -minor_digits, the currency's number)."""
    return Money(amount, -minor_digits, account.number)
