"""One unit of work (issue 29): streamable_token.unit_of_work is the only code that writes
a transaction statement, and each of its shapes does what its callers rely on."""
from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

import pytest

from streamable_token.unit_of_work import EngineCalls, InputWork, Nested, OwnOrNested, ReadOnly

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
TRANSACTION = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END\s+TRANSACTION)\b", re.IGNORECASE)


def transaction_statements(path: Path) -> list[int]:
    """Lines of string constants, docstrings aside, that are a transaction statement (or
    start one, as an f-string's first part)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and id(node) not in docstrings
            and isinstance(node.value, str) and TRANSACTION.match(node.value)]


def test_only_the_unit_of_work_writes_transaction_statements():
    sources = [*sorted((ROOT / "streamable_token").rglob("*.py")), ROOT / "dapp.py", *sorted((ROOT / "db").rglob("*.py"))]
    found = {str(p.relative_to(ROOT)): transaction_statements(p) for p in sources if p.name != "unit_of_work.py"}
    assert not {k: v for k, v in found.items() if v}
    assert transaction_statements(ROOT / "streamable_token" / "unit_of_work.py")  # the check sees them


def db(tmp_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    return conn


def rows(conn: sqlite3.Connection) -> list:
    return [r[0] for r in conn.execute("SELECT x FROM t ORDER BY rowid")]


def test_an_input_is_committed_only_when_told_and_rolled_back_otherwise(tmp_path):
    conn = db(tmp_path)
    with InputWork(conn) as work:
        conn.execute("INSERT INTO t VALUES (1)")
        work.commit()
    with InputWork(conn):
        conn.execute("INSERT INTO t VALUES (2)")  # a replay: never committed
    with pytest.raises(ValueError), InputWork(conn):
        conn.execute("INSERT INTO t VALUES (3)")
        raise ValueError
    assert rows(conn) == [1] and not conn.in_transaction
    with pytest.raises(KeyboardInterrupt), InputWork(conn):  # the process ends: no statement on the way out
        conn.execute("INSERT INTO t VALUES (4)")
        raise KeyboardInterrupt
    assert conn.in_transaction
    conn.close()
    assert rows(sqlite3.connect(tmp_path / "t.sqlite")) == [1]


def test_a_nested_part_fails_alone(tmp_path):
    conn = db(tmp_path)
    with InputWork(conn) as work:
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError), Nested(conn, "part"):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ValueError
        with Nested(conn, "part"):
            conn.execute("INSERT INTO t VALUES (3)")
        work.commit()
    assert rows(conn) == [1, 3]


def statements(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    return seen


def test_engine_calls_nest_in_the_callers_transaction_and_never_commit_it(tmp_path):
    conn = db(tmp_path)
    calls = EngineCalls(conn)
    assert not calls.implicit
    seen = statements(conn)
    with calls.call(conn):  # outside a transaction on an isolation_level=None connection: autocommit
        conn.execute("INSERT INTO t VALUES (1)")
    conn.execute("BEGIN")
    with calls.call(conn):
        conn.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(ValueError), calls.call(conn):  # a refused call undoes only itself
        conn.execute("INSERT INTO t VALUES (3)")
        raise ValueError
    assert conn.in_transaction and rows(conn) == [1, 2]
    with calls.undone_by_caller():
        before = len(seen)
        with calls.call(conn):
            conn.execute("INSERT INTO t VALUES (4)")
        assert seen[before:] == ["INSERT INTO t VALUES (4)"]  # no savepoint of its own
    conn.execute("ROLLBACK")
    assert rows(conn) == [1]
    assert not [s for s in seen if s.startswith("COMMIT")]


def test_engine_calls_open_the_transaction_an_implicit_connection_expects(tmp_path):
    conn = sqlite3.connect(tmp_path / "i.sqlite")  # the sqlite3 module's default mode
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    calls = EngineCalls(conn)
    assert calls.implicit
    with calls.call(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    assert conn.in_transaction  # left for the caller to commit or roll back
    conn.rollback()
    assert rows(conn) == []


def test_own_or_nested_commits_only_its_own_transaction(tmp_path):
    conn = db(tmp_path)
    with OwnOrNested(conn, "setup"):
        conn.execute("INSERT INTO t VALUES (1)")
    assert not conn.in_transaction and rows(conn) == [1]
    conn.execute("BEGIN")
    with OwnOrNested(conn, "setup"):
        conn.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(ValueError), OwnOrNested(conn, "setup"):
        conn.execute("INSERT INTO t VALUES (3)")
        raise ValueError
    assert conn.in_transaction and rows(conn) == [1, 2]
    conn.execute("ROLLBACK")
    with pytest.raises(ValueError), OwnOrNested(conn, "setup"):
        conn.execute("INSERT INTO t VALUES (4)")
        raise ValueError
    assert rows(conn) == [1] and not conn.in_transaction


def test_read_only_work_cannot_write_and_always_rolls_back(tmp_path):
    conn = db(tmp_path)
    with pytest.raises(sqlite3.OperationalError, match="readonly"), ReadOnly(conn, guard=True):
        conn.execute("INSERT INTO t VALUES (1)")
    with ReadOnly(conn, guard=False):
        conn.execute("INSERT INTO t VALUES (2)")  # without the guard a write is possible, and undone
    assert rows(conn) == [] and not conn.in_transaction
    conn.execute("INSERT INTO t VALUES (3)")  # the guard is lifted after
    assert rows(conn) == [3]
