"""The engine's tables: the current schema, written directly, and bringing older
databases forward with the frozen migrations (:mod:`streamable_token.migrations`).

Every table's name starts with ``st_`` (:data:`PREFIX`), so the engine can share a host
DApp's database with the host's own tables, and its version is in ``st_version`` (the
database's ``PRAGMA user_version`` stays the host's). :func:`ensure_schema` never commits
a transaction it did not open: inside the caller's transaction it works in a savepoint.
"""
from __future__ import annotations

import pathlib
import sqlite3
from typing import Optional

from streamable_token.migrations import LEGACY_VERSIONS, MIGRATIONS
from streamable_token.migrations.m1_initial import statements
from streamable_token.unit_of_work import OwnOrNested

PREFIX = "st_"
SCHEMA_VERSION = 6

CURRENT_SCHEMA = """
-- Tokens the DApp holds, with what was deposited and withdrawn since genesis (uints as
-- minimal big-endian BLOBs, streamable_token.blobs).
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
-- What an account holds of a token (streamable_token.ledger.Ledger), one row per ledger:
-- what SQL reads (per side: its tree levels, the bounds of its pending events) as INTEGER
-- columns, the rest in `state`. streamable_token.ledger_row is the codec, with the list of
-- the numbers in `state`.
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
-- The pending events of a side that has few, one row per block
-- (side_key = ledger id * 2 + (0 in, 1 out)); Σ rate change and Σ c as two 54-bit
-- limbs each, or whole in `big` when too large for them.
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
-- Tree nodes over block numbers of the sides that have many pending events: per level L
-- a node per block >> 4L with the sum of those blocks' events, numbered level after level
-- (streamable_token.schedule.tree_node); only nodes whose sum is not zero.
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
-- Streams; the current rate applies from seg_start, streamed_before was paid before it.
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
-- ERC-20 allowances: what `owner` lets `spender` take of a token (transfer_from, or
-- streams the spender opens as the owner's operator); uint BLOB, 2^256-1 is infinite.
-- A row exists only while the allowance is not 0.
CREATE TABLE st_allowances (
    token_id   INTEGER NOT NULL REFERENCES st_tokens(id),
    owner_id   INTEGER NOT NULL REFERENCES st_accounts(id),
    spender_id INTEGER NOT NULL REFERENCES st_accounts(id),
    amount     BLOB NOT NULL,
    PRIMARY KEY (token_id, owner_id, spender_id)
) WITHOUT ROWID;
-- The operator that opened a stream from its sender's allowance (it may cancel and update it).
CREATE TABLE st_stream_operators (
    stream_id   INTEGER PRIMARY KEY REFERENCES st_streams(id),
    operator_id INTEGER NOT NULL REFERENCES st_accounts(id)
);
-- Small key-value state of the router (last input, its outputs, last block).
CREATE TABLE st_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE st_version (
    version INTEGER NOT NULL
);
"""

HASHED_TABLES = {
    "st_tokens": "id",
    "st_accounts": "id",
    "st_ledgers": "id",
    "st_side_events": "side_key, block",
    "st_tree_nodes": "side_key, node",
    "st_streams": "id",
    "st_meta": "key",
    "st_allowances": "token_id, owner_id, spender_id",
    "st_stream_operators": "stream_id",
}
"""Every table of the state, with its primary key (the order the state hash reads)."""


def schema_version(conn: sqlite3.Connection) -> int:
    """The engine's schema version in this database: 0 when it has none of its tables,
    1 or 2 for a database of the DApp written before the tables had a prefix."""
    try:
        return conn.execute("SELECT version FROM st_version").fetchone()[0]
    except sqlite3.OperationalError:
        pass
    columns = {row[1] for row in conn.execute("PRAGMA table_info(ledgers)")}
    legacy = conn.execute("PRAGMA user_version").fetchone()[0]
    if "in_rate" in columns and legacy in LEGACY_VERSIONS:
        return legacy
    return 0


def ensure_schema(conn: sqlite3.Connection) -> int:
    """Create the engine's tables if missing, or bring them forward; returns the version
    found (0: created). A fresh database gets :data:`CURRENT_SCHEMA` directly."""
    found = schema_version(conn)
    if found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise RuntimeError(f"database schema version {found} is newer than this code ({SCHEMA_VERSION})")
    with OwnOrNested(conn, "st_schema"):
        if found == 0:
            for statement in statements(CURRENT_SCHEMA):
                conn.execute(statement)
        else:
            for version in range(found, SCHEMA_VERSION):
                MIGRATIONS[version](conn)
        conn.execute("DELETE FROM st_version")
        conn.execute("INSERT INTO st_version (version) VALUES (?)", (SCHEMA_VERSION,))
    return found


migrate = ensure_schema  # the name db/ and older callers use


CACHE_KIB = 8192
"""SQLite's page cache per connection (8 MiB). It holds what every input reads (the
B-tree interior pages, the ledgers and accounts of a million streams, a hub tree's upper
levels); the leaf pages of random accounts miss it at any size short of the whole file.
Measured at 1,000,000 streams, interleaved with 32 MiB: after 1,500 inputs of warm-up
the writes took the same time (0.98-1.01x); in a process that has just started they were
2-5% faster, as the cache stops taking fresh memory sooner (2 MiB gained about as much,
with less room for what every input reads)."""


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) a database file of the engine's own, with WAL and foreign
    keys, in manual transaction mode.

    ``isolation_level=None`` means the sqlite3 module never opens a transaction on its
    own: the caller (one rollup input, one transaction) decides where they begin and end.
    A host DApp with a connection of its own passes that to StreamableToken instead.
    """
    # a call prepares a dozen statements of some 60 kinds: keep them all prepared
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=512)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    ensure_schema(conn)
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
    reader.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    return reader
