"""Schema version 2 (frozen): pending events move out of the ledger row into summable rows.

Never edit, and never import live code here: this is the code that wrote version 2, with
the helpers it used (the limb codec, the event delta, Fenwick paths) copied as they were,
so a version-1 database is brought forward the same way whatever later versions change.
"""
from __future__ import annotations

import sqlite3
import struct
from typing import Iterator, Optional

Delta = tuple[int, int]
ZERO: Delta = (0, 0)


def add(a: Delta, b: Delta) -> Delta:
    return (a[0] + b[0], a[1] + b[1])


def sub(a: Delta, b: Delta) -> Delta:
    return (a[0] - b[0], a[1] - b[1])


def event_delta(block: int, rate_change: int, lump: int) -> Delta:
    return (rate_change, lump - rate_change * block)


def prefix_path(block: int) -> list[int]:
    path = []
    i = block
    while i > 0:
        path.append(i)
        i -= i & -i
    return path


def query_path(block: int, size: int) -> list[int]:
    return [size] if block >= size else prefix_path(block)


def prefix_sum(nodes: dict[int, Delta], path: list[int]) -> Delta:
    total = ZERO
    for node in path:
        value = nodes.get(node)
        if value is not None:
            total = add(total, value)
    return total


def int_to_blob(n: int) -> bytearray:
    return bytearray(n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True))


