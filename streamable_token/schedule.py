"""The streaming schedule: how an account's balance moves over blocks, as pure functions.

Every stream is two *events* on each party's schedule: at its start block the flow rate
rises by ``rate``; at its end block the rate falls by ``rate`` and the ``remainder`` lands
as a lump. The amount that has flowed by block ``b`` since a settled block ``b0`` is then

    flow(b) = rate0 * (b - b0) + sum over events b0 < b_k <= b of R_k * (b - b_k) + L_k
            = rate0 * (b - b0) + b * ΣR + Σ(L_k - R_k * b_k)

so a schedule needs only two running sums over its pending events, ``(ΣR, ΣC)`` with
``C = L - R * b`` (a :data:`Delta`), never a loop over streams. Small schedules keep their
pending events as one row per block, summed by SQLite over a range; large ones (a DEX pool,
a payroll treasury) keep them in a tree of sums over block numbers, so a prefix sum costs
O(log blocks) rows whatever the stream count. A per-side summary answers most reads alone.

Nothing here reads or writes storage: the token service loads rows, calls these, and stores the result.
"""
from __future__ import annotations


Delta = tuple[int, int]
"""(ΣR, ΣC): rate changes, and lumps minus rate changes times their block."""

ZERO: Delta = (0, 0)
Event = tuple[int, int, int]
"""(block, rate change, lump) of one event of a stream segment."""


def add(a: Delta, b: Delta) -> Delta:
    return (a[0] + b[0], a[1] + b[1])


def sub(a: Delta, b: Delta) -> Delta:
    return (a[0] - b[0], a[1] - b[1])


def event_delta(block: int, rate_change: int, lump: int) -> Delta:
    return (rate_change, lump - rate_change * block)


def flow(rate: int, b0: int, b: int, pending: Delta) -> int:
    """Amount that flowed over (b0, b] given the rate at b0 and the events in (b0, b]."""
    return rate * (b - b0) + b * pending[0] + pending[1]


# --- one stream ---------------------------------------------------------------------


def split_amount(amount: int, duration: int) -> tuple[int, int]:
    """The exact rule: ``amount // duration`` per block, the remainder at the last block."""
    return amount // duration, amount % duration


def segment_streamed(seg_start: int, end: int, rate: int, remainder: int, block: int) -> int:
    """What a segment (rate from seg_start, remainder at end) has paid by ``block``."""
    if block <= seg_start:
        return 0
    if block >= end:
        return rate * (end - seg_start) + remainder
    return rate * (block - seg_start)


def segment_events(seg_start: int, end: int, rate: int, remainder: int) -> list[Event]:
    """The two events a segment puts on each party's schedule."""
    return [(seg_start, rate, 0), (end, -rate, remainder)]


# --- a tree of sums over block numbers, sixteen children per node ----------------------
#
# Level 0 holds one node per block (the sum of that block's events); a node of level L
# sums the sixteen nodes of level L-1 under it, so it covers the blocks whose number
# shifted right by 4·L is its index. An event updates one node per level; the events up
# to block b are, at each level, the nodes left of b's own ancestor under the same parent
# (and b itself at level 0): a range of at most sixteen nodes per level, adjacent in
# storage. Nodes are numbered level by level (tree_node), so each level's range is a range
# of node numbers too. A Fenwick tree (binary) touched ~13 nodes in as many places per
# event at a realistic block height; this one touches 7, and the upper ones are shared.

TREE_BITS = 4
"""log2 of a node's children."""
TREE_MAX_BLOCK = 2**62
"""The last block a tree covers: :data:`streamable_token.constants.MAX_BLOCK` (this module
imports nothing; tests/test_schedule.py checks the two agree)."""
_LEVEL_BASE = [0]
while len(_LEVEL_BASE) * TREE_BITS < 64:
    _LEVEL_BASE.append(_LEVEL_BASE[-1] + (TREE_MAX_BLOCK >> (TREE_BITS * (len(_LEVEL_BASE) - 1))) + 1)
TREE_MAX_LEVELS = len(_LEVEL_BASE)
"""Levels that cover every block up to 2^62 (16); node numbers stay below 2^63."""


def tree_node(level: int, index: int) -> int:
    """The number of the node of ``level`` at ``index``: levels one after the other."""
    return _LEVEL_BASE[level] + index


def tree_levels_for(block: int, levels: int = 1) -> int:
    """The fewest levels (at least ``levels``) whose top covers ``block``: block < 16^levels."""
    while block >> (TREE_BITS * levels):
        levels += 1
    return levels


def update_nodes(block: int, levels: int) -> list[int]:
    """The nodes whose sums include ``block``'s events, one per level."""
    return [tree_node(level, block >> (TREE_BITS * level)) for level in range(levels)]


def prefix_ranges(block: int) -> list[tuple[int, int]]:
    """Ranges of nodes (first, last) that add up to the events at blocks <= ``block`` in
    any tree whose top covers ``block``."""
    ranges = []
    level = 0
    while True:
        mine = block >> (TREE_BITS * level)
        first = mine >> TREE_BITS << TREE_BITS
        last = mine if level == 0 else mine - 1
        if last >= first:
            ranges.append((tree_node(level, first), tree_node(level, last)))
        if mine >> TREE_BITS == 0:  # the parent is the top's: nothing left of it
            return ranges
        level += 1


def top_range(levels: int) -> tuple[int, int]:
    """The nodes of a tree's top level, which together hold every event in the tree."""
    return tree_node(levels - 1, 0), tree_node(levels - 1, (1 << TREE_BITS) - 1)


def query_ranges(block: int, levels: int) -> list[tuple[int, int]]:
    """:func:`prefix_ranges` in a tree of ``levels``, whose top may not cover ``block``:
    then every event is at or before it."""
    if block >> (TREE_BITS * levels):
        return [top_range(levels)]
    return prefix_ranges(block)


def grown_nodes(old_levels: int, new_levels: int) -> list[int]:
    """Nodes added when a tree grows levels: the first node of each new level, which
    covers the old top's whole domain and so holds every event so far."""
    return [tree_node(level, 0) for level in range(old_levels, new_levels)]


def ranges_sum(nodes: dict[int, Delta], ranges: list[tuple[int, int]]) -> Delta:
    """Σ of the stored nodes in ``ranges`` (a reference for tests; SQLite sums them)."""
    total = ZERO
    for node, value in nodes.items():
        if any(first <= node <= last for first, last in ranges):
            total = add(total, value)
    return total


# --- where a side keeps its pending events ---------------------------------------------

INLINE_MAX_EVENTS = 256
"""Past this many pending events a side moves to the tree."""
