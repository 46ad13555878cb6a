"""WAL checkpoints off the input path: a daemon thread with its own connection.

With SQLite's default, the commit that takes the write-ahead log past 1,000 pages copies
those pages back into the database file and waits for fsync before it returns. The DApp
commits once per input and writes ~9 pages each, so every ~100th input paid ~20 ms here:
about 120 µs per input on average, a third of the SQL time of an input. A checkpoint moves
bytes between files and never changes what a query sees, so it can run in another thread
while the DApp waits on HTTP; sqlite3 releases the GIL while SQLite works, and most of a
checkpoint is waiting for the disk.

The log starts again from its beginning only when a writer finds all of it copied; with
a commit every millisecond, the thread has almost never caught up when the next one
comes. So the writing connection keeps its own autocheckpoint, at BACKSTOP_PAGES: the
commit that takes the log there copies what little the thread has not (and waits for one
fsync), and the log restarts. Seen here: the log grows to ~80 MB, then restarts (at ~8
pages an input, every ~2,500 inputs).
"""
from __future__ import annotations

import sqlite3
import threading
from typing import Optional

from streamable_token.schema import database_file

BACKSTOP_PAGES = 20_000  # the writer's own autocheckpoint while the thread runs (~80 MB of log)


class Checkpointer:
    """Checkpoints the database that ``conn`` writes every ``interval`` seconds.

    ``start`` raises ``conn``'s autocheckpoint to ``BACKSTOP_PAGES``; ``stop`` runs a last
    checkpoint and puts the previous setting back.
    """

    def __init__(self, conn: sqlite3.Connection, interval: float = 0.05) -> None:
        path = database_file(conn)
        if path is None:
            raise ValueError("an in-memory database has no write-ahead log to checkpoint")
        self.conn = conn
        self.path = path
        self.interval = interval
        self.last = (0, 0)  # the thread's last checkpoint: (pages in the log, pages copied)
        self._restore = 1000
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._own: Optional[sqlite3.Connection] = None

    def start(self) -> "Checkpointer":
        self._restore = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        self._own = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()
        return self

    def checkpoint(self) -> tuple[int, int]:
        """One passive checkpoint: (pages in the log, pages now copied to the database).
        Passive: it never waits for the writer, so an input is never held up by it."""
        assert self._own is not None, "start() first"
        _, logged, copied = self._own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return logged, copied

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.last = self.checkpoint()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.checkpoint()
        self._own.close()
        self._own = None
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {self._restore}")
