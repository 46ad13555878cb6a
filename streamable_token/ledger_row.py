"""One ledger, one row of ``st_ledgers``: the column list, and encode and decode side by
side, so that a field added to a ledger touches this module and a migration only.

What SQL reads (a side's tree levels and the bounds of its pending events) are INTEGER
columns; everything else is ``state``, the decimal integers of :data:`STATE` separated by
spaces, which holds any uint256 (and the signed sums of a side) exactly.
"""
from __future__ import annotations

from typing import Sequence

from streamable_token.ledger import Ledger, Side

COLUMNS = ("id", "in_tree", "in_first", "in_last", "out_tree", "out_first", "out_last", "state")
"""The columns a ledger is read from and written to, in the order of :func:`decode`'s
arguments (``st_ledgers`` also has ``account_id`` and ``token_id``, which never change)."""
STATE = (
    "block", "available", "committed",
    "in.block", "in.rate", "in.count", "in.r", "in.c", "in.base_r", "in.base_c",
    "out.block", "out.rate", "out.count", "out.r", "out.c", "out.base_r", "out.base_c",
)
"""The numbers in ``state``, in order (``r``, ``c``: a side's pending total; ``base``: its
tree's prefix at the side's block)."""

INSERT = (f"INSERT INTO st_ledgers (account_id, token_id, {', '.join(COLUMNS[1:])})"
          f" VALUES (?, ?, {', '.join('?' * (len(COLUMNS) - 1))})")
"""Parameters: account id, token id, then :func:`encode` but its last (the id)."""
UPDATE = f"UPDATE st_ledgers SET {', '.join(f'{c} = ?' for c in COLUMNS[1:])} WHERE id = ?"
"""Parameters: :func:`encode`."""


def decode(row: Sequence) -> Ledger:
    """The ledger stored in a row whose first columns are :data:`COLUMNS` (a read may add
    more after them). Indexed rather than unpacked: every call reads two ledgers."""
    (block, available, committed, in_at, in_rate, in_count, in_r, in_c, in_base_r, in_base_c,
     out_at, out_rate, out_count, out_r, out_c, out_base_r, out_base_c) = map(int, row[7].split())
    return Ledger(
        row[0], block, available, committed,
        Side(in_rate, row[1], in_count, row[2], row[3], (in_r, in_c), (in_base_r, in_base_c), in_at),
        Side(out_rate, row[4], out_count, row[5], row[6], (out_r, out_c), (out_base_r, out_base_c), out_at),
    )


def encode(ledger: Ledger) -> tuple:
    """The values of :data:`COLUMNS` after ``id``, then the id: :data:`UPDATE`'s parameters."""
    i, o = ledger.incoming, ledger.outgoing
    state = " ".join(map(str, (
        ledger.block, ledger.available, ledger.committed,
        i.block, i.rate, i.count, *i.total, *i.base, o.block, o.rate, o.count, *o.total, *o.base,
    )))
    return i.tree_levels, i.first, i.last, o.tree_levels, o.first, o.last, state, ledger.id


def empty(block: int) -> Ledger:
    """A ledger with nothing in it, both sides settled at ``block``, not stored yet (id 0)."""
    return Ledger(0, block, 0, 0, Side(block=block), Side(block=block))
