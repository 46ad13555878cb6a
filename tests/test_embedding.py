"""The engine inside someone else's database and transaction: ``StreamableToken(conn)``
on a connection a host DApp opened with plain ``sqlite3.connect`` creates its ``st_*``
tables beside the host's, and never commits or rolls back the host's transaction: a host
that rolls back undoes the engine's writes with its own."""
from __future__ import annotations

import sqlite3

import pytest

from streamable_token import InsufficientFunds, StreamableToken

pytestmark = pytest.mark.unit


T = "0x" + "11" * 20
ALICE, BOB = "0x" + "aa" * 20, "0x" + "bb" * 20


def host_db(path) -> sqlite3.Connection:
    """A host DApp's database with tables whose names a careless engine would take."""
    conn = sqlite3.connect(path)  # the sqlite3 module's default: implicit transactions
    conn.execute("CREATE TABLE tokens (symbol TEXT)")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, what TEXT)")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    return conn


def supply_seen_by_another_connection(path) -> int:
    other = sqlite3.connect(path)
    try:
        return StreamableToken(other).total_supply(T)
    finally:
        other.close()


def test_tables_are_created_beside_the_hosts_without_touching_its_names_or_version(tmp_path):
    conn = host_db(tmp_path / "h.sqlite")
    engine = StreamableToken(conn)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"tokens", "orders"} <= names
    assert all(n.startswith("st_") for n in names - {"tokens", "orders"})
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    assert conn.execute("SELECT count(*) FROM tokens").fetchone()[0] == 0
    engine.mint(T, ALICE, 10, block=1)
    conn.commit()
    assert StreamableToken(conn).total_supply(T) == 10  # opening again creates nothing twice


def test_a_host_rollback_undoes_the_engines_writes_with_its_own(tmp_path):
    path = tmp_path / "h.sqlite"
    conn = host_db(path)
    engine = StreamableToken(conn)
    conn.commit()
    before = engine.state_hash()
    engine.mint(T, ALICE, 1000, block=1)  # the engine's write comes first: it opens the transaction
    assert conn.in_transaction  # and commits nothing
    conn.execute("INSERT INTO orders (what) VALUES ('deposit')")
    engine.open_stream(T, ALICE, BOB, 500, 2, 10, 1)
    assert conn.in_transaction
    assert supply_seen_by_another_connection(path) == 0
    conn.rollback()
    assert engine.state_hash() == before
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    # and a commit keeps both
    conn.execute("INSERT INTO orders (what) VALUES ('deposit')")
    engine.mint(T, ALICE, 1000, block=1)
    conn.commit()
    assert supply_seen_by_another_connection(path) == 1000


def test_a_refused_call_undoes_only_itself_inside_the_hosts_transaction(tmp_path):
    conn = host_db(tmp_path / "h.sqlite")
    engine = StreamableToken(conn)
    conn.execute("INSERT INTO orders (what) VALUES ('before')")
    engine.mint(T, ALICE, 100, block=1)
    with pytest.raises(InsufficientFunds):
        engine.burn(T, ALICE, 101, block=2)
    assert conn.in_transaction
    assert engine.realtime_balance_of(T, ALICE, 2).balance == 100
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    conn.rollback()
    assert engine.total_supply(T) == 0


def test_an_explicit_transaction_on_an_autocommit_connection_is_the_hosts_to_end(tmp_path):
    conn = sqlite3.connect(tmp_path / "h.sqlite", isolation_level=None)
    engine = StreamableToken(conn)
    conn.execute("BEGIN")
    engine.mint(T, ALICE, 100, block=1)
    engine.transfer(T, ALICE, BOB, 40, 2)
    assert conn.in_transaction
    conn.execute("ROLLBACK")
    assert engine.total_supply(T) == 0


def test_creating_the_tables_inside_the_hosts_open_transaction_commits_nothing(tmp_path):
    conn = host_db(tmp_path / "h.sqlite")
    conn.execute("INSERT INTO orders (what) VALUES ('pending')")
    assert conn.in_transaction
    StreamableToken(conn)
    assert conn.in_transaction
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'st_%'").fetchone()[0] == 0
