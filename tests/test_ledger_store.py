"""The ledger store's own parts, tested directly: the limb codec (and the bound that keeps
SQLite's sums exact), the BLOB codecs, the side key and the in-bounds rule in SQL."""
from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamable_token import ledger_store as ls
from streamable_token.blobs import blob_to_int, blob_to_uint, int_to_blob, uint_to_blob
from streamable_token.ledger import Side
from streamable_token.schedule import INLINE_MAX_EVENTS

pytestmark = pytest.mark.property


SIGNED = st.integers(-(2**300), 2**300)
LIMBED = st.integers(-(2**108) + 1, 2**108 - 1)


@given(SIGNED, SIGNED)
def test_a_delta_survives_its_columns(r, c):
    columns = ls.encode_delta((r, c))
    assert len(columns) == 5
    assert ls.decode_delta(*columns) == (r, c)
    limbed = -(2**108) < r < 2**108 and -(2**108) < c < 2**108
    assert (columns[4] is None) == limbed
    if limbed:
        assert all(-(2**54) < x < 2**54 for x in columns[:4])
        # sign and magnitude: every limb carries its value's sign (a small negative value
        # has small limbs, so sums of mixed signs stay small)
        assert all((x <= 0) if r < 0 else (x >= 0) for x in columns[:2])
        assert all((x <= 0) if c < 0 else (x >= 0) for x in columns[2:4])


