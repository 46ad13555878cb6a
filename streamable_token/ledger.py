"""The Ledger owns money: what one account holds of one token, and the only code that
changes those figures.

``available`` and ``committed`` change only through :class:`Ledger`'s methods, each
keeping the ledger's rule: both figures stay >= 0, and money only moves between them or
in and out through a named door (credit, debit, commit, release, and a side's flow when
it settles). The token service decides *whether* a call may happen (business rules,
refusals with names); the ledger decides that the figures stay right whatever it is
asked. Superfluid's boundary is the model: only the agreement moves a settled balance.

Pure: no storage. :mod:`streamable_token.ledger_row` encodes a ledger as a row,
:mod:`streamable_token.ledger_store` loads it with the sums of its pending events.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from streamable_token.constants import MAX_UINT256
from streamable_token.schedule import ZERO, Delta, add, flow, sub

INCOMING, OUTGOING = 0, 1
"""Which side of a ledger: flow in (adds to available), flow out (drains committed)."""


class Overdraft(ValueError):
    """A ledger was asked to take more from a figure than it holds. The token service
    turns it into the refusal its caller reads (:class:`~streamable_token.errors.InsufficientFunds`)."""

    def __init__(self, figure: str, needed: int, held: int) -> None:
        self.figure, self.needed, self.held = figure, needed, held
        super().__init__(f"{figure} {held} cannot cover {needed}")


class Side:
    """One direction of flow on a ledger: incoming (adds to available) or outgoing
    (drains committed), settled at its own ``block``: ``rate`` is the flow per block
    there, and its pending events are those after it. The two sides of a ledger settle
    apart, each when a call needs it (see :class:`Ledger`).

    The side keeps a summary of its pending events so that most reads need none of them:
    they all lie in ``[first, last]`` (both 0 when none is pending) and sum to ``total``.
    A read before ``first`` sees no event, a read at or after ``last`` sees them all; only
    a block in between needs the events themselves: up to INLINE_MAX_EVENTS of them are
    rows (one per block, ``count`` of them), more go to a tree of ``tree_levels``.
    The bounds may be loose (a removed event does not shrink them), which costs at most a
    read that tighter bounds would have skipped. A tree keeps settled events too, so
    ``base`` is its prefix sum at the settled block: the pending sum up to ``b`` is the
    tree's prefix at ``b`` minus ``base``. Rows of settled events are deleted (base 0).
    """

    __slots__ = ("rate", "tree_levels", "count", "first", "last", "total", "base", "block", "prefix_at")

    def __init__(
        self,
        rate: int = 0,
        tree_levels: int = 0,
        count: int = 0,
        first: int = 0,
        last: int = 0,
        total: Delta = ZERO,
        base: Delta = ZERO,
        block: int = 0,
    ) -> None:
        self.rate = rate
        self.tree_levels = tree_levels
        self.count = count
        self.first = first
        self.last = last
        self.total = total
        self.base = base
        self.block = block
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
        them deleted) having happened: the side is settled at ``b``."""
        self.block = b
        self.rate += pending[0]
        self.total = sub(self.total, pending)
        if self.tree_levels:
            self.base = add(self.base, pending)
        self.count -= removed
        if b >= self.last or (not self.tree_levels and not self.count):
            self.first = self.last = 0
        else:
            self.first = max(self.first, b + 1)

    def added(self, block: int, delta: Delta, new_rows: int = 0) -> None:
        """Account for one more pending event (its block is after the side's block);
        ``new_rows`` is how the number of event rows changed (+1, 0, or -1 if it cancelled
        out an event at the same block)."""
        self.total = add(self.total, delta)
        self.count += new_rows
        if not self.tree_levels and not self.count:
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
    """What one account holds of one token; ``block`` is its last change (no call may
    act on it at an earlier block).

    available(b) = available + incoming flow over (incoming.block, b]
    committed(b) = committed - outgoing flow over (outgoing.block, b]
    Both stored figures are >= 0 and the flows only grow, so no figure can go negative.
    The two flows touch different figures, so each side settles on its own, when a call
    needs it: spending settles the incoming side (what is available must be known),
    adding or removing a stream's events settles that side, and a credit (a deposit, a
    transfer in, a refund) settles neither. A cancel thus sums the pending events of the
    sender's outgoing and the receiver's incoming side, not all four.
    """

    id: int
    block: int
    available: int
    committed: int
    incoming: Side
    outgoing: Side

    def credit(self, amount: int) -> None:
        """Money in: a deposit, a transfer received."""
        if amount < 0:
            raise ValueError(f"a credit of {amount}")
        self.available += amount

    def debit(self, amount: int) -> None:
        """Money out of what is available: a withdrawal, a transfer sent."""
        if not 0 <= amount <= self.available:
            raise Overdraft("available", amount, self.available)
        self.available -= amount

    def commit(self, amount: int) -> None:
        """Set aside available money for a stream, to flow out over its blocks."""
        if not 0 <= amount <= self.available:
            raise Overdraft("available", amount, self.available)
        self.available -= amount
        self.committed += amount

    def release(self, amount: int) -> None:
        """Give back committed money that will no longer flow (a cancel's refund, a
        stream decreased)."""
        if not 0 <= amount <= self.committed:
            raise Overdraft("committed", amount, self.committed)
        self.committed -= amount
        self.available += amount

    def settle_side(self, which: int, block: int, pending: Delta, removed: int = 0) -> None:
        """A side's events up to ``block`` (summing to ``pending``, ``removed`` rows of
        them deleted) have happened: what flowed in is available, what flowed out has
        left committed."""
        side = self.outgoing if which == OUTGOING else self.incoming
        moved = flow(side.rate, side.block, block, pending)
        side.settled(block, pending, removed)
        if which == INCOMING:
            self.available += moved
        elif moved > self.committed:
            raise Overdraft("committed", moved, self.committed)
        else:
            self.committed -= moved

    def balance_at(self, flowed_in: int, flowed_out: int) -> "Balance":
        """The figures once the sides have flowed this much more: what a read at a later
        block sees, the stored figures untouched."""
        available, committed = self.available + flowed_in, self.committed - flowed_out
        return Balance(available + committed, available, committed)


class Balance(NamedTuple):
    """What an account holds of a token at a block: ``balance`` = available + committed."""

    balance: int
    available: int
    committed: int


class Supply(NamedTuple):
    """What a token's holders hold in all: deposited minus withdrawn since genesis."""

    deposited: int
    withdrawn: int

    @property
    def held(self) -> int:
        """The sum of every balance of the token (conservation)."""
        return self.deposited - self.withdrawn

    @property
    def room(self) -> int:
        """How much more may be deposited before the total leaves uint256."""
        return MAX_UINT256 - self.held

    def minted(self, amount: int) -> "Supply":
        if not 0 <= amount <= self.room:
            raise Overdraft("supply room", amount, self.room)
        return Supply(self.deposited + amount, self.withdrawn)

    def burned(self, amount: int) -> "Supply":
        if not 0 <= amount <= self.held:
            raise Overdraft("supply", amount, self.held)
        return Supply(self.deposited, self.withdrawn + amount)
