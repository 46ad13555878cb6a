"""Schema version 3 (frozen): the engine's tables get the ``st_`` prefix and the version
moves from ``PRAGMA user_version`` into ``st_version``, so the engine can live in a host
DApp's own database beside its tables (and its own ``user_version``).

Never edit: this is the version-3 schema as written, and the copy of a version-2
database's rows into it.
"""
from __future__ import annotations

import sqlite3

from streamable_token.migrations.m1_initial import statements

SQL = """
CREATE TABLE st_tokens (
    id        INTEGER PRIMARY KEY,
    address   BLOB NOT NULL UNIQUE CHECK (length(address) = 20),
    deposited BLOB NOT NULL,
    withdrawn BLOB NOT NULL
);
CREATE TABLE st_accounts (
    id      INTEGER PRIMARY KEY,
    address BLOB NOT NULL UNIQUE CHECK (length(address) = 20)
);
CREATE TABLE st_ledgers (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES st_accounts(id),
    token_id   INTEGER NOT NULL REFERENCES st_tokens(id),
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
);
CREATE TABLE st_side_events (
    side_key INTEGER NOT NULL,
    block    INTEGER NOT NULL,
    r0       INTEGER NOT NULL,
    r1       INTEGER NOT NULL,
    r2       INTEGER NOT NULL,
    c0       INTEGER NOT NULL,
    c1       INTEGER NOT NULL,
    c2       INTEGER NOT NULL,
    big      BLOB,
    PRIMARY KEY (side_key, block)
) WITHOUT ROWID;
CREATE TABLE st_tree_nodes (
    side_key INTEGER NOT NULL,
    node     INTEGER NOT NULL,
    r0       INTEGER NOT NULL,
    r1       INTEGER NOT NULL,
    r2       INTEGER NOT NULL,
    c0       INTEGER NOT NULL,
    c1       INTEGER NOT NULL,
    c2       INTEGER NOT NULL,
    big      BLOB,
    PRIMARY KEY (side_key, node)
) WITHOUT ROWID;
CREATE TABLE st_streams (
    id              INTEGER PRIMARY KEY,
    token_id        INTEGER NOT NULL REFERENCES st_tokens(id),
    sender_id       INTEGER NOT NULL REFERENCES st_accounts(id),
    receiver_id     INTEGER NOT NULL REFERENCES st_accounts(id),
    amount          BLOB NOT NULL,
    start_block     INTEGER NOT NULL,
    end_block       INTEGER NOT NULL,
    opened_block    INTEGER NOT NULL,
    seg_start       INTEGER NOT NULL,
    rate            BLOB NOT NULL,
    remainder       BLOB NOT NULL,
    streamed_before BLOB NOT NULL,
    canceled_block  INTEGER
);
CREATE INDEX st_streams_by_sender ON st_streams (sender_id, id);
CREATE INDEX st_streams_by_receiver ON st_streams (receiver_id, id);
CREATE TABLE st_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE st_version (
    version INTEGER NOT NULL
);
"""

# parents before children, so every copied row finds the rows it references
_TABLES = ("tokens", "accounts", "ledgers", "side_events", "tree_nodes", "streams", "meta")


def migrate(conn: sqlite3.Connection) -> None:
    """2 -> 3: copy every table into its prefixed twin, drop the old ones, and leave
    ``user_version`` at 0 (a fresh database's; the version is in st_version from now on)."""
    for statement in statements(SQL):
        conn.execute(statement)
    for table in _TABLES:
        conn.execute(f"INSERT INTO st_{table} SELECT * FROM {table}")
    for table in reversed(_TABLES):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 0")