def blob_to_int(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


_LIMB = 54
_LIMB_MASK = (1 << _LIMB) - 1
_LIMB_RANGE = 1 << (3 * _LIMB)
_DELTA_COLUMNS = "r0, r1, r2, c0, c1, c2, big"


def _limbs(n: int) -> tuple[int, int, int]:
    m = -n if n < 0 else n
    low, middle, high = m & _LIMB_MASK, (m >> _LIMB) & _LIMB_MASK, m >> (2 * _LIMB)
    return (-low, -middle, -high) if n < 0 else (low, middle, high)


def _join(low: int, middle: int, high: int) -> int:
    return low + (middle << _LIMB) + (high << (2 * _LIMB))


def _delta_columns(value: Delta) -> tuple:
    r, c = value
    if -_LIMB_RANGE < r < _LIMB_RANGE and -_LIMB_RANGE < c < _LIMB_RANGE:
        return (*_limbs(r), *_limbs(c), None)
    rb = int_to_blob(r)
    return (0, 0, 0, 0, 0, 0, bytearray((len(rb),)) + rb + int_to_blob(c))


def _delta_of(r0: int, r1: int, r2: int, c0: int, c1: int, c2: int, big: Optional[bytes]) -> Delta:
    if big is not None:
        return blob_to_int(big[1 : 1 + big[0]]), blob_to_int(big[1 + big[0] :])
    return _join(r0, r1, r2), _join(c0, c1, c2)


def add_event(conn: sqlite3.Connection, side_key: int, block: int, delta: Delta) -> int:
    row = conn.execute(
        f"SELECT {_DELTA_COLUMNS} FROM side_events WHERE side_key = ? AND block = ?", (side_key, block)
    ).fetchone()
    if row is not None:
        old = _delta_of(*row)
        delta = (old[0] + delta[0], old[1] + delta[1])
        if delta == ZERO:
            conn.execute("DELETE FROM side_events WHERE side_key = ? AND block = ?", (side_key, block))
            return -1
    conn.execute(
        f"INSERT OR REPLACE INTO side_events (side_key, block, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (side_key, block, *_delta_columns(delta)),
    )
    return 0 if row is not None else 1


def store_nodes(conn: sqlite3.Connection, side_key: int, nodes: dict[int, Delta]) -> None:
    conn.executemany(
        f"INSERT OR REPLACE INTO tree_nodes (side_key, node, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(side_key, n, *_delta_columns(v)) for n, v in sorted(nodes.items())],
    )


LEDGERS_V2 = """
    -- What an account holds of a token, settled at `block`: available and committed
    -- amounts and, per side (in, out), the flow rate at that block and a summary of the
    -- side's pending events: all lie in [first, last] (0, 0 when none) and their sums
    -- (Σ rate change, Σ lump - rate change * block) are r, c. The events themselves are
    -- `count` rows of side_events (few) or tree_nodes (many, when *_tree > 0, the tree's
    -- size); base is then the tree's prefix sum at `block`. Sums are signed minimal
    -- two's complement.
    CREATE TABLE ledgers (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        token_id   INTEGER NOT NULL REFERENCES tokens(id),
        block      INTEGER NOT NULL,
        available  BLOB NOT NULL,
        committed  BLOB NOT NULL,
        in_rate    BLOB NOT NULL,
        in_tree    INTEGER NOT NULL,
        in_count   INTEGER NOT NULL,
        in_first   INTEGER NOT NULL,
        in_last    INTEGER NOT NULL,
        in_r       BLOB NOT NULL,
        in_c       BLOB NOT NULL,
        in_base_r  BLOB NOT NULL,
        in_base_c  BLOB NOT NULL,
        out_rate   BLOB NOT NULL,
        out_tree   INTEGER NOT NULL,
        out_count  INTEGER NOT NULL,
        out_first  INTEGER NOT NULL,
        out_last   INTEGER NOT NULL,
        out_r      BLOB NOT NULL,
        out_c      BLOB NOT NULL,
        out_base_r BLOB NOT NULL,
        out_base_c BLOB NOT NULL,
        UNIQUE (account_id, token_id)
    )
"""

DELTA_COLUMNS = """
        r0       INTEGER NOT NULL,  -- Σ rate change and Σ c as 54-bit limbs (see _limbs)
        r1       INTEGER NOT NULL,
        r2       INTEGER NOT NULL,
        c0       INTEGER NOT NULL,
        c1       INTEGER NOT NULL,
        c2       INTEGER NOT NULL,
        big      BLOB,              -- or whole, when too large for the limbs
"""

SIDE_EVENTS = f"""
    -- The pending events of a side that has few, aggregated per block
    -- (side_key = ledger id * 2 + (0 in, 1 out)).
    CREATE TABLE side_events (
        side_key INTEGER NOT NULL,
        block    INTEGER NOT NULL,{DELTA_COLUMNS}
        PRIMARY KEY (side_key, block)
    ) WITHOUT ROWID
"""

TREE_NODES_V2 = f"""
    -- Fenwick tree nodes over block numbers of the sides that have many pending events.
    CREATE TABLE tree_nodes (
        side_key INTEGER NOT NULL,
        node     INTEGER NOT NULL,{DELTA_COLUMNS}
        PRIMARY KEY (side_key, node)
    ) WITHOUT ROWID
"""


def migrate(conn: sqlite3.Connection) -> None:
    """2: pending events move out of the ledger row into summable rows (side_events, or
    tree nodes as limbs) and each side gets the summary that lets most reads skip them."""
    conn.execute("ALTER TABLE ledgers RENAME TO ledgers_v1")
    conn.execute("ALTER TABLE tree_nodes RENAME TO tree_nodes_v1")
    conn.execute(LEDGERS_V2)
    conn.execute(SIDE_EVENTS)
    conn.execute(TREE_NODES_V2)
    rows = conn.execute(
        "SELECT id, account_id, token_id, block, available, committed, in_rate, in_events,"
        " in_tree, out_rate, out_events, out_tree FROM ledgers_v1 ORDER BY id"
    ).fetchall()
    for lid, account_id, token_id, block, available, committed, *sides in rows:
        values: list = [lid, account_id, token_id, block, available, committed]
        for which, (rate, packed, tree) in enumerate((sides[:3], sides[3:])):
            side_key = lid * 2 + which
            total, base, count, first, last = ZERO, ZERO, 0, 0, 0
            if packed:
                events = list(_v1_events(packed))
                for ev in events:
                    delta = event_delta(*ev)
                    total = add(total, delta)
                    count += add_event(conn, side_key, ev[0], delta)
                first, last = events[0][0], events[-1][0]
            elif tree:
                nodes = {
                    n: (blob_to_int(r), blob_to_int(c))
                    for n, r, c in conn.execute(
                        "SELECT node, r, c FROM tree_nodes_v1 WHERE side_key = ? ORDER BY node", (side_key,)
                    )
                }
                store_nodes(conn, side_key, nodes)
                base = prefix_sum(nodes, query_path(block, tree))
                total = sub(prefix_sum(nodes, query_path(tree, tree)), base)
                if tree > block:
                    first, last = block + 1, tree
            values += [rate, tree, count, first, last, *map(int_to_blob, total + base)]
        conn.execute(f"INSERT INTO ledgers VALUES ({', '.join('?' * len(values))})", values)
    conn.execute("DROP TABLE ledgers_v1")
    conn.execute("DROP TABLE tree_nodes_v1")


def _v1_events(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(block, rate change, lump) of a side's events as schema 1 packed them: format byte
    1 then fixed 32-byte records, or 0 then block(8) ‖ len ‖ rate change ‖ len ‖ lump."""
    if data[0] == 1:
        for block, high, low, lump in struct.iter_unpack(">QqQq", data[1:]):
            yield block, (high << 64) | low, lump
        return
    i = 1
    while i < len(data):
        block = int.from_bytes(data[i : i + 8], "big")
        j = i + 9 + data[i + 8]
        rate_change = blob_to_int(data[i + 9 : j])
        i = j + 1 + data[j]
        yield block, rate_change, blob_to_int(data[j + 1 : i])
