"""Schema version 6 (frozen): event rows and tree nodes keep each sum in two 54-bit limbs
instead of three, and each side of a ledger has a settled block of its own.

Never edit: these are the version-6 tables as written, and the conversion of a version-5
database into them.

Ledgers: version 5's ``state`` text is ``block available committed`` then, for in and
out, ``rate count r c base_r base_c``, both sides settled at ``block``. Version 6 settles
each side when a call needs it, so each side's numbers start with its own block: ``block
available committed`` then, for in and out, ``block rate count r c base_r base_c``
(``block`` first is the ledger's last change). A version-5 ledger's sides both start at
its block.

Version 5 stored each of a Delta's two sums (Σ rate change, Σ c) as three signed limbs,
value = l0 + l1·2^54 + l2·2^108, and a value from ±2^162 on whole in ``big`` (the limbs
0; ``big`` is one byte giving the length of r's minimal two's complement, then r, then
c). Version 6 keeps two limbs, value = l0 + l1·2^54, and ``big`` from ±2^108 on, in the
same format. SQLite sums one column fewer per sum for every row a settle adds up.

A row or node whose top limbs are 0 keeps its other limbs as they are: an event row's
limbs all carry its value's sign (the canonical form the engine writes and compares), so
they still do; a tree node's may have mixed signs, which both versions allow. Any other
value is decoded and written again in the canonical form: two limbs below ±2^108 in
magnitude, else whole.
"""
from __future__ import annotations

import sqlite3

from streamable_token.migrations.m1_initial import statements
# version 5's three-limb decoding and the minimal two's complement of `big`, frozen there
from streamable_token.migrations.m5_ledger_state import _blob, _decode as _decode_v5

SQL = """
CREATE TABLE st_side_events (
    side_key INTEGER NOT NULL,
    block    INTEGER NOT NULL,
    r0       INTEGER NOT NULL,
    r1       INTEGER NOT NULL,
    c0       INTEGER NOT NULL,
    c1       INTEGER NOT NULL,
    big      BLOB,
    PRIMARY KEY (side_key, block)
) WITHOUT ROWID;
CREATE TABLE st_tree_nodes (
    side_key INTEGER NOT NULL,
    node     INTEGER NOT NULL,
    r0       INTEGER NOT NULL,
    r1       INTEGER NOT NULL,
    c0       INTEGER NOT NULL,
    c1       INTEGER NOT NULL,
    big      BLOB,
    PRIMARY KEY (side_key, node)
) WITHOUT ROWID;
"""

_LIMB = 54
_MASK = (1 << _LIMB) - 1
_RANGE = 1 << (2 * _LIMB)


def _limbs(n: int) -> tuple[int, int]:
    m = -n if n < 0 else n
    return (-(m & _MASK), -(m >> _LIMB)) if n < 0 else (m & _MASK, m >> _LIMB)


def _encode_v6(r: int, c: int) -> tuple:
    if -_RANGE < r < _RANGE and -_RANGE < c < _RANGE:
        return (*_limbs(r), *_limbs(c), None)
    rb = _blob(r)
    return (0, 0, 0, 0, bytes((len(rb),)) + rb + _blob(c))


def _state_v6(state: str) -> str:
    block, available, committed, *sides = state.split()
    return " ".join([block, available, committed, block, *sides[:6], block, *sides[6:]])


def migrate(conn: sqlite3.Connection) -> None:
    """5 -> 6: give each ledger side its block; rename the two tables of sums aside,
    create the new ones, copy every row (by SQL where the top limbs are 0, through Python
    otherwise), and drop the old tables."""
    conn.executemany(
        "UPDATE st_ledgers SET state = ? WHERE id = ?",
        [(_state_v6(state), lid) for lid, state in conn.execute("SELECT id, state FROM st_ledgers ORDER BY id").fetchall()],
    )
    tables = (("st_side_events", "block"), ("st_tree_nodes", "node"))
    for table, _ in tables:
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v5")
    for statement in statements(SQL):
        conn.execute(statement)
    for table, key in tables:
        two_limbs = "r2 = 0 AND c2 = 0 AND big IS NULL"
        conn.execute(
            f"INSERT INTO {table} (side_key, {key}, r0, r1, c0, c1, big)"
            f" SELECT side_key, {key}, r0, r1, c0, c1, NULL FROM {table}_v5 WHERE {two_limbs} ORDER BY side_key, {key}"
        )
        rest = conn.execute(
            f"SELECT side_key, {key}, r0, r1, r2, c0, c1, c2, big FROM {table}_v5 WHERE NOT ({two_limbs})"
            f" ORDER BY side_key, {key}"
        ).fetchall()
        conn.executemany(
            f"INSERT INTO {table} (side_key, {key}, r0, r1, c0, c1, big) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(side_key, k, *_encode_v6(*_decode_v5(*values))) for side_key, k, *values in rest],
        )
        conn.execute(f"DROP TABLE {table}_v5")
