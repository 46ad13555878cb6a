"""The current schema is written once (streamable_token.schema.CURRENT_SCHEMA) and a fresh
database is created from it directly; the migrations are frozen (they import no live
code) and bring a version-1 database to exactly the same schema and state."""
from __future__ import annotations

import ast
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamable_token import StreamableToken
from streamable_token import ledger_store as ls
from streamable_token.migrations import MIGRATIONS, m1_initial, m5_ledger_state, m6_two_limbs
from streamable_token.ledger import Side
from streamable_token.schedule import query_ranges, tree_levels_for, tree_node
from streamable_token.schema import SCHEMA_VERSION, connect, ensure_schema, schema_version
from tests.property_budget import examples
from tests.test_engine_migration import FIXTURE, T, accounts, continuation, scenario

pytestmark = pytest.mark.unit


MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "streamable_token" / "migrations"


def schema_of(conn: sqlite3.Connection) -> list[tuple]:
    """Every table and index as SQLite keeps it, comments and spacing aside."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
    return [(t, n, tbl, " ".join(re.sub(r"--[^\n]*", "", sql).split()).replace("( ", "(").replace(" )", ")"))
            for t, n, tbl, sql in rows]


def v1_database(path: Path) -> sqlite3.Connection:
    """An empty database as schema version 1 wrote it (its frozen SQL, user_version 1)."""
    conn = sqlite3.connect(path, isolation_level=None)
    m1_initial.migrate(conn)
    conn.execute("PRAGMA user_version = 1")
    return conn


def test_a_migrated_empty_v1_database_equals_a_fresh_one_in_schema_and_state_hash(tmp_path):
    old = v1_database(tmp_path / "old.sqlite")
    assert schema_version(old) == 1
    assert ensure_schema(old) == 1
    fresh = sqlite3.connect(tmp_path / "new.sqlite", isolation_level=None)
    assert ensure_schema(fresh) == 0
    assert schema_of(old) == schema_of(fresh)
    assert StreamableToken(old).state_hash() == StreamableToken(fresh).state_hash()
    assert old.execute("PRAGMA user_version").fetchone() == fresh.execute("PRAGMA user_version").fetchone() == (0,)


def test_the_v1_fixture_migrates_to_the_current_schema_and_the_same_rows(tmp_path):
    """The filled fixture (written by the engine at version 1) against a fresh database
    that ran the same calls: the same schema, and the same rows in every table that
    settling does not rewrite. Version 1 settled both sides of every ledger a call
    touched; the live engine settles the sides a call needs, so event rows that have
    happened may wait longer, and ledgers differ in what is settled where (the figures
    agree: tests/test_engine_migration.py). After both settle every side at a later
    block, every row and the whole state hash agree."""
    shutil.copy(FIXTURE, tmp_path / "old.sqlite")
    migrated = StreamableToken(connect(str(tmp_path / "old.sqlite")))
    fresh = StreamableToken(str(tmp_path / "new.sqlite"))
    scenario(fresh)
    assert schema_of(migrated.conn) == schema_of(fresh.conn)
    unsettled = ("st_tokens", "st_accounts", "st_tree_nodes", "st_streams", "st_meta")
    for table in unsettled:
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert migrated.conn.execute(query).fetchall() == fresh.conn.execute(query).fetchall(), table
    continuation(migrated)
    continuation(fresh)
    for engine in (migrated, fresh):  # settle every side past its last event: bounds close
        for account in accounts():
            engine.settle(T, account, 10_000)
    for table in (*unsettled, "st_ledgers", "st_side_events"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert migrated.conn.execute(query).fetchall() == fresh.conn.execute(query).fetchall(), table
    assert migrated.state_hash() == fresh.state_hash()


def test_migrations_import_no_live_code():
    for path in sorted(MIGRATIONS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamable_token"):
                assert node.module.startswith("streamable_token.migrations"), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("streamable_token") for a in node.names), path.name
    assert len(MIGRATIONS) == SCHEMA_VERSION


def fenwick_v4_database(events: list[tuple[int, int, int]]) -> tuple[sqlite3.Connection, int]:
    """A version-4 database (the frozen migrations 1-4 on an empty v1) holding one ledger
    whose incoming side is a Fenwick tree of ``events`` (block, Σ rate change, Σ c), as
    version 4 stored it: node i sums the events in (i - lowbit(i), i], over [1, size]."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    m1_initial.migrate(conn)
    conn.execute("PRAGMA user_version = 1")
    for migrate in MIGRATIONS[1:4]:
        migrate(conn)
    size = 1
    while size < max(b for b, _, _ in events):
        size *= 2
    nodes: dict[int, tuple[int, int]] = {}
    for block, r, c in events:
        i = block
        while i <= size:
            old = nodes.get(i, (0, 0))
            nodes[i] = (old[0] + r, old[1] + c)
            i += i & -i
    conn.execute("INSERT INTO st_tokens VALUES (1, ?, x'', x'')", (bytes(20),))
    conn.execute("INSERT INTO st_accounts VALUES (1, ?)", (bytes(19) + b"\1",))
    side = "x'', {tree}, 0, 0, 0, x'', x'', x'', x''"
    conn.execute(f"INSERT INTO st_ledgers VALUES (1, 1, 1, 0, x'', x'', {side.format(tree=size)}, {side.format(tree=0)})")
    conn.executemany("INSERT INTO st_tree_nodes VALUES (2, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [(n, *m5_ledger_state._encode(*v)) for n, v in nodes.items()])  # three limbs, as v4 had
    return conn, size


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(st.integers(1, 70_000), st.integers(-(2**140), 2**140), st.integers(-(2**170), 2**170)),
                min_size=1, max_size=40),
       st.lists(st.integers(0, 39), max_size=10))
