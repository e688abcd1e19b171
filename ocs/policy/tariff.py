"""A tariff: the money price of units as a schedule of segments, priced per started block.

This is what rating hands to the balance engine (the :class:`Tariff` and
:class:`Segment` types are the engine's input types, validated at its
boundary): the engine prices used units with it (in Lua) and never rates by
itself. The functions here are the exact reference implementation in Python
(price enquiries, balance checks, tests, documentation).

A tariff is a list of segments over unit offsets ``[0, inf)``. A segment covers
``length`` units (0 = unbounded, last segment only) priced at ``price`` minor
units per *started* block of ``block`` units. Money-priced units occupying
offsets ``[a, b)`` cost, for every segment ``[s, e)`` they overlap,
``ceil(overlap / block) * price``, blocks counted from ``max(a, s)``.

Offsets are positions within one grant or usage report (time-band schedules),
or, when ``counter`` is set, cumulative units of the period counter named by
it (tiered pricing); the balance engine adds the counter value.
"""

from __future__ import annotations

from ocs.balance.model import MAX_INT, Segment, Tariff, Unit

# Lua numbers are doubles: every amount and unit count stays below 2**53.
MAX_EXACT = MAX_INT - 1

__all__ = ["MAX_EXACT", "Segment", "Tariff", "Unit", "affordable", "cost", "flat"]


def flat(unit: Unit | str, block: int, price: int) -> Tariff:
    """One price for every started block."""
    return Tariff(Unit(unit), (Segment(0, block, price),))


def _bounds(tariff: Tariff) -> list[tuple[int, int | None, Segment]]:
    start = 0
    bounds: list[tuple[int, int | None, Segment]] = []
    for segment in tariff.segments:
        end = start + segment.length if segment.length else None
        bounds.append((start, end, segment))
        if end is not None:
            start = end
    return bounds


def cost(tariff: Tariff, a: int, b: int) -> int:
    """Minor units for money-priced units at offsets ``[a, b)``."""
    if b <= a:
        return 0
    total = 0
    for start, end, segment in _bounds(tariff):
        lo = max(a, start)
        hi = b if end is None else min(b, end)
        if hi > lo:
            blocks = -(-(hi - lo) // segment.block)
            total += blocks * segment.price
    return total


def affordable(tariff: Tariff, a: int, money: int, limit: int | None = None) -> int:
    """The most units (whole blocks) from offset ``a`` whose cost is at most ``money``.

    ``limit`` caps the answer (the units wanted); a free segment is unbounded, so
    the result is ``limit`` when everything from ``a`` on is free. With no limit
    and a free unbounded tail the answer would be infinite: callers always pass
    a limit in that case.
    """
    units = 0
    left = money
    for start, end, segment in _bounds(tariff):
        if end is not None and end <= a:
            continue
        lo = max(a, start)
        room = None if end is None else end - lo
        if limit is not None:
            want = limit - units
            room = want if room is None else min(room, want)
        if segment.price == 0:
            if room is None:
                raise ValueError("free unbounded tariff needs a limit")
            units += room
        else:
            blocks = left // segment.price
            if room is not None:
                # whole blocks that fit the room, plus a started block only if it ends the room
                full = room // segment.block
                partial = 1 if room % segment.block else 0
                if blocks >= full + partial:
                    units += room
                    left -= (full + partial) * segment.price
                    if limit is not None and units >= limit:
                        return units
                    continue
                units += blocks * segment.block
                return units
            units += blocks * segment.block
            return units
        if limit is not None and units >= limit:
            return units
    return units
