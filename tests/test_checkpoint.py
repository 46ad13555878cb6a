"""The WAL checkpointer: the log is copied back by its thread, never by the writer."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from db.checkpoint import BACKSTOP_PAGES, Checkpointer
from fuzz.rig import DappThread, wait_until
from rollup_host import start_in_thread

pytestmark = pytest.mark.unit


def _writer(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    return conn


def test_the_thread_copies_the_log_while_the_writer_only_commits(tmp_path):
    conn = _writer(str(tmp_path / "a.sqlite"))
    cp = Checkpointer(conn, interval=0.01).start()
    try:
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
        for k in range(200):  # ~200 log pages: far below the writer's backstop
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t VALUES (?, ?)", (k, bytes(3000)))
            conn.execute("COMMIT")
        deadline = time.monotonic() + 60
        while cp.last[1] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cp.last[1] > 0, "the thread never copied a page"
    finally:
        cp.stop()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    reader = sqlite3.connect(str(tmp_path / "a.sqlite"))
    assert reader.execute("SELECT count(*), sum(length(v)) FROM t").fetchone() == (200, 600_000)


def test_stop_copies_everything_and_restores_the_setting(tmp_path):
    conn = _writer(str(tmp_path / "b.sqlite"))
    conn.execute("PRAGMA wal_autocheckpoint = 123")
    cp = Checkpointer(conn, interval=3600).start()  # the thread never gets its turn
    conn.execute("INSERT INTO t VALUES (1, x'00')")
    assert cp.last == (0, 0)
    cp.stop()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 123
    # the database file alone, without its log, now holds the row
    (tmp_path / "alone.sqlite").write_bytes((tmp_path / "b.sqlite").read_bytes())
    alone = sqlite3.connect(str(tmp_path / "alone.sqlite"))
    assert alone.execute("SELECT k, v FROM t").fetchall() == [(1, b"\x00")]


def test_an_in_memory_database_is_refused():
    with pytest.raises(ValueError, match="in-memory"):
        Checkpointer(sqlite3.connect(":memory:"))


def _checkpoint_threads() -> set:
    return {t for t in threading.enumerate() if t.name == "wal-checkpoint"}


@pytest.mark.integration
def test_the_dapp_loop_ends_its_checkpointer_when_it_ends(tmp_path):
    """dapp.main in a thread (as the fault tests run it), stopped once it is waiting for
    an input: its checkpoint thread ends with it. One left behind polls every 50 ms for the
    life of the process; a test process that ran the loop a dozen times slowed to a crawl."""
    before = _checkpoint_threads()
    server, url = start_in_thread(port=0, finish_timeout=0.05)
    dapp = DappThread(str(tmp_path / "dapp.sqlite"), url).start()
    try:
        wait_until(lambda: server.host.status()["long_polls"] >= 1, 60, "the DApp to wait for an input")
        assert _checkpoint_threads() - before, "the running DApp has a checkpoint thread"
    finally:
        dapp.stop()
        server.stop()
    assert _checkpoint_threads() - before == set()
