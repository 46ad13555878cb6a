"""The one home of the lazy ledger's persistence: how a ledger row and its sides'
pending events are stored, loaded, summed and settled.

A side of a ledger (incoming or outgoing flow) keeps its pending events either as rows of
``st_side_events`` (one per block; few events) or as a tree of sums over block numbers in
``st_tree_nodes`` (many), moving from rows to the tree past
:data:`~streamable_token.schedule.INLINE_MAX_EVENTS`. Both are keyed by :func:`side_key`.
Each stored value is a Delta (Σ rate change, Σ c) in two 54-bit signed limbs per sum,
so SQLite adds a range of rows or a prefix path of nodes exactly in INTEGER columns; a
value from ±2^108 on is kept whole in ``big`` and added in Python.

The rest of the engine calls :func:`ledger_at`, :func:`ledgers_of`, :func:`new_ledger`,
:func:`store_ledger`, :func:`settle`, :func:`balance_at` and :func:`add_events`; the
stream math itself is the pure functions of :mod:`streamable_token.schedule`, a ledger's
figures change only through :class:`~streamable_token.ledger.Ledger`'s methods, and its
row is :mod:`streamable_token.ledger_row`.
"""
from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Iterable, Iterator, Optional, Sequence

from streamable_token import ledger_row
from streamable_token.blobs import blob_to_int, int_to_blob
from streamable_token.ledger import INCOMING, OUTGOING, Balance, Ledger, Side
from streamable_token.schedule import (
    INLINE_MAX_EVENTS,
    TREE_BITS,
    TREE_MAX_LEVELS,
    ZERO,
    Delta,
    Event,
    add,
    event_delta,
    flow,
    grown_nodes,
    prefix_ranges,
    query_ranges,
    sub,
    top_range,
    tree_levels_for,
    update_nodes,
)

NO_SIDE, IN_SIDE, OUT_SIDE, BOTH_SIDES = 0, 1 << INCOMING, 1 << OUTGOING, 3
"""Which sides a read sums the pending events of, or a settle settles (a bit per side)."""


def side_key(ledger_id: int, which: int) -> int:
    """The key of a ledger side's event rows and tree nodes."""
    return ledger_id * 2 + which


SIDE_KEY_SQL = "{ledger_id} * 2 + {which}"
""":func:`side_key` in SQL."""
NEEDS_EVENTS_SQL = "{first} <= {b} AND {b} < {last}"
""":meth:`Side.needs_events` in SQL: only a read inside a side's bounds needs its events
summed (tests/test_ledger_store.py checks both agree)."""


# --- summable sums ------------------------------------------------------------------
#
# An event row or a tree node holds a Delta (Σ rate change, Σ c). Each of its two sums is
# stored as two limbs in INTEGER columns, value = l0 + l1·2^54 with every |limb| < 2^54,
# so that SQLite itself adds up a range of event rows or a prefix path of tree nodes
# exactly and returns one row. Python writes the canonical form (every limb carries the
# value's sign: encode_delta), which an event row always has; a tree node that SQLite
# added to (_carried) may have limbs of mixed signs, the same value. The rare value from
# ±2^108 on (a rate of 2^54 units a block at block 2^54, say) is kept whole in ``big``
# instead (limbs 0) and added in Python. Two limbs rather than three: every row a settle
# sums costs SQLite one step per summed column, and the sums of a side's rows took 27 µs
# with four limb columns and count(big) against 33 µs with six (1,000,000 streams).

LIMB_BITS = 54
_LIMB = LIMB_BITS
_LIMB_MASK = (1 << _LIMB) - 1
_LIMB_RANGE = 1 << (2 * _LIMB)
_LIMB_MAX = _LIMB_MASK  # the largest magnitude a stored limb may have
MAX_RANGE_NODES = TREE_MAX_LEVELS << TREE_BITS
"""The most tree nodes a prefix sum adds up: sixteen per level."""
EVENTS_PER_CALL = 4
"""The most events one call adds to a side before it may move to a tree (an update:
two off, two on)."""
MAX_SUMMED_ROWS = max(INLINE_MAX_EVENTS + EVENTS_PER_CALL, MAX_RANGE_NODES)
if MAX_SUMMED_ROWS * _LIMB_MASK > 2**63 - 1:  # enforced, not commented: see tests/test_ledger_store.py
    raise ImportError(
        f"{MAX_SUMMED_ROWS} rows of {LIMB_BITS}-bit limbs could overflow SQLite's 64-bit sum():"
        " lower INLINE_MAX_EVENTS or LIMB_BITS"
    )
