"""Schema version 4 (frozen): ERC-20 allowances and stream operators.

Never edit: this is the version-4 schema as written. A version-3 database gains two empty
tables; no row of the others changes.
"""
from __future__ import annotations

import sqlite3

from streamable_token.migrations.m1_initial import statements

SQL = """
CREATE TABLE st_allowances (
    token_id   INTEGER NOT NULL REFERENCES st_tokens(id),
    owner_id   INTEGER NOT NULL REFERENCES st_accounts(id),
    spender_id INTEGER NOT NULL REFERENCES st_accounts(id),
    amount     BLOB NOT NULL,
    PRIMARY KEY (token_id, owner_id, spender_id)
) WITHOUT ROWID;
CREATE TABLE st_stream_operators (
    stream_id   INTEGER PRIMARY KEY REFERENCES st_streams(id),
    operator_id INTEGER NOT NULL REFERENCES st_accounts(id)
);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """3 -> 4: add the allowance and stream-operator tables."""
    for statement in statements(SQL):
        conn.execute(statement)
