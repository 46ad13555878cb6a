"""Schema version 1 (frozen): tokens, accounts, one ledger per (account, token) with its
pending events packed in BLOBs, Fenwick nodes of large schedules, streams, meta.

Never edit: a database written at version 1 is brought forward from exactly this.
"""
from __future__ import annotations

import sqlite3

SQL = (
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
    """
)


def statements(script: str) -> list[str]:
    """The complete statements of ``script`` in order (``executescript`` would commit
    first, and migrations run inside the caller's transaction)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement: {current.strip()[:80]!r}")
    return out


def migrate(conn: sqlite3.Connection) -> None:
    """0 -> 1: create the version-1 tables (only tests create a version-1 database now)."""
    for statement in statements(SQL):
        conn.execute(statement)