_DELTA_COLUMNS = "r0, r1, c0, c1, big"
_SUMS = " || ' ' || ".join(f"coalesce(sum({col}), 0)" for col in ("r0", "r1", "c0", "c1")) + " || ' ' || count(big)"


def limbs(n: int) -> tuple[int, int]:
    """Two limbs with the sign of ``n`` (sign and magnitude, so a small negative value
    has small limbs: two's complement would fill the lower limb with ones)."""
    if n < 0:
        m = -n
        return -(m & _LIMB_MASK), -(m >> _LIMB)
    return n & _LIMB_MASK, n >> _LIMB


def join(low: int, high: int) -> int:
    """The value (or the sum of values) whose limbs (or limb sums) these are."""
    return low + (high << _LIMB)


def encode_delta(value: Delta) -> tuple:
    """The five column values (r0, r1, c0, c1, big) of a Delta."""
    r, c = value
    if -_LIMB_RANGE < r < _LIMB_RANGE and -_LIMB_RANGE < c < _LIMB_RANGE:
        return (*limbs(r), *limbs(c), None)
    rb = int_to_blob(r)
    return (0, 0, 0, 0, bytearray((len(rb),)) + rb + int_to_blob(c))


def decode_delta(r0: int, r1: int, c0: int, c1: int, big: Optional[bytes]) -> Delta:
    """The Delta stored in (r0, r1, c0, c1, big), or the sum of such rows' limbs."""
    if big is not None:
        return blob_to_int(big[1 : 1 + big[0]]), blob_to_int(big[1 + big[0] :])
    return join(r0, r1), join(c0, c1)


def _parse_sums(text: str) -> tuple[Delta, int]:
    """(Σ of the limb columns, number of rows whose value is in ``big``) from _SUMS."""
    r0, r1, c0, c1, bigs = map(int, text.split())
    return (join(r0, r1), join(c0, c1)), bigs


def _add_bigs(conn: sqlite3.Connection, total: Delta, sql: str, params: tuple) -> Delta:
    r, c = total
    for (big,) in conn.execute(sql, params):
        br, bc = decode_delta(0, 0, 0, 0, big)
        r, c = r + br, c + bc
    return (r, c)


def _marks(first: int, n: int) -> str:
    return ", ".join(f"?{first + k}" for k in range(n))


def _range_rows(side_key: str, first: int, n: int) -> str:
    """The tree nodes of a side in ``n`` ranges, ?first and ?first+1 bounding the first:
    one range scan each."""
    if not n:
        return f"SELECT {_DELTA_COLUMNS} FROM st_tree_nodes WHERE 0"
    return " UNION ALL ".join(
        f"SELECT {_DELTA_COLUMNS} FROM st_tree_nodes WHERE side_key = {side_key}"
        f" AND node BETWEEN ?{first + 2 * k} AND ?{first + 2 * k + 1}"
        for k in range(n)
    )


# --- ledgers ------------------------------------------------------------------------
#
# A ledger is read with the sums of its sides' pending events that a settle or a read at
# block ?2 needs, for one token (?1) and a few accounts (?3...), in one statement. The
# statement is built from the named pieces below (tests/test_ledger.py runs each
# variant) and kept per shape.

LEDGERS_BY_ADDRESS = (
    "a.address",
    " FROM st_accounts a JOIN st_ledgers l ON l.account_id = a.id JOIN st_tokens t ON t.id = l.token_id"
    " WHERE t.address = ?1 AND a.address IN ({accounts})",
)
"""(the key a row names its account by, the FROM clause): ledgers by addresses."""
LEDGERS_BY_ID = ("l.account_id", " FROM st_ledgers l WHERE l.token_id = ?1 AND l.account_id IN ({accounts})")
"""As :data:`LEDGERS_BY_ADDRESS`, by the ids of the token and the accounts."""
_LEDGERS_BY = {"address": LEDGERS_BY_ADDRESS, "id": LEDGERS_BY_ID}
_LEDGERS_SQL: dict[tuple[str, tuple[int, ...], int], str] = {}


