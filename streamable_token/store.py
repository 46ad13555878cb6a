"""Load and store the rows around the ledgers: tokens, accounts, streams, meta, and the
state hash. No stream math: values in, values out, in deterministic order. (The ledgers
and their pending events: :mod:`streamable_token.ledger_store`.)"""
from __future__ import annotations

import hashlib
import sqlite3
from typing import Optional

from streamable_token.schema import HASHED_TABLES
from streamable_token.addresses import checksum
from streamable_token.blobs import blob_to_uint, uint_to_blob
from streamable_token.stream import Stream

EMPTY = bytearray()
# BLOB parameters are bound as bytearray, which the sqlite3 module binds without looking
# for an adapter first as it does for bytes (see streamable_token.blobs).


# --- tokens and accounts ------------------------------------------------------------


def find_token(conn: sqlite3.Connection, address: bytes) -> Optional[int]:
    row = conn.execute("SELECT id FROM st_tokens WHERE address = ?", (bytearray(address),)).fetchone()
    return row[0] if row else None


def ensure_token(conn: sqlite3.Connection, address: bytes) -> int:
    found = find_token(conn, address)
    if found is not None:
        return found
    return conn.execute(
        "INSERT INTO st_tokens (address, deposited, withdrawn) VALUES (?, ?, ?)",
        (bytearray(address), EMPTY, EMPTY),
    ).lastrowid


def load_token_totals(conn: sqlite3.Connection, token_id: int) -> tuple[int, int]:
    """(deposited, withdrawn) of a token, cumulative."""
    dep, wd = conn.execute(
        "SELECT deposited, withdrawn FROM st_tokens WHERE id = ?", (token_id,)
    ).fetchone()
    return blob_to_uint(dep), blob_to_uint(wd)


def store_token_totals(conn: sqlite3.Connection, token_id: int, deposited: int, withdrawn: int) -> None:
    conn.execute(
        "UPDATE st_tokens SET deposited = ?, withdrawn = ? WHERE id = ?",
        (uint_to_blob(deposited), uint_to_blob(withdrawn), token_id),
    )


def token_addresses(conn: sqlite3.Connection) -> list[bytes]:
    return [r[0] for r in conn.execute("SELECT address FROM st_tokens ORDER BY id")]


