"""Load and store rows. No stream math: values in, values out, in deterministic order."""
from __future__ import annotations

import hashlib
import sqlite3
from typing import Iterable, Iterator, Optional

from db.codec import (
    blob_to_int,
    blob_to_uint,
    int_to_blob,
    pack_events,
    uint_to_blob,
    iter_events,
)
from streamable_token.schedule import Delta, Ledger, Side

EMPTY = b""


# --- tokens and accounts ------------------------------------------------------------


def find_token(conn: sqlite3.Connection, address: bytes) -> Optional[int]:
    row = conn.execute("SELECT id FROM tokens WHERE address = ?", (address,)).fetchone()
    return row[0] if row else None


def ensure_token(conn: sqlite3.Connection, address: bytes) -> int:
    found = find_token(conn, address)
    if found is not None:
        return found
    return conn.execute(
        "INSERT INTO tokens (address, deposited, withdrawn) VALUES (?, ?, ?)",
        (address, EMPTY, EMPTY),
    ).lastrowid


def load_token_totals(conn: sqlite3.Connection, token_id: int) -> tuple[int, int]:
    """(deposited, withdrawn) of a token, cumulative."""
    dep, wd = conn.execute(
        "SELECT deposited, withdrawn FROM tokens WHERE id = ?", (token_id,)
    ).fetchone()
    return blob_to_uint(dep), blob_to_uint(wd)


def store_token_totals(conn: sqlite3.Connection, token_id: int, deposited: int, withdrawn: int) -> None:
    conn.execute(
        "UPDATE tokens SET deposited = ?, withdrawn = ? WHERE id = ?",
        (uint_to_blob(deposited), uint_to_blob(withdrawn), token_id),
    )


def token_addresses(conn: sqlite3.Connection) -> list[bytes]:
    return [r[0] for r in conn.execute("SELECT address FROM tokens ORDER BY id")]


def find_account(conn: sqlite3.Connection, address: bytes) -> Optional[int]:
    row = conn.execute("SELECT id FROM accounts WHERE address = ?", (address,)).fetchone()
    return row[0] if row else None


def ensure_account(conn: sqlite3.Connection, address: bytes) -> int:
    found = find_account(conn, address)
    if found is not None:
        return found
    return conn.execute("INSERT INTO accounts (address) VALUES (?)", (address,)).lastrowid


def account_address(conn: sqlite3.Connection, account_id: int) -> bytes:
    return conn.execute("SELECT address FROM accounts WHERE id = ?", (account_id,)).fetchone()[0]


# --- ledgers ------------------------------------------------------------------------

_LEDGER_COLUMNS = (
    "id, block, available, committed, in_rate, out_rate, in_events, out_events, in_tree, out_tree"
)


def load_ledger(conn: sqlite3.Connection, account_id: int, token_id: int) -> Optional[Ledger]:
    row = conn.execute(
        f"SELECT {_LEDGER_COLUMNS} FROM ledgers WHERE account_id = ? AND token_id = ?",
        (account_id, token_id),
    ).fetchone()
    return None if row is None else _decode_ledger(row)


def find_ledger(conn: sqlite3.Connection, token: bytes, account: bytes) -> Optional[Ledger]:
    """The ledger of an (account, token) pair by addresses, in one statement (for reads)."""
    columns = ", ".join("l." + c.strip() for c in _LEDGER_COLUMNS.split(","))
    row = conn.execute(
        f"SELECT {columns} FROM accounts a JOIN ledgers l ON l.account_id = a.id"
        " JOIN tokens t ON t.id = l.token_id WHERE a.address = ? AND t.address = ?",
        (account, token),
    ).fetchone()
    return None if row is None else _decode_ledger(row)


def _decode_ledger(row: tuple) -> Ledger:
    lid, block, avail, comm, in_rate, out_rate, in_ev, out_ev, in_tree, out_tree = row
    return Ledger(
        id=lid,
        block=block,
        available=blob_to_uint(avail),
        committed=blob_to_uint(comm),
        incoming=Side(blob_to_uint(in_rate), None, in_tree, in_ev, iter_events),
        outgoing=Side(blob_to_uint(out_rate), None, out_tree, out_ev, iter_events),
    )


def insert_ledger(conn: sqlite3.Connection, account_id: int, token_id: int, block: int) -> int:
    return conn.execute(
        "INSERT INTO ledgers (account_id, token_id, block, available, committed, in_rate,"
        " out_rate, in_events, out_events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (account_id, token_id, block, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY),
    ).lastrowid


def store_ledger(conn: sqlite3.Connection, ledger: Ledger) -> None:
    i, o = ledger.incoming, ledger.outgoing
    conn.execute(
        "UPDATE ledgers SET block = ?, available = ?, committed = ?, in_rate = ?, out_rate = ?,"
        " in_events = ?, out_events = ?, in_tree = ?, out_tree = ? WHERE id = ?",
        (
            ledger.block,
            uint_to_blob(ledger.available),
            uint_to_blob(ledger.committed),
            uint_to_blob(i.rate),
            uint_to_blob(o.rate),
            i.packed(pack_events),
            o.packed(pack_events),
            i.tree_size,
            o.tree_size,
            ledger.id,
        ),
    )