def side_sums_sql(which: int, first_range: int, n: int) -> str:
    """The sums (text of _SUMS) of side ``which``'s pending events up to ?2 of the ledger
    ``l``, NULL when its summary answers alone: its event rows, or its tree's prefix as
    the ``n`` ranges bounded by ?first_range...."""
    side = ("in", "out")[which]
    key = SIDE_KEY_SQL.format(ledger_id="l.id", which=which)
    needs = NEEDS_EVENTS_SQL.format(first=f"l.{side}_first", last=f"l.{side}_last", b="?2")
    return (
        f"CASE WHEN {needs}"
        f" THEN CASE WHEN l.{side}_tree > 0 THEN (SELECT {_SUMS} FROM ({_range_rows(key, first_range, n)}))"
        f" ELSE (SELECT {_SUMS} FROM st_side_events WHERE side_key = {key} AND block <= ?2) END END"
    )


def same_sides_sums_sql(bits: int, first_range: int, n: int) -> str:
    """The ``in_sums`` and ``out_sums`` columns when every account needs the same sides."""
    return "".join(f", {side_sums_sql(w, first_range, n) if bits >> w & 1 else 'NULL'} AS {name}_sums"
                   for w, name in enumerate(("in", "out")))


def per_account_sums_sql(key: str, sides: tuple[int, ...], first_range: int, n: int) -> str:
    """The ``in_sums`` and ``out_sums`` columns when accounts need different sides: the
    sides of the account in each row (?(3 + k) is account k)."""
    return "".join(
        ", CASE " + " ".join(f"WHEN {key} = ?{3 + k} THEN {side_sums_sql(w, first_range, n) if bits >> w & 1 else 'NULL'}"
                             for k, bits in enumerate(sides)) + f" END AS {name}_sums"
        for w, name in enumerate(("in", "out"))
    )


def ledgers_sql(by: str, sides: tuple[int, ...], n: int) -> str:
    """The ledgers of ``len(sides)`` accounts (?3...) of a token (?1), ``by`` address or
    id, with the sums a settle at ?2 needs of the sides each account's ``sides`` bits name,
    the tree's prefix being the ``n`` ranges after the accounts. Columns: the ledger's
    (:data:`ledger_row.COLUMNS`), token id, account id, key, in_sums, out_sums."""
    sql = _LEDGERS_SQL.get((by, sides, n))
    if sql is None:
        key, source = _LEDGERS_BY[by]
        first_range = 3 + len(sides)
        if len(set(sides)) == 1:
            sums = same_sides_sums_sql(sides[0], first_range, n)
        else:
            sums = per_account_sums_sql(key, sides, first_range, n)
        columns = ", ".join("l." + c for c in ledger_row.COLUMNS)
        where = source.format(accounts=_marks(3, len(sides)))
        sql = _LEDGERS_SQL[by, sides, n] = f"SELECT {columns}, l.token_id, l.account_id, {key} AS key{sums}{where}"
    return sql


def _ledgers_with_sums(
    conn: sqlite3.Connection, by: str, token: object, accounts: Sequence[object], block: int,
    ranges: tuple[tuple[int, int], ...], sides: tuple[int, ...],
) -> list[Optional[tuple[Ledger, int, int]]]:
    """(ledger, token id, account id) of each account, None where it has no ledger, with
    the sums of the ``sides`` of each: one statement for them all."""
    found: list[Optional[tuple[Ledger, int, int]]] = [None] * len(accounts)
    if not any(sides):  # nothing to sum: no tree ranges in the statement
        ranges = ()
    bounds = [x for r in ranges for x in r]
    for row in conn.execute(ledgers_sql(by, sides, len(ranges)), (token, block, *accounts, *bounds)):
        ledger = ledger_row.decode(row)
        token_id, account_id, key, in_sums, out_sums = row[8:]
        if in_sums is not None:
            ledger.incoming.prefix_at = (block, _fetched_sum(conn, in_sums, side_key(ledger.id, INCOMING),
                                                             ledger.incoming.tree_levels, block, ranges))
        if out_sums is not None:
            ledger.outgoing.prefix_at = (block, _fetched_sum(conn, out_sums, side_key(ledger.id, OUTGOING),
                                                             ledger.outgoing.tree_levels, block, ranges))
        found[accounts.index(key)] = (ledger, token_id, account_id)
    return found


