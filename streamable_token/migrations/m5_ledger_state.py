"""Schema version 5 (frozen): a ledger's numbers that SQL never reads move into one
``state`` column of decimal integers.

Never edit: this is the version-5 ledger table as written, and the copy of a version-4
database's ledgers into it. Version 4 kept twelve signed or unsigned big-endian BLOBs and
six INTEGERs per ledger that only Python reads; every read and write of a ledger bound or
fetched all of them. Version 5 keeps the side bounds and tree sizes that ledger reads test
in SQL as INTEGER columns and writes the rest as one text of decimal integers, which
Python encodes and decodes in one call each (``" ".join(map(str, ...))`` and
``map(int, text.split())``), exact at any size. No other table changes.
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