def ledgers_of_token(conn: sqlite3.Connection, token_id: int) -> Iterator[tuple[bytes, int]]:
    """(account address, account id) of every ledger of a token, by account id."""
    yield from conn.execute(
        "SELECT a.address, a.id FROM ledgers l JOIN accounts a ON a.id = l.account_id"
        " WHERE l.token_id = ? ORDER BY a.id",
        (token_id,),
    )


# --- Fenwick tree nodes -------------------------------------------------------------


def load_nodes(conn: sqlite3.Connection, side_key: int, nodes: Iterable[int]) -> dict[int, Delta]:
    keys = sorted(set(nodes))
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    rows = conn.execute(
        f"SELECT node, r, c FROM tree_nodes WHERE side_key = ? AND node IN ({marks})",
        (side_key, *keys),
    )
    return {n: (blob_to_int(r), blob_to_int(c)) for n, r, c in rows}


def store_nodes(conn: sqlite3.Connection, side_key: int, nodes: dict[int, Delta]) -> None:
    conn.executemany(
        "INSERT INTO tree_nodes (side_key, node, r, c) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (side_key, node) DO UPDATE SET r = excluded.r, c = excluded.c",
        [
            (side_key, n, int_to_blob(v[0]), int_to_blob(v[1]))
            for n, v in sorted(nodes.items())
        ],
    )


# --- streams ------------------------------------------------------------------------

_STREAM_COLUMNS = (
    "s.id, t.address, snd.address, rcv.address, s.amount, s.start_block, s.end_block,"
    " s.opened_block, s.seg_start, s.rate, s.remainder, s.streamed_before, s.canceled_block,"
    " s.token_id, s.sender_id, s.receiver_id"
)
_STREAM_FROM = (
    " FROM streams s JOIN tokens t ON t.id = s.token_id"
    " JOIN accounts snd ON snd.id = s.sender_id JOIN accounts rcv ON rcv.id = s.receiver_id"
)


def _decode_stream(row: tuple) -> dict:
    return {
        "id": row[0],
        "token": row[1],
        "sender": row[2],
        "receiver": row[3],
        "amount": blob_to_uint(row[4]),
        "start_block": row[5],
        "end_block": row[6],
        "opened_block": row[7],
        "seg_start": row[8],
        "rate": blob_to_uint(row[9]),
        "remainder": blob_to_uint(row[10]),
        "streamed_before": blob_to_uint(row[11]),
        "canceled_block": row[12],
        "token_id": row[13],
        "sender_id": row[14],
        "receiver_id": row[15],
    }


def insert_stream(conn: sqlite3.Connection, row: dict) -> int:
    return conn.execute(
        "INSERT INTO streams (token_id, sender_id, receiver_id, amount, start_block, end_block,"
        " opened_block, seg_start, rate, remainder, streamed_before, canceled_block)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            row["token_id"],
            row["sender_id"],
            row["receiver_id"],
            uint_to_blob(row["amount"]),
            row["start_block"],
            row["end_block"],
            row["opened_block"],
            row["seg_start"],
            uint_to_blob(row["rate"]),
            uint_to_blob(row["remainder"]),
            uint_to_blob(row["streamed_before"]),
        ),
    ).lastrowid


def update_stream(conn: sqlite3.Connection, row: dict) -> None:
    conn.execute(
        "UPDATE streams SET amount = ?, end_block = ?, seg_start = ?, rate = ?, remainder = ?,"
        " streamed_before = ?, canceled_block = ? WHERE id = ?",
        (
            uint_to_blob(row["amount"]),
            row["end_block"],
            row["seg_start"],
            uint_to_blob(row["rate"]),
            uint_to_blob(row["remainder"]),
            uint_to_blob(row["streamed_before"]),
            row["canceled_block"],
            row["id"],
        ),
    )


def load_stream(conn: sqlite3.Connection, stream_id: int) -> Optional[dict]:
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
) -> list[dict]:
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


# --- small key/value state ----------------------------------------------------------


def get_meta(conn: sqlite3.Connection, key: str) -> Optional[bytes]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: bytes) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


# --- whole-state hash ---------------------------------------------------------------

_HASHED_TABLES = {
    "tokens": "id",
    "accounts": "id",
    "ledgers": "id",
    "tree_nodes": "side_key, node",
    "streams": "id",
    "meta": "key",
}


def state_hash(conn: sqlite3.Connection) -> str:
    """SHA-256 over every row of every table in primary-key order, with the schema version.

    Rows are serialized with ``repr`` of SQLite's native values (int, bytes, str, None),
    which is stable across machines; two nodes that processed the same inputs agree.
    """
    h = hashlib.sha256()
    h.update(repr(conn.execute("PRAGMA user_version").fetchone()).encode())
    for table, order in _HASHED_TABLES.items():
        h.update(table.encode())
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
            h.update(repr(row).encode())
    return "0x" + h.hexdigest()