def test_migrations_5_and_6_turn_a_fenwick_tree_into_the_tree_the_engine_builds(events, cancelled):
    """Each event block's own sum comes out of the Fenwick nodes and goes into its node of
    every level: the same nodes, holding the same values, as the live engine's tree after
    the same events (some taken back again, leaving sums of zero, which neither keeps),
    and the same sum at every block. The one difference allowed: the live tree may have
    grown levels for an event since taken back, whose first nodes only repeat the total."""
    taken_back = [(b, -r, -c) for k, (b, r, c) in enumerate(events) if k in set(cancelled)]
    conn, _ = fenwick_v4_database(events + taken_back)
    m5_ledger_state.migrate(conn)
    m6_two_limbs.migrate(conn)
    migrated = {n: ls.decode_delta(*v) for n, *v in conn.execute(
        "SELECT node, r0, r1, c0, c1, big FROM st_tree_nodes WHERE side_key = 2")}
    levels = conn.execute("SELECT in_tree FROM st_ledgers WHERE id = 1").fetchone()[0]

    live = sqlite3.connect(":memory:", isolation_level=None)
    ensure_schema(live)
    side = Side()
    for block, r, c in events + taken_back:
        ls._tree_add(live, 2, side, [(block, (r, c))])
    built = {n: ls.decode_delta(*v) for n, *v in live.execute(
        "SELECT node, r0, r1, c0, c1, big FROM st_tree_nodes WHERE side_key = 2")}
    assert migrated == {n: v for n, v in built.items() if n < tree_node(levels, 0)}
    assert all(v == sum_all(events + taken_back) for n, v in built.items() if n >= tree_node(levels, 0))
    points = {b for b, _, _ in events + taken_back if sum_all([e for e in events + taken_back if e[0] == b]) != (0, 0)}
    assert levels == (tree_levels_for(max(points)) if points else 1) <= side.tree_levels
    for b in sorted({b for b, _, _ in events} | {0, 1, 2**62}):
        expected = sum_all([e for e in events + taken_back if e[0] <= b])
        assert ls.sum_ranges(conn, 2, query_ranges(b, levels)) == expected
        assert ls.sum_ranges(live, 2, query_ranges(b, side.tree_levels)) == expected


def sum_all(events: list[tuple[int, int, int]]) -> tuple[int, int]:
    return sum(r for _, r, _ in events), sum(c for _, _, c in events)


def v5_database() -> sqlite3.Connection:
    """An empty version-5 database (the frozen migrations 1-5 on an empty v1)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    m1_initial.migrate(conn)
    conn.execute("PRAGMA user_version = 1")
    for migrate in MIGRATIONS[1:5]:
        migrate(conn)
    return conn


def _v5_limbs(n: int, mixed: int) -> tuple[int, int, int]:
    """Three limbs of ``n`` as version 5 stored them; with ``mixed`` 1 or 2, the low limb
    (and with 2 the middle one too) lends to the next, giving limbs of mixed signs and the
    same value, as a tree node's may be after SQLite added to it."""
    l0, l1, l2 = m5_ledger_state._limbs(n)
    s = 1 if n >= 0 else -1
    if mixed and l0 * s > 0 and abs(l1 + s) < 2**54:
        l0, l1 = l0 - s * 2**54, l1 + s
    if mixed == 2 and l1 * s > 0:
        l1, l2 = l1 - s * 2**54, l2 + s
    return l0, l1, l2


VALUES = st.one_of(
    st.integers(-(2**170), 2**170), st.integers(-(2**60), 2**60),
    *(st.integers(sign * edge - 3, sign * edge + 3) for edge in (2**108, 2**162) for sign in (1, -1)),
)
"""Any size, small ones, and the edges of both versions' limbs."""


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.tuples(VALUES, VALUES, st.integers(0, 2)), min_size=1, max_size=30))
def test_migration_6_keeps_every_value_in_two_limbs_or_whole(values):
    """Every event row and tree node, whatever its value (limbs of mixed signs, values
    past ±2^108 and past ±2^162 that version 5 kept whole), holds the same value after
    migration 6; an event row in the canonical form the engine writes and compares."""
    conn = v5_database()
    rows = []
    for k, (r, c, mixed) in enumerate(values):
        columns = m5_ledger_state._encode(r, c)
        if columns[6] is None and mixed:  # a node's limbs after SQLite added to it
            columns = (*_v5_limbs(r, mixed), *_v5_limbs(c, mixed), None)
        assert m5_ledger_state._decode(*columns) == (r, c)
        rows.append((k, columns))
    conn.executemany("INSERT INTO st_side_events VALUES (7, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [(k, *m5_ledger_state._encode(*m5_ledger_state._decode(*cols))) for k, cols in rows])
    conn.executemany("INSERT INTO st_tree_nodes VALUES (9, ?, ?, ?, ?, ?, ?, ?, ?)", [(k, *cols) for k, cols in rows])
    m6_two_limbs.migrate(conn)
    expected = {k: (r, c) for k, (r, c, _) in enumerate(values)}
    events = conn.execute("SELECT block, r0, r1, c0, c1, big FROM st_side_events ORDER BY block").fetchall()
    assert {k: ls.decode_delta(*cols) for k, *cols in events} == expected
    assert all(tuple(cols) == tuple(ls.encode_delta(expected[k])) for k, *cols in events)
    nodes = conn.execute("SELECT node, r0, r1, c0, c1, big FROM st_tree_nodes ORDER BY node").fetchall()
    assert {k: ls.decode_delta(*cols) for k, *cols in nodes} == expected
    for _, r0, r1, c0, c1, big in nodes:
        assert big is not None or all(abs(x) < 2**ls.LIMB_BITS for x in (r0, r1, c0, c1))
