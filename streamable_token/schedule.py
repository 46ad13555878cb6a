"""The streaming schedule: how an account's balance moves over blocks, as pure functions.

Every stream is two *events* on each party's schedule: at its start block the flow rate
rises by ``rate``; at its end block the rate falls by ``rate`` and the ``remainder`` lands
as a lump. The amount that has flowed by block ``b`` since a settled block ``b0`` is then

    flow(b) = rate0 * (b - b0) + sum over events b0 < b_k <= b of R_k * (b - b_k) + L_k
            = rate0 * (b - b0) + b * ΣR + Σ(L_k - R_k * b_k)

so a schedule needs only two running sums over its pending events, ``(ΣR, ΣC)`` with
``C = L - R * b`` (a :data:`Delta`), never a loop over streams. Small schedules keep their
pending events as one row per block, summed by SQLite over a range; large ones (a DEX pool,
a payroll treasury) keep them in a Fenwick tree over block numbers, so a prefix sum costs
O(log blocks) rows whatever the stream count. A per-side summary answers most reads alone.

Nothing here reads or writes storage: the token service loads rows, calls these, and stores the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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


# --- Fenwick tree over block numbers --------------------------------------------------


def tree_size_for(block: int, size: int = 1) -> int:
    """Smallest power of two >= block (and >= size): the tree's domain is [1, size]."""
    while size < block:
        size *= 2
    return size


def update_path(block: int, size: int) -> list[int]:
    """Nodes whose sums include ``block``, in a tree over [1, size]."""
    path = []
    i = block
    while i <= size:
        path.append(i)
        i += i & -i
    return path


def prefix_path(block: int) -> list[int]:
    """Nodes whose sums add up to the prefix [1, block] in any tree larger than ``block``."""
    path = []
    i = block
    while i > 0:
        path.append(i)
        i -= i & -i
    return path


def query_path(block: int, size: int) -> list[int]:
    """Nodes whose sums add up to the prefix [1, block] in a tree over [1, size]."""
    return [size] if block >= size else prefix_path(block)


def grown_roots(old_size: int, new_size: int) -> list[int]:
    """Roots added when the domain doubles from old_size to new_size.

    Each new root covers [1, 2^k] and holds what the old root held, since no event lies
    beyond the old domain yet.
    """
    roots = []
    n = old_size * 2
    while n <= new_size:
        roots.append(n)
        n *= 2
    return roots


def prefix_sum(nodes: dict[int, Delta], path: list[int]) -> Delta:
    total = ZERO
    for node in path:
        value = nodes.get(node)
        if value is not None:
            total = add(total, value)
    return total


# --- one side of an account's ledger ---------------------------------------------------

INLINE_MAX_EVENTS = 256
"""Past this many pending events a side moves to the Fenwick tree."""


class Side:
    """One direction of flow on a ledger: incoming (adds to available) or outgoing
    (drains committed). ``rate`` is the flow per block at the ledger's settled block.

    The side keeps a summary of its pending events so that most reads need none of them:
    they all lie in ``[first, last]`` (both 0 when none is pending) and sum to ``total``.
    A read before ``first`` sees no event, a read at or after ``last`` sees them all; only
    a block in between needs the events themselves: up to INLINE_MAX_EVENTS of them are
    rows (one per block, ``count`` of them), more go to a Fenwick tree of ``tree_size``.
    The bounds may be loose (a removed event does not shrink them), which costs at most a
    read that tighter bounds would have skipped. A tree keeps settled events too, so
    ``base`` is its prefix sum at the settled block: the pending sum up to ``b`` is the
    tree's prefix at ``b`` minus ``base``. Rows of settled events are deleted (base 0).
    """

    __slots__ = ("rate", "tree_size", "count", "first", "last", "total", "base", "prefix_at")

    def __init__(
        self,
        rate: int = 0,
        tree_size: int = 0,
        count: int = 0,
        first: int = 0,
        last: int = 0,
        total: Delta = ZERO,
        base: Delta = ZERO,
    ) -> None:
        self.rate = rate
        self.tree_size = tree_size
        self.count = count
        self.first = first
        self.last = last
        self.total = total
        self.base = base
        self.prefix_at: tuple[int, Delta] | None = None
        """(block, prefix sum of the stored events at block) when a read fetched it with the row."""

    def needs_events(self, b: int) -> bool:
        """Whether the pending sum up to ``b`` needs the stored events: only inside the
        bounds. Before ``first`` none has happened, at or after ``last`` all have.
        (The ledger store asks SQLite the same, NEEDS_EVENTS_SQL.)"""
        return self.first <= b < self.last

    def pending(self, b: int) -> Optional[Delta]:
        """Sum of pending events up to ``b`` when the summary (or a prefix fetched with
        the ledger row) answers, else None: then the stored events must be summed."""
        if not self.needs_events(b):
            return self.total if self.last and b >= self.last else ZERO
        if self.prefix_at is not None and self.prefix_at[0] == b:
            return sub(self.prefix_at[1], self.base)
        return None

    def settled(self, b: int, pending: Delta, removed: int = 0) -> None:
        """Account for the events up to ``b`` (summing to ``pending``, ``removed`` rows of
        them deleted) having happened."""
        self.rate += pending[0]
        self.total = sub(self.total, pending)
        if self.tree_size:
            self.base = add(self.base, pending)
        self.count -= removed
        if b >= self.last or (not self.tree_size and not self.count):
            self.first = self.last = 0
        else:
            self.first = max(self.first, b + 1)

    def added(self, block: int, delta: Delta, new_rows: int = 0) -> None:
        """Account for one more pending event (its block is after the settled block);
        ``new_rows`` is how the number of event rows changed (+1, 0, or -1 if it cancelled
        out an event at the same block)."""
        self.total = add(self.total, delta)
        self.count += new_rows
        if not self.tree_size and not self.count:
            self.first = self.last = 0
        else:
            self.first = min(self.first, block) if self.last else block
            self.last = max(self.last, block)

    @property
    def idle(self) -> bool:
        """No flow and nothing pending: its flow is zero at every later block."""
        return not self.rate and not self.last


@dataclass
class Ledger:
    """What one account holds of one token, settled at ``block``.

    available(b) = available + incoming flow over (block, b]
    committed(b) = committed - outgoing flow over (block, b]
    Both stored figures are >= 0 and the flows only grow, so no figure can go negative.
    """

    id: int
    block: int
    available: int
    committed: int
    incoming: Side
    outgoing: Side
