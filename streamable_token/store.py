"""Load and store rows. No stream math: values in, values out, in deterministic order."""
from __future__ import annotations

import hashlib
import sqlite3
from typing import Iterable, Iterator, Optional, Sequence

from streamable_token.schema import HASHED_TABLES
from streamable_token.blobs import blob_to_int, blob_to_uint, int_to_blob, uint_to_blob
from streamable_token.schedule import ZERO, Delta, Ledger, Side

EMPTY = bytearray()
# BLOB parameters are bound as bytearray, which the sqlite3 module binds without looking
# for an adapter first as it does for bytes (see db.codec).


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


def find_account(conn: sqlite3.Connection, address: bytes) -> Optional[int]:
    row = conn.execute("SELECT id FROM st_accounts WHERE address = ?", (bytearray(address),)).fetchone()
    return row[0] if row else None


def ensure_account(conn: sqlite3.Connection, address: bytes) -> int:
    found = find_account(conn, address)
    if found is not None:
        return found
    return conn.execute("INSERT INTO st_accounts (address) VALUES (?)", (bytearray(address),)).lastrowid


# --- summable sums ------------------------------------------------------------------
#
# An event row or a tree node holds a Delta (Σ rate change, Σ c). Each of its two sums is
# stored as three 54-bit limbs carrying its sign in INTEGER columns, so
# that SQLite itself adds up a range of event rows or a prefix path of tree nodes and
# returns one row: a sum over fewer than 512 rows (a side has at most INLINE_MAX_EVENTS
# rows; a path at most 63 nodes) cannot overflow SQLite's 64-bit INTEGER. The rare value
# from ±2^162 on is kept whole in ``big`` instead (limbs 0) and added in Python.

_LIMB = 54
_LIMB_MASK = (1 << _LIMB) - 1
_LIMB_RANGE = 1 << (3 * _LIMB)
_DELTA_COLUMNS = "r0, r1, r2, c0, c1, c2, big"
_SUMS = (
    " || ' ' || ".join(f"coalesce(sum({col}), 0)" for col in ("r0", "r1", "r2", "c0", "c1", "c2"))
    + " || ' ' || count(big)"
)


def _limbs(n: int) -> tuple[int, int, int]:
    """Three limbs with the sign of ``n`` (sign and magnitude, so a small negative value
    has small limbs: two's complement would fill the lower limbs with ones)."""
    m = -n if n < 0 else n
    low, middle, high = m & _LIMB_MASK, (m >> _LIMB) & _LIMB_MASK, m >> (2 * _LIMB)
    return (-low, -middle, -high) if n < 0 else (low, middle, high)


def _join(low: int, middle: int, high: int) -> int:
    """The value (or the sum of values) whose limbs (or limb sums) these are."""
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


def _parse_sums(text: str) -> tuple[Delta, int]:
    """(Σ of the limb columns, number of rows whose value is in ``big``) from _SUMS."""
    r0, r1, r2, c0, c1, c2, bigs = map(int, text.split())
    return (_join(r0, r1, r2), _join(c0, c1, c2)), bigs


def _add_bigs(conn: sqlite3.Connection, total: Delta, sql: str, params: tuple) -> Delta:
    r, c = total
    for (big,) in conn.execute(sql, params):
        br, bc = _delta_of(0, 0, 0, 0, 0, 0, big)
        r, c = r + br, c + bc
    return (r, c)


def _marks(first: int, n: int) -> str:
    return ", ".join(f"?{first + k}" for k in range(n))


def _path_rows(side_key: str, first: int, n: int) -> str:
    """The tree nodes ?first.. of a side, one seek each (faster than IN, which first
    builds a sorted list of the keys)."""
    if not n:
        return f"SELECT {_DELTA_COLUMNS} FROM st_tree_nodes WHERE 0"
    return " UNION ALL ".join(
        f"SELECT {_DELTA_COLUMNS} FROM st_tree_nodes WHERE side_key = {side_key} AND node = ?{first + k}"
        for k in range(n)
    )


# --- ledgers ------------------------------------------------------------------------

_SIDE_COLUMNS = ("rate", "tree", "count", "first", "last", "r", "c", "base_r", "base_c")
_LEDGER_COLUMNS = ("id", "block", "available", "committed") + tuple(
    f"{side}_{c}" for side in ("in", "out") for c in _SIDE_COLUMNS
)
_LEDGER_BY = {
    "address": " FROM st_accounts a JOIN st_ledgers l ON l.account_id = a.id JOIN st_tokens t ON t.id = l.token_id"
               " WHERE a.address = ?1 AND t.address = ?2",
    "id": " FROM st_ledgers l WHERE l.account_id = ?1 AND l.token_id = ?2",
}
_N = len(_SIDE_COLUMNS)
_LEDGER_AT: dict[tuple[str, int], str] = {}


