"""Schema version 5 (frozen): a ledger's numbers that SQL never reads move into one
``state`` column of decimal integers, and the trees of busy sides get sixteen children a
node instead of two.

Never edit: this is the version-5 ledger table as written, and the conversion of a
version-4 database into it.

Ledgers: version 4 kept twelve signed or unsigned big-endian BLOBs and six INTEGERs per
ledger that only Python reads; every read and write of a ledger bound or fetched all of
them. Version 5 keeps the side bounds and tree levels that ledger reads test in SQL as
INTEGER columns and writes the rest as one text of decimal integers, which Python encodes
and decodes in one call each, exact at any size.

Trees: version 4 kept a side's many events in a Fenwick tree (node i sums the events in
(i - lowbit(i), i], ``*_tree`` its size). Version 5 keeps, per level L, a node per
block >> 4L holding the sum of those blocks' events (node numbers level after level,
``*_tree`` the number of levels), and only nodes whose sum is not zero. The conversion
takes each event block's own sum out of the Fenwick nodes and adds it into its nodes of
every level, with as many levels as the last block whose events do not sum to zero needs
(the engine may have grown a level more for an event since taken back; such a level's
first node only repeats the total, so both trees answer alike). ``st_tree_nodes`` keeps
its columns; ``st_side_events`` does not change.
"""
from __future__ import annotations

import sqlite3

from streamable_token.migrations.m1_initial import statements

SQL = """
CREATE TABLE st_ledgers (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES st_accounts(id),
    token_id   INTEGER NOT NULL REFERENCES st_tokens(id),
    in_tree    INTEGER NOT NULL,
    in_first   INTEGER NOT NULL,
    in_last    INTEGER NOT NULL,
    out_tree   INTEGER NOT NULL,
    out_first  INTEGER NOT NULL,
    out_last   INTEGER NOT NULL,
    state      TEXT NOT NULL,
    UNIQUE (account_id, token_id)
);
"""

_UNSIGNED = ("available", "committed", "in_rate", "out_rate")


def _number(column: str, blob: bytes) -> int:
    return int.from_bytes(blob, "big", signed=column not in _UNSIGNED)


def migrate(conn: sqlite3.Connection) -> None:
    """4 -> 5: rename the ledgers aside, create the new table, copy each ledger with its
    numbers as ``block available committed`` then, for in and out, ``rate count r c
    base_r base_c``, and drop the old table."""
    conn.execute("ALTER TABLE st_ledgers RENAME TO st_ledgers_v4")
    for statement in statements(SQL):
        conn.execute(statement)
    side = ("rate", "count", "r", "c", "base_r", "base_c")
    numbers = ["block", "available", "committed"] + [f"{s}_{c}" for s in ("in", "out") for c in side]
    kept = ["id", "account_id", "token_id", "in_tree", "in_first", "in_last", "out_tree", "out_first", "out_last"]
    rows = conn.execute(f"SELECT {', '.join(kept + numbers)} FROM st_ledgers_v4 ORDER BY id").fetchall()
    for row in rows:
        values = [v if isinstance(v, int) else _number(c, v) for c, v in zip(numbers, row[len(kept):])]
        conn.execute(
            f"INSERT INTO st_ledgers ({', '.join(kept)}, state) VALUES ({', '.join('?' * (len(kept) + 1))})",
            (*row[: len(kept)], " ".join(map(str, values))),
        )
    conn.execute("DROP TABLE st_ledgers_v4")
    for lid, in_tree, out_tree in conn.execute(
        "SELECT id, in_tree, out_tree FROM st_ledgers WHERE in_tree > 0 OR out_tree > 0 ORDER BY id"
    ).fetchall():
        for which, column, size in ((0, "in_tree", in_tree), (1, "out_tree", out_tree)):
            if size:
                levels = _convert_tree(conn, lid * 2 + which)
                conn.execute(f"UPDATE st_ledgers SET {column} = ? WHERE id = ?", (levels, lid))


# --- the two trees' node values, as versions 4 and 5 store them ------------------------

_LIMB = 54
_MASK = (1 << _LIMB) - 1
_RANGE = 1 << (3 * _LIMB)
_BITS = 4
_BASE = [0]
while len(_BASE) * _BITS < 64:
    _BASE.append(_BASE[-1] + (2**62 >> (_BITS * (len(_BASE) - 1))) + 1)


def _signed(blob: bytes) -> int:
    return int.from_bytes(blob, "big", signed=True)


def _decode(r0: int, r1: int, r2: int, c0: int, c1: int, c2: int, big: bytes | None) -> tuple[int, int]:
    if big is not None:
        return _signed(big[1 : 1 + big[0]]), _signed(big[1 + big[0] :])
    return r0 + (r1 << _LIMB) + (r2 << 2 * _LIMB), c0 + (c1 << _LIMB) + (c2 << 2 * _LIMB)


def _limbs(n: int) -> tuple[int, int, int]:
    m = -n if n < 0 else n
    low, middle, high = m & _MASK, (m >> _LIMB) & _MASK, m >> (2 * _LIMB)
    return (-low, -middle, -high) if n < 0 else (low, middle, high)


def _blob(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)


def _encode(r: int, c: int) -> tuple:
    if -_RANGE < r < _RANGE and -_RANGE < c < _RANGE:
        return (*_limbs(r), *_limbs(c), None)
    rb = _blob(r)
    return (0, 0, 0, 0, 0, 0, bytes((len(rb),)) + rb + _blob(c))


def _convert_tree(conn: sqlite3.Connection, key: int) -> int:
    """Rewrite one side's Fenwick nodes as the version-5 tree; returns its levels."""
    fenwick = {
        row[0]: _decode(*row[1:])
        for row in conn.execute("SELECT node, r0, r1, r2, c0, c1, c2, big FROM st_tree_nodes WHERE side_key = ?", (key,))
    }
    points = {}
    for node, (r, c) in fenwick.items():  # node minus its children: the events at its own block
        step = 1
        while step < node & -node:
            child = fenwick.get(node - step, (0, 0))
            r, c = r - child[0], c - child[1]
            step *= 2
        if r or c:
            points[node] = (r, c)
    levels = 1
    while points and max(points) >> (_BITS * levels):
        levels += 1
    sums: dict = {}
    for block, (r, c) in points.items():
        for level in range(levels):
            node = _BASE[level] + (block >> (_BITS * level))
            old = sums.get(node, (0, 0))
            sums[node] = (old[0] + r, old[1] + c)
    conn.execute("DELETE FROM st_tree_nodes WHERE side_key = ?", (key,))
    conn.executemany(
        "INSERT INTO st_tree_nodes (side_key, node, r0, r1, r2, c0, c1, c2, big) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(key, node, *_encode(*value)) for node, value in sorted(sums.items()) if value != (0, 0)],
    )
    return levels
