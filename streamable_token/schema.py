"""Schema and forward migrations, versioned with SQLite's ``user_version``.

Each migration is applied once, in order, in its own transaction; a database written by
an older version opens and is brought forward, never the other way round. A migration is
an SQL script, or a function when rows must be rewritten by Python (decoded blobs).
"""
from __future__ import annotations

import pathlib
import sqlite3
import struct
from typing import Callable, Iterator, Optional, Union

from streamable_token.blobs import blob_to_int, int_to_blob

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
        r0       INTEGER NOT NULL,  -- Σ rate change and Σ c as 54-bit limbs (db.store)
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


def _summaries_out_of_ledger_rows(conn: sqlite3.Connection) -> None:
    """2: pending events move out of the ledger row into summable rows (side_events, or
    tree nodes as limbs) and each side gets the summary that lets most reads skip them."""
    # (imported here: the store imports the domain, which imports this module)
    from streamable_token.store import add_event, store_nodes
    from streamable_token.schedule import ZERO, add, event_delta, prefix_sum, query_path, sub

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


MIGRATIONS: list[Union[str, Callable[[sqlite3.Connection], None]]] = [
    # 1: tokens, accounts, one ledger per (account, token), Fenwick nodes, streams.
    """
    CREATE TABLE tokens (
        id        INTEGER PRIMARY KEY,
        address   BLOB NOT NULL UNIQUE CHECK (length(address) = 20),
        deposited BLOB NOT NULL,   -- uint, minimal big-endian (db.codec)
        withdrawn BLOB NOT NULL
    );
    CREATE TABLE accounts (
        id      INTEGER PRIMARY KEY,
        address BLOB NOT NULL UNIQUE CHECK (length(address) = 20)
    );
    -- (replaced by migration 2)
    CREATE TABLE ledgers (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        token_id   INTEGER NOT NULL REFERENCES tokens(id),
        block      INTEGER NOT NULL,
        available  BLOB NOT NULL,
        committed  BLOB NOT NULL,
        in_rate    BLOB NOT NULL,
        out_rate   BLOB NOT NULL,
        in_events  BLOB NOT NULL,
        out_events BLOB NOT NULL,
        in_tree    INTEGER NOT NULL DEFAULT 0,
        out_tree   INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, token_id)
    );
    -- Fenwick tree nodes of large schedules; side_key = ledger id * 2 + (0 in, 1 out).
    CREATE TABLE tree_nodes (
        side_key INTEGER NOT NULL,
        node     INTEGER NOT NULL,
        r        BLOB NOT NULL,    -- Σ rate changes, signed minimal two's complement
        c        BLOB NOT NULL,    -- Σ (lump - rate change * block)
        PRIMARY KEY (side_key, node)
    ) WITHOUT ROWID;
    CREATE TABLE streams (
        id              INTEGER PRIMARY KEY,
        token_id        INTEGER NOT NULL REFERENCES tokens(id),
        sender_id       INTEGER NOT NULL REFERENCES accounts(id),
        receiver_id     INTEGER NOT NULL REFERENCES accounts(id),
        amount          BLOB NOT NULL,
        start_block     INTEGER NOT NULL,
        end_block       INTEGER NOT NULL,
        opened_block    INTEGER NOT NULL,
        seg_start       INTEGER NOT NULL,  -- the current rate applies from here
        rate            BLOB NOT NULL,
        remainder       BLOB NOT NULL,
        streamed_before BLOB NOT NULL,     -- paid before seg_start (after an update)
        canceled_block  INTEGER
    );
    CREATE INDEX streams_by_sender ON streams (sender_id, id);
    CREATE INDEX streams_by_receiver ON streams (receiver_id, id);
    -- Small key-value state of the DApp shell (last input, its outputs).
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
    _summaries_out_of_ledger_rows,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema forward to SCHEMA_VERSION; returns the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {found} is newer than this code ({SCHEMA_VERSION})"
        )
    for version in range(found, SCHEMA_VERSION):
        step = MIGRATIONS[version]
        try:
            if isinstance(step, str):
                conn.executescript(
                    f"BEGIN IMMEDIATE; {step}; PRAGMA user_version = {version + 1}; COMMIT;"
                )
            else:  # plain execute calls only: executescript would commit half-way
                conn.execute("BEGIN IMMEDIATE")
                step(conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) with WAL and foreign keys, in manual transaction mode.

    ``isolation_level=None`` means the sqlite3 module never opens a transaction on its
    own: the caller (one rollup input, one transaction) decides where they begin and end.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: keeps hot tree pages in memory
    migrate(conn)
    return conn


def database_file(conn: sqlite3.Connection) -> Optional[str]:
    """The file ``conn`` has open as its main database; None for an in-memory one."""
    return conn.execute("PRAGMA database_list").fetchone()[2] or None


def connect_read_only(conn: sqlite3.Connection) -> Optional[sqlite3.Connection]:
    """A read-only connection to the file ``conn`` has open (None for an in-memory
    database), for queries that must not write and must not disturb ``conn``."""
    path = database_file(conn)
    if path is None:
        return None
    reader = sqlite3.connect(
        f"{pathlib.Path(path).as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    reader.execute("PRAGMA query_only = 1")
    reader.execute("PRAGMA cache_size = -32768")
    return reader