def _ledger_at_sql(by: str, n: int) -> str:
    sql = _LEDGER_AT.get((by, n))
    if sql is None:
        extras = ""
        for which, side in enumerate(("in", "out")):
            extras += (
                f", CASE WHEN l.{side}_first <= ?3 AND ?3 < l.{side}_last THEN CASE WHEN l.{side}_tree > 0"
                f" THEN (SELECT {_SUMS} FROM ({_path_rows(f'l.id * 2 + {which}', 4, n)}))"
                f" ELSE (SELECT {_SUMS} FROM st_side_events WHERE side_key = l.id * 2 + {which}"
                " AND block <= ?3) END END"
            )
        columns = ", ".join("l." + c for c in _LEDGER_COLUMNS)
        sql = _LEDGER_AT[by, n] = f"SELECT {columns}, l.token_id, l.account_id{extras}{_LEDGER_BY[by]}"
    return sql


def _ledger_with_sums(
    conn: sqlite3.Connection, by: str, token: object, account: object, block: int, path: Sequence[int]
) -> Optional[tuple[Ledger, int, int]]:
    row = conn.execute(_ledger_at_sql(by, len(path)), (account, token, block, *path)).fetchone()
    if row is None:
        return None
    ledger = _decode_ledger(row)
    for which, side, extra in ((0, ledger.incoming, row[-2]), (1, ledger.outgoing, row[-1])):
        if extra is not None:
            total, bigs = _parse_sums(extra)
            if bigs:
                key = ledger.id * 2 + which
                total = sum_nodes(conn, key, path) if side.tree_size else sum_events(conn, key, block)
            side.prefix_at = (block, total)
    return ledger, row[-4], row[-3]


def ledger_at(
    conn: sqlite3.Connection, token: bytes, account: bytes, block: int, path: Sequence[int]
) -> Optional[tuple[Ledger, int, int]]:
    """(ledger, token id, account id) by addresses, with what a read or a settle at
    ``block`` needs beyond each side's summary (see Side.pending) added up by SQLite in
    the same statement: the side's event rows up to ``block``, or its tree nodes on
    ``path`` (the prefix path of ``block``). One statement, whatever the schedule."""
    return _ledger_with_sums(conn, "address", bytearray(token), bytearray(account), block, path)


def ledger_of(
    conn: sqlite3.Connection, token_id: int, account_id: int, block: int, path: Sequence[int]
) -> Optional[Ledger]:
    """As :func:`ledger_at`, by the ids of the token and the account."""
    found = _ledger_with_sums(conn, "id", token_id, account_id, block, path)
    return None if found is None else found[0]


def load_ledger(conn: sqlite3.Connection, account_id: int, token_id: int) -> Optional[Ledger]:
    """The ledger by ids as stored: at block 0 no side has anything to sum."""
    return ledger_of(conn, token_id, account_id, 0, ())


def _decode_side(values: tuple) -> Side:
    rate, tree, count, first, last, r, c, base_r, base_c = values
    base = (blob_to_int(base_r), blob_to_int(base_c)) if tree else ZERO
    return Side(blob_to_uint(rate), tree, count, first, last, (blob_to_int(r), blob_to_int(c)), base)


def _decode_ledger(row: tuple) -> Ledger:
    return Ledger(
        id=row[0],
        block=row[1],
        available=blob_to_uint(row[2]),
        committed=blob_to_uint(row[3]),
        incoming=_decode_side(row[4 : 4 + _N]),
        outgoing=_decode_side(row[4 + _N : 4 + 2 * _N]),
    )


def insert_ledger(conn: sqlite3.Connection, account_id: int, token_id: int, block: int) -> int:
    side = "x'', 0, 0, 0, 0, x'', x'', x'', x''"
    return conn.execute(
        f"INSERT INTO st_ledgers ({', '.join(_LEDGER_COLUMNS[1:])}, account_id, token_id)"
        f" VALUES (?, x'', x'', {side}, {side}, ?, ?)",
        (block, account_id, token_id),
    ).lastrowid


def _side_values(side: Side) -> list:
    return [
        uint_to_blob(side.rate), side.tree_size, side.count, side.first, side.last,
        int_to_blob(side.total[0]), int_to_blob(side.total[1]), int_to_blob(side.base[0]), int_to_blob(side.base[1]),
    ]


_STORE_LEDGER = f"UPDATE st_ledgers SET {', '.join(f'{c} = ?' for c in _LEDGER_COLUMNS[1:])} WHERE id = ?"


def store_ledger(conn: sqlite3.Connection, ledger: Ledger) -> None:
    conn.execute(
        _STORE_LEDGER,
        [ledger.block, uint_to_blob(ledger.available), uint_to_blob(ledger.committed),
         *_side_values(ledger.incoming), *_side_values(ledger.outgoing), ledger.id],
    )