def _fetched_sum(conn: sqlite3.Connection, sums: str, key: int, tree: int, block: int,
                 ranges: tuple[tuple[int, int], ...]) -> Delta:
    """The sum a ledger read fetched for a side (its rows up to ``block`` or its tree's
    prefix), with any whole values added by a statement of their own."""
    total, bigs = _parse_sums(sums)
    if bigs:
        total = sum_ranges(conn, key, ranges) if tree else sum_events(conn, key, block)
    return total


RANGES_PAD = 4


@lru_cache(maxsize=64)
def _prefix_ranges(block: int) -> tuple[tuple[int, int], ...]:
    """prefix_ranges, kept for the few blocks in use: every call of a block asks for it.
    Padded with empty ranges to a multiple of RANGES_PAD, so that a few statement texts
    serve every block: a host's own connection keeps 128 statements prepared (the sqlite3
    module's default), and preparing ledger reads again was 8% of their time in a profile,
    where padding costs at most three seeks that find nothing."""
    ranges = prefix_ranges(block)
    return tuple(ranges) + ((1, 0),) * (-len(ranges) % RANGES_PAD)


def ledgers_at(
    conn: sqlite3.Connection, token: bytes, accounts: Sequence[bytes], block: int, sides: Sequence[int]
) -> list[Optional[tuple[Ledger, int, int]]]:
    """(ledger as stored, token id, account id) of each account by addresses (None where
    it has none), with what a read or a settle at ``block`` of the account's ``sides``
    (bits IN_SIDE, OUT_SIDE, one value per account) needs beyond each side's summary (see
    Side.pending) added up by SQLite in the same statement: the side's event rows up to
    ``block``, or its tree nodes left of ``block``'s own at each level. One statement,
    whatever the schedules and however many accounts."""
    return _ledgers_with_sums(conn, "address", bytearray(token), [bytearray(a) for a in accounts], block,
                              _prefix_ranges(block), tuple(sides))


def ledger_at(
    conn: sqlite3.Connection, token: bytes, account: bytes, block: int, sides: int = BOTH_SIDES
) -> Optional[tuple[Ledger, int, int]]:
    """:func:`ledgers_at` of one account."""
    return ledgers_at(conn, token, (account,), block, (sides,))[0]


def ledgers_of(
    conn: sqlite3.Connection, token_id: int, account_ids: Sequence[int], block: int, sides: Sequence[int]
) -> list[Optional[Ledger]]:
    """As :func:`ledgers_at`, by the ids of the token and the accounts."""
    found = _ledgers_with_sums(conn, "id", token_id, list(account_ids), block, _prefix_ranges(block), tuple(sides))
    return [None if f is None else f[0] for f in found]


def load_ledger(conn: sqlite3.Connection, account_id: int, token_id: int) -> Optional[Ledger]:
    """The ledger by ids as stored, no side summed."""
    found = _ledgers_with_sums(conn, "id", token_id, [account_id], 0, (), (0,))[0]
    return None if found is None else found[0]


def new_ledger(conn: sqlite3.Connection, account_id: int, token_id: int, block: int) -> Ledger:
    """A new, empty ledger, both sides settled at ``block``, stored."""
    ledger = ledger_row.empty(block)
    ledger.id = conn.execute(ledger_row.INSERT, (account_id, token_id, *ledger_row.encode(ledger)[:-1])).lastrowid
    return ledger


def store_ledger(conn: sqlite3.Connection, ledger: Ledger) -> None:
    conn.execute(ledger_row.UPDATE, ledger_row.encode(ledger))


# --- pending events of small schedules: one row per block -----------------------------


