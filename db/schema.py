"""Schema and forward migrations, versioned with SQLite's ``user_version``.

Each migration is applied once, in order, in its own transaction; a database written by
an older version opens and is brought forward, never the other way round.
"""
from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
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
    -- What an account holds of a token, settled at `block`: available and committed
    -- amounts, the incoming and outgoing flow rates at that block, and the pending
    -- events of each side, inline (packed) or in tree_nodes when *_tree > 0.
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
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[version]}; PRAGMA user_version = {version + 1}; COMMIT;"
            )
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