def tokens_after(conn: sqlite3.Connection, after_id: int, limit: int) -> list[tuple[int, bytes, int, int]]:
    """(id, address, deposited, withdrawn) of up to ``limit`` tokens with ids above
    ``after_id``, in id order (the order they first arrived)."""
    return [(row[0], row[1], blob_to_uint(row[2]), blob_to_uint(row[3])) for row in conn.execute(
        "SELECT id, address, deposited, withdrawn FROM st_tokens WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )]


def find_account(conn: sqlite3.Connection, address: bytes) -> Optional[int]:
    row = conn.execute("SELECT id FROM st_accounts WHERE address = ?", (bytearray(address),)).fetchone()
    return row[0] if row else None


def ensure_account(conn: sqlite3.Connection, address: bytes) -> int:
    found = find_account(conn, address)
    if found is not None:
        return found
    return conn.execute("INSERT INTO st_accounts (address) VALUES (?)", (bytearray(address),)).lastrowid


# --- streams ------------------------------------------------------------------------

_STREAM_COLUMNS = (
    "s.id, t.address, snd.address, rcv.address, s.amount, s.start_block, s.end_block,"
    " s.opened_block, s.seg_start, s.rate, s.remainder, s.streamed_before, s.canceled_block,"
    " s.token_id, s.sender_id, s.receiver_id"
)
_STREAM_FROM = (
    " FROM st_streams s JOIN st_tokens t ON t.id = s.token_id"
    " JOIN st_accounts snd ON snd.id = s.sender_id JOIN st_accounts rcv ON rcv.id = s.receiver_id"
)


def _decode_stream(row: tuple) -> Stream:
    # positional: the fields in Stream's order (keywords cost a third more here)
    return Stream(
        row[0], checksum(row[1]), checksum(row[2]), checksum(row[3]), blob_to_uint(row[4]),
        row[5], row[6], row[7], row[8], blob_to_uint(row[9]), blob_to_uint(row[10]),
        blob_to_uint(row[11]), row[12], row[13], row[14], row[15],
    )


def insert_stream(
    conn: sqlite3.Connection, token_id: int, sender_id: int, receiver_id: int, amount: int,
    start_block: int, end_block: int, opened_block: int, rate: int, remainder: int,
) -> int:
    """A new stream (its segment starts at ``start_block``, nothing streamed before)."""
    return conn.execute(
        "INSERT INTO st_streams (token_id, sender_id, receiver_id, amount, start_block, end_block,"
        " opened_block, seg_start, rate, remainder, streamed_before, canceled_block)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, x'', NULL)",
        (token_id, sender_id, receiver_id, uint_to_blob(amount), start_block, end_block, opened_block,
         start_block, uint_to_blob(rate), uint_to_blob(remainder)),
    ).lastrowid


def cancel_stream(conn: sqlite3.Connection, stream_id: int, block: int) -> None:
    conn.execute("UPDATE st_streams SET canceled_block = ? WHERE id = ?", (block, stream_id))


def update_stream(conn: sqlite3.Connection, stream: Stream) -> None:
    """Store what may change of a stream: its segment, amount, end and cancel block."""
    conn.execute(
        "UPDATE st_streams SET amount = ?, end_block = ?, seg_start = ?, rate = ?, remainder = ?,"
        " streamed_before = ?, canceled_block = ? WHERE id = ?",
        (
            uint_to_blob(stream.amount),
            stream.end_block,
            stream.seg_start,
            uint_to_blob(stream.rate),
            uint_to_blob(stream.remainder),
            uint_to_blob(stream.streamed_before),
            stream.canceled_block,
            stream.id,
        ),
    )


def load_stream(conn: sqlite3.Connection, stream_id: int) -> Optional[Stream]:
    row = conn.execute(
        f"SELECT {_STREAM_COLUMNS}{_STREAM_FROM} WHERE s.id = ?", (stream_id,)
    ).fetchone()
    return _decode_stream(row) if row else None


def list_streams(
    conn: sqlite3.Connection,
    account_id: int,
    role: str,
    after_id: int,
    limit: int,
    active_at: Optional[int],
) -> list[Stream]:
    """Streams of an account by id, after ``after_id``; role is incoming/outgoing/all.

    ``active_at`` keeps streams that have started by that block and not yet ended or
    been canceled; the filter runs in SQLite so a page costs what it returns.
    """
    where = {
        "incoming": "s.receiver_id = ?",
        "outgoing": "s.sender_id = ?",
        "all": "(s.sender_id = ? OR s.receiver_id = ?)",
    }[role]
    params: list = [account_id] * (2 if role == "all" else 1)
    sql = f"SELECT {_STREAM_COLUMNS}{_STREAM_FROM} WHERE {where} AND s.id > ?"
    params.append(after_id)
    if active_at is not None:
        sql += (
            " AND s.start_block <= ? AND s.end_block > ?"
            " AND (s.canceled_block IS NULL OR s.canceled_block > ?)"
        )
        params += [active_at] * 3
    sql += " ORDER BY s.id LIMIT ?"
    params.append(limit)
    return [_decode_stream(r) for r in conn.execute(sql, params)]


# --- allowances and stream operators ------------------------------------------------


def load_allowance(conn: sqlite3.Connection, token_id: int, owner_id: int, spender_id: int) -> int:
    row = conn.execute(
        "SELECT amount FROM st_allowances WHERE token_id = ? AND owner_id = ? AND spender_id = ?",
        (token_id, owner_id, spender_id),
    ).fetchone()
    return blob_to_uint(row[0]) if row else 0


def store_allowance(conn: sqlite3.Connection, token_id: int, owner_id: int, spender_id: int, amount: int) -> None:
    """Set an allowance; 0 deletes its row, so an allowance spent or revoked leaves none."""
    if amount == 0:
        conn.execute(
            "DELETE FROM st_allowances WHERE token_id = ? AND owner_id = ? AND spender_id = ?",
            (token_id, owner_id, spender_id),
        )
        return
    conn.execute(
        "INSERT OR REPLACE INTO st_allowances (token_id, owner_id, spender_id, amount) VALUES (?, ?, ?, ?)",
        (token_id, owner_id, spender_id, uint_to_blob(amount)),
    )


def insert_stream_operator(conn: sqlite3.Connection, stream_id: int, operator_id: int) -> None:
    conn.execute("INSERT INTO st_stream_operators (stream_id, operator_id) VALUES (?, ?)", (stream_id, operator_id))


def stream_operator(conn: sqlite3.Connection, stream_id: int) -> Optional[tuple[bytes, int]]:
    """(address, account id) of the operator that opened a stream, None if its sender did."""
    row = conn.execute(
        "SELECT a.address, a.id FROM st_stream_operators o JOIN st_accounts a ON a.id = o.operator_id"
        " WHERE o.stream_id = ?", (stream_id,),
    ).fetchone()
    return (bytes(row[0]), row[1]) if row else None


# --- small key/value state ----------------------------------------------------------


def get_meta(conn: sqlite3.Connection, key: str) -> Optional[bytes]:
    row = conn.execute("SELECT value FROM st_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, values: dict[str, bytes]) -> None:
    """Store meta values by key, all in one statement."""
    rows = ", ".join(["(?, ?)"] * len(values))
    conn.execute(f"INSERT INTO st_meta (key, value) VALUES {rows} ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 [x for key, value in values.items() for x in (key, bytearray(value))])


# --- whole-state hash ---------------------------------------------------------------

def state_hash(conn: sqlite3.Connection) -> str:
    """SHA-256 over every row of every table in primary-key order, with the schema version.

    Rows are serialized with ``repr`` of SQLite's native values (int, bytes, str, None),
    which is stable across machines; two nodes that processed the same inputs agree.
    """
    h = hashlib.sha256()
    h.update(repr(conn.execute("SELECT version FROM st_version").fetchone()).encode())
    for table, order in HASHED_TABLES.items():
        h.update(table.encode())
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
            h.update(repr(row).encode())
    return "0x" + h.hexdigest()