# --- pending events of small schedules: one row per block -----------------------------


def sum_events(conn: sqlite3.Connection, side_key: int, block: int) -> Delta:
    """Σ of the side's event rows up to ``block`` (all rows are pending)."""
    text = conn.execute(
        f"SELECT {_SUMS} FROM st_side_events WHERE side_key = ? AND block <= ?", (side_key, block)
    ).fetchone()[0]
    total, bigs = _parse_sums(text)
    if bigs:
        total = _add_bigs(
            conn, total, "SELECT big FROM st_side_events WHERE side_key = ? AND block <= ? AND big IS NOT NULL",
            (side_key, block),
        )
    return total


def delete_events(conn: sqlite3.Connection, side_key: int, block: int) -> int:
    """Drop the side's event rows up to ``block`` (they have happened); how many."""
    return conn.execute("DELETE FROM st_side_events WHERE side_key = ? AND block <= ?", (side_key, block)).rowcount


def add_event(conn: sqlite3.Connection, side_key: int, block: int, delta: Delta) -> int:
    """Add ``delta`` to the side's row at ``block``; +1 if a row was created, -1 if the row
    cancelled out and was deleted, else 0."""
    row = conn.execute(
        f"SELECT {_DELTA_COLUMNS} FROM st_side_events WHERE side_key = ? AND block = ?", (side_key, block)
    ).fetchone()
    if row is not None:
        old = _delta_of(*row)
        delta = (old[0] + delta[0], old[1] + delta[1])
        if delta == ZERO:
            conn.execute("DELETE FROM st_side_events WHERE side_key = ? AND block = ?", (side_key, block))
            return -1
    conn.execute(
        f"INSERT OR REPLACE INTO st_side_events (side_key, block, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (side_key, block, *_delta_columns(delta)),
    )
    return 0 if row is not None else 1


def take_events(conn: sqlite3.Connection, side_key: int) -> list[tuple[int, Delta]]:
    """Remove and return all of the side's event rows (it is moving to a tree), by block."""
    rows = conn.execute(
        f"SELECT block, {_DELTA_COLUMNS} FROM st_side_events WHERE side_key = ? ORDER BY block", (side_key,)
    ).fetchall()
    conn.execute("DELETE FROM st_side_events WHERE side_key = ?", (side_key,))
    return [(row[0], _delta_of(*row[1:])) for row in rows]


def ledgers_of_token(conn: sqlite3.Connection, token_id: int) -> Iterator[tuple[bytes, int]]:
    """(account address, account id) of every ledger of a token, by account id."""
    yield from conn.execute(
        "SELECT a.address, a.id FROM st_ledgers l JOIN st_accounts a ON a.id = l.account_id"
        " WHERE l.token_id = ? ORDER BY a.id",
        (token_id,),
    )


# --- Fenwick tree nodes of large schedules -------------------------------------------


def load_nodes(conn: sqlite3.Connection, side_key: int, nodes: Iterable[int]) -> dict[int, Delta]:
    """Values of the given nodes; nodes never written are absent."""
    keys = sorted(set(nodes))
    if not keys:
        return {}
    rows = conn.execute(
        f"SELECT node, {_DELTA_COLUMNS} FROM st_tree_nodes WHERE side_key = ?1 AND node IN ({_marks(2, len(keys))})",
        (side_key, *keys),
    )
    return {row[0]: _delta_of(*row[1:]) for row in rows}


def sum_nodes(conn: sqlite3.Connection, side_key: int, nodes: Sequence[int]) -> Delta:
    """Σ of the given (distinct) nodes, added up by SQLite."""
    params = (side_key, *nodes)
    rows = _path_rows("?1", 2, len(nodes))
    total, bigs = _parse_sums(conn.execute(f"SELECT {_SUMS} FROM ({rows})", params).fetchone()[0])
    if bigs:
        total = _add_bigs(conn, total, f"SELECT big FROM ({rows}) WHERE big IS NOT NULL", params)
    return total


def store_nodes(conn: sqlite3.Connection, side_key: int, nodes: dict[int, Delta]) -> None:
    conn.executemany(
        f"INSERT OR REPLACE INTO st_tree_nodes (side_key, node, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(side_key, n, *_delta_columns(v)) for n, v in sorted(nodes.items())],
    )


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
        "INSERT INTO st_streams (token_id, sender_id, receiver_id, amount, start_block, end_block,"
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
        "UPDATE st_streams SET amount = ?, end_block = ?, seg_start = ?, rate = ?, remainder = ?,"
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
    row = conn.execute("SELECT value FROM st_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, values: dict[str, bytes]) -> None:
    """Store meta values by key, all in one statement."""
    rows = ", ".join(["(?, ?)"] * len(values))
    conn.execute(f"INSERT OR REPLACE INTO st_meta (key, value) VALUES {rows}",
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