@given(st.lists(LIMBED, min_size=1, max_size=ls.MAX_SUMMED_ROWS))
def test_limb_sums_of_many_rows_are_exact_in_sqlite(values):
    """SQLite adds the limb columns of up to MAX_SUMMED_ROWS rows; joining the sums gives
    the exact sum of the values, and no column sum leaves 64 bits."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (r0, r1, c0, c1, big)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [ls.encode_delta((v, -v)) for v in values])
    sums = conn.execute("SELECT sum(r0), sum(r1), sum(c0), sum(c1) FROM t").fetchone()
    assert ls.join(*sums[:2]) == sum(values) and ls.join(*sums[2:]) == -sum(values)
    assert all(abs(s) < 2**63 for s in sums)


def test_the_limb_bound_is_enforced_for_the_largest_sum():
    assert ls.MAX_SUMMED_ROWS >= INLINE_MAX_EVENTS + ls.EVENTS_PER_CALL
    assert ls.MAX_SUMMED_ROWS >= ls.MAX_RANGE_NODES
    assert ls.MAX_SUMMED_ROWS * (2**ls.LIMB_BITS - 1) <= 2**63 - 1
    # the worst case in SQLite itself: every row at the largest limb, one sign
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(2**ls.LIMB_BITS - 1,)] * ls.MAX_SUMMED_ROWS)
    assert conn.execute("SELECT sum(x) FROM t").fetchone()[0] == ls.MAX_SUMMED_ROWS * (2**ls.LIMB_BITS - 1)
    conn.executemany("INSERT INTO t VALUES (?)", [(2**ls.LIMB_BITS - 1,)] * 2**10)
    with pytest.raises(sqlite3.OperationalError, match="overflow"):  # why the bound exists
        conn.execute("SELECT sum(x) FROM t").fetchone()


@given(st.integers(0, 2**256 - 1))
def test_uint_blobs_are_minimal_and_exact(n):
    blob = uint_to_blob(n)
    assert blob_to_uint(blob) == n and (n == 0) == (len(blob) == 0)
    assert len(blob) == (n.bit_length() + 7) // 8


@given(SIGNED)
def test_int_blobs_round_trip(n):
    assert blob_to_int(int_to_blob(n)) == n


def test_a_negative_amount_cannot_be_stored():
    with pytest.raises(ValueError):
        uint_to_blob(-1)


def test_side_keys_are_distinct_and_the_sql_says_the_same():
    keys = {ls.side_key(lid, w) for lid in range(1, 50) for w in (ls.INCOMING, ls.OUTGOING)}
    assert len(keys) == 98
    conn = sqlite3.connect(":memory:")
    sql = ls.SIDE_KEY_SQL.format(ledger_id="?1", which="?2")
    for lid, w in ((1, 0), (7, 1), (2**40, 1)):
        assert conn.execute(f"SELECT {sql}", (lid, w)).fetchone()[0] == ls.side_key(lid, w)


def test_the_in_bounds_rule_is_the_same_in_python_and_sql():
    conn = sqlite3.connect(":memory:")
    sql = "SELECT CASE WHEN " + ls.NEEDS_EVENTS_SQL.format(first="?1", last="?2", b="?3") + " THEN 1 ELSE 0 END"
    for first, last in ((0, 0), (5, 5), (5, 10), (1, 2**62)):
        side = Side(first=first, last=last)
        for b in (0, 1, 4, 5, 6, 9, 10, 11, 2**62):
            assert bool(conn.execute(sql, (first, last, b)).fetchone()[0]) == side.needs_events(b), (first, last, b)


def tree_fixture():
    from streamable_token.schema import ensure_schema

    conn = sqlite3.connect(":memory:", isolation_level=None)
    ensure_schema(conn)
    return conn, Side(tree_levels=0)


@given(st.lists(st.tuples(st.integers(1, 300), st.integers(-(2**120), 2**120) | st.integers(-(2**60), 2**60),
                          st.integers(-(2**107), 2**107) | st.integers(-(2**60), 2**60)),
                min_size=1, max_size=40))
def test_tree_nodes_added_in_sql_sum_exactly(events):
    """Deltas added to tree nodes by SQLite (limbs with carries, mixed signs) give the
    exact prefix sums a Python reference gives, at every block; a node is stored exactly
    while its sum is not zero."""
    conn, side = tree_fixture()
    for k in range(0, len(events), 3):  # several events per call, sharing nodes (and blocks)
        ls._tree_add(conn, 9, side, [(block, (r, c)) for block, r, c in events[k:k + 3]])
    for b in (0, 1, 2, 63, 64, 150, 299, 300, 301, 600):
        expected = (sum(r for blk, r, _ in events if blk <= b), sum(c for blk, _, c in events if blk <= b))
        assert ls.sum_ranges(conn, 9, ls.query_ranges(b, side.tree_levels)) == expected
    for row in conn.execute("SELECT r0, r1, c0, c1, big FROM st_tree_nodes"):
        if row[4] is None:
            assert all(abs(x) < 2**ls.LIMB_BITS for x in row[:4])
        assert ls.decode_delta(*row) != (0, 0)


def test_a_node_that_grows_past_the_limbs_is_kept_whole():
    conn, side = tree_fixture()
    half = 2**107 + 12345
    ls._tree_add(conn, 9, side, [(5, (half, -half))])
    assert conn.execute("SELECT count(big) FROM st_tree_nodes").fetchone()[0] == 0
    ls._tree_add(conn, 9, side, [(5, (half, -half))])  # each node now holds 2^108 + 24690
    assert conn.execute("SELECT count(big), count(*) FROM st_tree_nodes").fetchone() == (1, 1)  # block 5's node
    assert ls.sum_ranges(conn, 9, ls.query_ranges(5, side.tree_levels)) == (2 * half, -2 * half)
    ls._tree_add(conn, 9, side, [(6, (1, 1))])  # past 2^108 the Python path adds, whole
    assert ls.sum_ranges(conn, 9, ls.query_ranges(6, side.tree_levels)) == (2 * half + 1, -2 * half + 1)
    ls._tree_add(conn, 9, side, [(5, (-half, half)), (7, (3, 4)), (5, (-half, half))])  # back into the limbs
    assert ls.sum_ranges(conn, 9, ls.query_ranges(7, side.tree_levels)) == (4, 5)
    assert ls.sum_ranges(conn, 9, ls.query_ranges(5, side.tree_levels)) == (0, 0)
    assert [row[0] for row in conn.execute("SELECT node FROM st_tree_nodes ORDER BY node")] == [6, 7]  # 5 is zero: gone
