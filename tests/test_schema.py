"""The current schema is written once (streamable_token.schema.CURRENT_SCHEMA) and a fresh
database is created from it directly; the migrations are frozen (they import no live
code) and bring a version-1 database to exactly the same schema and state."""
from __future__ import annotations

import ast
import re
import shutil
import sqlite3
from pathlib import Path

from streamable_token import StreamableToken
from streamable_token.migrations import MIGRATIONS, m1_initial
from streamable_token.schema import SCHEMA_VERSION, connect, ensure_schema, schema_version
from tests.test_engine_migration import FIXTURE, T, accounts, continuation, scenario

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
    that ran the same calls: the same schema, and the same rows in every table but the
    bounds of a ledger side's pending events, which the live engine keeps loose (they
    only ever widen) and the migration computes tight. After both settle every side at a
    later block, the whole state hash agrees."""
    shutil.copy(FIXTURE, tmp_path / "old.sqlite")
    migrated = StreamableToken(connect(str(tmp_path / "old.sqlite")))
    fresh = StreamableToken(str(tmp_path / "new.sqlite"))
    scenario(fresh)
    assert schema_of(migrated.conn) == schema_of(fresh.conn)
    for table in ("st_tokens", "st_accounts", "st_side_events", "st_tree_nodes", "st_streams", "st_meta"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert migrated.conn.execute(query).fetchall() == fresh.conn.execute(query).fetchall(), table
    bounds = {"in_first", "in_last", "out_first", "out_last"}
    columns = [r[1] for r in fresh.conn.execute("PRAGMA table_info(st_ledgers)") if r[1] not in bounds]
    query = f"SELECT {', '.join(columns)} FROM st_ledgers ORDER BY id"
    assert migrated.conn.execute(query).fetchall() == fresh.conn.execute(query).fetchall()
    continuation(migrated)
    continuation(fresh)
    for engine in (migrated, fresh):  # settle every side past its last event: bounds close
        for account in accounts():
            engine.mint(T, account, 1, block=10_000)
    assert migrated.state_hash() == fresh.state_hash()


def test_migrations_import_no_live_code():
    for path in sorted(MIGRATIONS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("streamable_token"):
                assert node.module.startswith("streamable_token.migrations"), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("streamable_token") for a in node.names), path.name
    assert len(MIGRATIONS) == SCHEMA_VERSION