def sum_events(conn: sqlite3.Connection, side_key: int, block: int) -> Delta:
    """Σ of the side's event rows up to ``block`` (all rows are pending)."""
    text = conn.execute(
        f"SELECT {_SUMS} AS sums FROM st_side_events WHERE side_key = ? AND block <= ?", (side_key, block)
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


_INSERT_NEW_EVENT = (
    f"INSERT INTO st_side_events (side_key, block, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (side_key, block) DO NOTHING"
)
_DELETE_IF_EQUAL = (
    "DELETE FROM st_side_events WHERE side_key = ? AND block = ? AND r0 = ? AND r1 = ?"
    " AND c0 = ? AND c1 = ? AND big IS ?"
)


def add_event(conn: sqlite3.Connection, side_key: int, block: int, delta: Delta, removing: bool = False) -> int:
    """Add ``delta`` to the side's row at ``block``; +1 if a row was created, -1 if the row
    cancelled out and was deleted, else 0.

    The common cases take one statement: putting a stream's event where no other event
    is (a new row), and taking one off (``removing``) where it is alone (the stored row is
    exactly its negation: the encoding is canonical, so equal values have equal columns).
    Anything else reads the row and writes the sum."""
    if not removing:
        if conn.execute(_INSERT_NEW_EVENT, (side_key, block, *encode_delta(delta))).rowcount:
            return 1
    elif conn.execute(_DELETE_IF_EQUAL, (side_key, block, *encode_delta((-delta[0], -delta[1])))).rowcount:
        return -1
    row = conn.execute(
        f"SELECT {_DELTA_COLUMNS} FROM st_side_events WHERE side_key = ? AND block = ?", (side_key, block)
    ).fetchone()
    if row is not None:
        old = decode_delta(*row)
        delta = (old[0] + delta[0], old[1] + delta[1])
        if delta == ZERO:
            conn.execute("DELETE FROM st_side_events WHERE side_key = ? AND block = ?", (side_key, block))
            return -1
    conn.execute(
        f"INSERT OR REPLACE INTO st_side_events (side_key, block, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (side_key, block, *encode_delta(delta)),
    )
    return 0 if row is not None else 1


def take_events(conn: sqlite3.Connection, side_key: int) -> list[tuple[int, Delta]]:
    """Remove and return all of the side's event rows (it is moving to a tree), by block."""
    rows = conn.execute(
        f"SELECT block, {_DELTA_COLUMNS} FROM st_side_events WHERE side_key = ? ORDER BY block", (side_key,)
    ).fetchall()
    conn.execute("DELETE FROM st_side_events WHERE side_key = ?", (side_key,))
    return [(row[0], decode_delta(*row[1:])) for row in rows]


def ledgers_of_token(conn: sqlite3.Connection, token_id: int) -> Iterator[tuple[bytes, int]]:
    """(account address, account id) of every ledger of a token, by account id."""
    yield from conn.execute(
        "SELECT a.address, a.id FROM st_ledgers l JOIN st_accounts a ON a.id = l.account_id"
        " WHERE l.token_id = ? ORDER BY a.id",
        (token_id,),
    )


def holders_after(conn: sqlite3.Connection, token_id: int, after_id: int, limit: int) -> list[tuple[int, bytes]]:
    """(ledger id, account address) of up to ``limit`` ledgers of a token with ids above
    ``after_id``, in ledger id order (the order the accounts first held the token). Reads
    st_ledgers in id order from ``after_id`` (no index by token): a page of a token that
    few accounts hold may scan the rest of the table."""
    return conn.execute(
        "SELECT l.id, a.address FROM st_ledgers l JOIN st_accounts a ON a.id = l.account_id"
        " WHERE l.token_id = ? AND l.id > ? ORDER BY l.id LIMIT ?",
        (token_id, after_id, limit),
    ).fetchall()


# --- tree nodes of large schedules ---------------------------------------------------


def load_nodes(conn: sqlite3.Connection, side_key: int, nodes: Iterable[int]) -> dict[int, Delta]:
    """Values of the given nodes; nodes never written are absent."""
    keys = sorted(set(nodes))
    if not keys:
        return {}
    rows = conn.execute(
        f"SELECT node, {_DELTA_COLUMNS} FROM st_tree_nodes WHERE side_key = ?1 AND node IN ({_marks(2, len(keys))})",
        (side_key, *keys),
    )
    return {row[0]: decode_delta(*row[1:]) for row in rows}


def sum_ranges(conn: sqlite3.Connection, side_key: int, ranges: Sequence[tuple[int, int]]) -> Delta:
    """Σ of the side's tree nodes in ``ranges``, added up by SQLite."""
    if not ranges:
        return ZERO
    params = (side_key, *[x for r in ranges for x in r])
    rows = _range_rows("?1", 2, len(ranges))
    total, bigs = _parse_sums(conn.execute(f"SELECT {_SUMS} AS sums FROM ({rows})", params).fetchone()[0])
    if bigs:
        total = _add_bigs(conn, total, f"SELECT big FROM ({rows}) WHERE big IS NOT NULL", params)
    return total


def store_nodes(conn: sqlite3.Connection, side_key: int, nodes: dict[int, Delta]) -> None:
    """Write nodes whole; a node whose value is zero is deleted (a node is stored while it
    holds something)."""
    ordered = sorted(nodes.items())
    conn.executemany(
        f"INSERT OR REPLACE INTO st_tree_nodes (side_key, node, {_DELTA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(side_key, n, *encode_delta(v)) for n, v in ordered if v != ZERO],
    )
    zero = [n for n, v in ordered if v == ZERO]
    if zero:
        conn.execute(f"DELETE FROM st_tree_nodes WHERE side_key = ?1 AND node IN ({_marks(2, len(zero))})",
                     (side_key, *zero))


# --- settling and changing a side -----------------------------------------------------


def pending(conn: sqlite3.Connection, ledger: Ledger, which: int, b: int) -> Delta:
    """Sum of the side's pending events in (side.block, b]."""
    side = ledger.outgoing if which == OUTGOING else ledger.incoming
    known = side.pending(b)
    if known is not None:
        return known
    key = side_key(ledger.id, which)
    if side.tree_levels:
        return sub(sum_ranges(conn, key, query_ranges(b, side.tree_levels)), side.base)
    return sum_events(conn, key, b)


def balance_at(conn: sqlite3.Connection, ledger: Ledger, b: int) -> Balance:
    """The ledger's figures at ``b`` (>= ledger.block); reads only."""
    return ledger.balance_at(*flows(conn, ledger, b))


def flows(conn: sqlite3.Connection, ledger: Ledger, b: int) -> tuple[int, int]:
    """(flowed in, flowed out) since each side's block up to ``b`` (>= ledger.block); reads only."""
    moved = [0, 0]
    for which, side in ((INCOMING, ledger.incoming), (OUTGOING, ledger.outgoing)):
        if b > side.block and not side.idle:
            moved[which] = flow(side.rate, side.block, b, pending(conn, ledger, which, b))
    return moved[0], moved[1]


def settle(conn: sqlite3.Connection, ledger: Ledger, block: int, sides: int) -> None:
    """Bring the ``sides`` (bits IN_SIDE, OUT_SIDE) of the ledger to ``block`` (>=
    ledger.block, its last change, which becomes ``block``): what flowed in is
    available, what flowed out leaves committed, and the event rows that happened are
    deleted. The other side is brought along only where that costs no statement (nothing
    pending has happened, or its events are a tree whose summary answers)."""
    for which, side in ((INCOMING, ledger.incoming), (OUTGOING, ledger.outgoing)):
        if block == side.block:
            continue
        if side.idle:
            side.block = block
            continue
        rows_done = side.count and block >= side.first
        if not sides >> which & 1 and (rows_done or side.pending(block) is None):
            continue
        done = pending(conn, ledger, which, block)
        removed = delete_events(conn, side_key(ledger.id, which), block) if rows_done else 0
        ledger.settle_side(which, block, done, removed)
    ledger.block = block


def add_events(conn: sqlite3.Connection, ledger: Ledger, which: int, events: list[Event], sign: int) -> None:
    """Put a segment's events on (sign=1) or take them off (sign=-1) a side settled at
    the call's block.

    An event at or before the side's block has already happened: only its rate change
    still matters going forward. Later events are pending: rows while the side has at
    most INLINE_MAX_EVENTS of them, then all of them move to the side's tree.
    """
    side = ledger.outgoing if which == OUTGOING else ledger.incoming
    key = side_key(ledger.id, which)
    to_tree: list[tuple[int, Delta]] = []
    for block, rate_change, lump in events:
        rate_change, lump = sign * rate_change, sign * lump
        if block <= side.block:
            side.rate += rate_change
            continue
        delta = event_delta(block, rate_change, lump)
        if side.tree_levels:
            to_tree.append((block, delta))
            side.added(block, delta)
        else:
            side.added(block, delta, add_event(conn, key, block, delta, removing=sign < 0))
    if not side.tree_levels and side.count > INLINE_MAX_EVENTS:
        to_tree = take_events(conn, key)
        side.count = 0
    if to_tree:
        _tree_add(conn, key, side, to_tree)


def _carried(col: str) -> str:
    """SET clauses adding ``excluded``'s limbs of ``col`` (r or c) to a stored node's, with
    the carry SQLite computes (integer division truncates, so the low limb stays below
    2^54 in magnitude, whatever the signs). Both right-hand sides read the row as it was.
    The top limb is checked by the caller (RETURNING)."""
    m = 1 << _LIMB
    low = f"({col}0 + excluded.{col}0)"
    return f"{col}0 = {low} % {m}, {col}1 = {col}1 + excluded.{col}1 + {low} / {m}"


_ADD_TO_NODES: dict[int, str] = {}


def _add_to_nodes_sql(levels: int) -> str:
    """Add one Delta (?2..?5, its limbs) to the nodes ?6.. of a side (?1), one per level, in
    one statement: new nodes are inserted, stored ones get the limbs added; a node kept
    whole in ``big`` is left alone (and not returned)."""
    sql = _ADD_TO_NODES.get(levels)
    if sql is None:
        rows = ", ".join(f"(?1, ?{6 + k}, ?2, ?3, ?4, ?5, NULL)" for k in range(levels))
        sql = _ADD_TO_NODES[levels] = (
            f"INSERT INTO st_tree_nodes (side_key, node, {_DELTA_COLUMNS}) VALUES {rows}"
            f" ON CONFLICT (side_key, node) DO UPDATE SET {_carried('r')}, {_carried('c')} WHERE big IS NULL"
            " RETURNING node, r0, r1, c0, c1"
        )
    return sql


def _tree_add(conn: sqlite3.Connection, key: int, side: Side, events: list[tuple[int, Delta]]) -> None:
    """Add (block, delta) events to the side's tree, growing it levels if needed.

    Each event's delta is added to its node at every level by SQLite in one statement
    (the nodes are neither read nor re-encoded by Python). A node left at zero is deleted,
    so the tree holds a node exactly where some sum is not zero; a value at or past
    ±2^108 goes through Python, whole."""
    old = side.tree_levels
    levels = tree_levels_for(max(block for block, _ in events), max(old, 1))
    if old and levels > old:  # the new levels' first nodes cover the old top: every event so far
        total = sum_ranges(conn, key, [top_range(old)])
        store_nodes(conn, key, {n: total for n in grown_nodes(old, levels)})
    for block, delta in events:
        nodes = update_nodes(block, levels)
        columns = encode_delta(delta)
        if columns[4] is not None:
            _add_to_nodes_whole(conn, key, nodes, delta)
            continue
        rows = conn.execute(_add_to_nodes_sql(levels), (key, *columns[:4], *nodes)).fetchall()
        if len(rows) < len(nodes):  # nodes kept whole: add in Python
            added = {row[0] for row in rows}
            _add_to_nodes_whole(conn, key, [n for n in nodes if n not in added], delta)
        whole = {}
        for node, r0, r1, c0, c1 in rows:
            if not (r1 or c1 or r0 or c0):
                whole[node] = ZERO  # deleted
            elif not (-_LIMB_MAX <= r1 <= _LIMB_MAX and -_LIMB_MAX <= c1 <= _LIMB_MAX):
                whole[node] = (join(r0, r1), join(c0, c1))  # past the limbs: whole from now on
        if whole:
            store_nodes(conn, key, whole)
    side.tree_levels = levels


def _add_to_nodes_whole(conn: sqlite3.Connection, key: int, nodes: list[int], delta: Delta) -> None:
    """Read, add and store back in Python: for values too large for the limbs."""
    stored = load_nodes(conn, key, nodes)
    store_nodes(conn, key, {n: add(stored.get(n, ZERO), delta) for n in nodes})
