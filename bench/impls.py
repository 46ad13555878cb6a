"""The two designs behind one small interface, so every measurement drives both alike.

``Ours`` is the engine, reached only through its public API (``StreamableToken``).
``Baseline`` is what a first implementation usually does: store each stream as a row and
sum what every stream of the account has streamed so far on each query,

    balance(a, b) = stored(a) + Σ_in streamed(s, b) − Σ_out streamed(s, b)

done in SQL (one indexed range scan per direction, the sum computed inside SQLite), the
fastest form of that design; a Python loop over the rows would be slower still.
"""
from __future__ import annotations

import sqlite3
import sys
from typing import Iterable, Optional

from bench.common import TOKEN, TOKEN_BYTES, hexaddr, progress
from streamable_token.schema import CACHE_KIB

BUILD_TX_OPS = 50_000  # building commits every this many calls; timed ops use one each



def one_transaction(conn, fn):
    """Run ``fn`` in its own transaction, as the DApp runs one per input."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = fn()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return out

class Ours:
    name = "ours"

    def __init__(self, path: str) -> None:
        from streamable_token import StreamableToken

        self.engine = StreamableToken(path)
        self.conn = self.engine.conn

    def close(self) -> None:
        self.engine.close()

    def build(self, actions: Iterable[tuple], streams: int, desc: str) -> None:
        """Every action through the public API, committing every BUILD_TX_OPS calls."""
        e, conn = self.engine, self.conn
        bar = progress(streams, desc)
        conn.execute("BEGIN")
        ops = 0
        for act in actions:
            if act[0] == "open":
                _, s, r, amount, start, duration, block = act
                e.open_stream(TOKEN_BYTES, s, r, amount, start, duration, block)
                bar.update(1)
            else:
                _, a, amount, block = act
                e.mint(TOKEN_BYTES, a, amount, block=block)
            ops += 1
            if ops % BUILD_TX_OPS == 0:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
        conn.execute("COMMIT")
        bar.close()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def tx(self, fn):
        return one_transaction(self.conn, fn)

    def balance(self, a: bytes, block: int):
        return self.engine.realtime_balance_of(TOKEN, hexaddr(a), block)

    def mint(self, a: bytes, amount: int, block: int) -> None:
        self.engine.mint(TOKEN, hexaddr(a), amount, block=block)

    def open(self, s: bytes, r: bytes, amount: int, start: int, duration: int, block: int) -> int:
        return self.engine.open_stream(TOKEN, hexaddr(s), hexaddr(r), amount, start, duration, block)

    def cancel(self, sid: int, caller: bytes, block: int) -> None:
        self.engine.cancel_stream(sid, hexaddr(caller), block)

    def update(self, sid: int, caller: bytes, block: int, new_end: int) -> None:
        self.engine.update_stream(sid, hexaddr(caller), block, new_end_block=new_end)

    def transfer(self, s: bytes, r: bytes, amount: int, block: int) -> None:
        self.engine.transfer(TOKEN, hexaddr(s), hexaddr(r), amount, block)

    def withdraw(self, a: bytes, amount: int, block: int) -> None:
        self.engine.burn(TOKEN, hexaddr(a), amount, block)

    def stream(self, sid: int) -> Optional[tuple]:
        from streamable_token import UnknownStream

        try:
            s = self.engine.get_stream(sid)
        except UnknownStream:
            return None
        return (bytes.fromhex(s.sender[2:]), bytes.fromhex(s.receiver[2:]), s.start_block,
                s.end_block, s.canceled_block)

    def open_count(self, block: int) -> int:
        """Streams not yet ended nor canceled at ``block`` (a statistic, not a timed call)."""
        return self.conn.execute(
            "SELECT count(*) FROM st_streams WHERE end_block > ? AND canceled_block IS NULL", (block,)
        ).fetchone()[0]


# --- the baseline ------------------------------------------------------------------------

BASELINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS balances (
    account BLOB NOT NULL,
    token   BLOB NOT NULL,
    stored  INTEGER NOT NULL,
    PRIMARY KEY (account, token)
);
CREATE TABLE IF NOT EXISTS streams (
    id              INTEGER PRIMARY KEY,
    token           BLOB NOT NULL,
    sender          BLOB NOT NULL,
    receiver        BLOB NOT NULL,
    start_block     INTEGER NOT NULL,
    end_block       INTEGER NOT NULL,
    seg_start       INTEGER NOT NULL,
    rate            INTEGER NOT NULL,
    remainder       INTEGER NOT NULL,
    streamed_before INTEGER NOT NULL,
    canceled_block  INTEGER
);
CREATE INDEX IF NOT EXISTS streams_by_sender ON streams (sender);
CREATE INDEX IF NOT EXISTS streams_by_receiver ON streams (receiver);
"""

# What stream s has paid by :b: the rate from seg_start, the remainder at the end, frozen
# at the cancel block.
_AT = "MIN(:b, COALESCE(canceled_block, :b))"
STREAMED = (
    f"(streamed_before + CASE WHEN {_AT} <= seg_start THEN 0"
    f" WHEN {_AT} >= end_block THEN rate * (end_block - seg_start) + remainder"
    f" ELSE rate * ({_AT} - seg_start) END)"
)
TOTAL = "(streamed_before + rate * (end_block - seg_start) + remainder)"
# stored, Σ streamed in, Σ streamed out, Σ still owed by the outgoing streams (committed).
BALANCE_SQL = f"""
SELECT
  (SELECT COALESCE(SUM(stored), 0) FROM balances WHERE account = :a AND token = :t),
  (SELECT COALESCE(SUM({STREAMED}), 0) FROM streams WHERE receiver = :a AND token = :t),
  (SELECT COALESCE(SUM({STREAMED}), 0) FROM streams WHERE sender = :a AND token = :t),
  (SELECT COALESCE(SUM(CASE WHEN canceled_block IS NULL THEN {TOTAL} - {STREAMED} ELSE 0 END), 0)
     FROM streams WHERE sender = :a AND token = :t)
"""


class InsufficientFunds(Exception):
    pass


def _streamed(seg: int, end: int, rate: int, rem: int, before: int, canceled: Optional[int], block: int) -> int:
    at = block if canceled is None else min(block, canceled)
    if at <= seg:
        return before
    if at >= end:
        return before + rate * (end - seg) + rem
    return before + rate * (at - seg)


class Baseline:
    """Streams stored as rows, balances summed per query (the obvious first design)."""

    name = "baseline"

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # the engine's setting
        self.conn.executescript(BASELINE_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def build(self, actions: Iterable[tuple], streams: int, desc: str) -> None:
        """Bulk inserts (executemany), no checks: only the query design is compared."""
        conn = self.conn
        bar = progress(streams, desc)
        mints: list[tuple] = []
        opens: list[tuple] = []

        def flush() -> None:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO balances (account, token, stored) VALUES (?, ?, ?)"
                " ON CONFLICT (account, token) DO UPDATE SET stored = stored + excluded.stored", mints)
            conn.executemany(
                "INSERT INTO streams (token, sender, receiver, start_block, end_block, seg_start,"
                " rate, remainder, streamed_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)", opens)
            conn.execute("COMMIT")
            bar.update(len(opens))
            mints.clear()
            opens.clear()

        for act in actions:
            if act[0] == "open":
                _, s, r, amount, start, duration, _block = act
                opens.append((TOKEN_BYTES, s, r, start, start + duration, start,
                              amount // duration, amount % duration))
            else:
                mints.append((act[1], TOKEN_BYTES, act[2]))
            if len(opens) + len(mints) >= BUILD_TX_OPS:
                flush()
        flush()
        bar.close()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def tx(self, fn):
        return one_transaction(self.conn, fn)

    def _figures(self, a: bytes, block: int) -> tuple[int, int, int]:
        stored, inflow, outflow, committed = self.conn.execute(
            BALANCE_SQL, {"a": a, "t": TOKEN_BYTES, "b": block}).fetchone()
        balance = stored + inflow - outflow
        return balance, balance - committed, committed

    def balance(self, a: bytes, block: int):
        return self._figures(a, block)

    def balance_loop(self, a: bytes, block: int) -> tuple[int, int, int]:
        """The same figures summed in Python row by row, as a first implementation often
        writes it (``sum(s.streamed_at(block) for s in streams_of(account))``)."""
        conn = self.conn
        row = conn.execute("SELECT stored FROM balances WHERE account = ? AND token = ?", (a, TOKEN_BYTES)).fetchone()
        stored = row[0] if row else 0
        cols = "seg_start, end_block, rate, remainder, streamed_before, canceled_block"
        inflow = outflow = committed = 0
        for seg, end, rate, rem, before, canceled in conn.execute(
                f"SELECT {cols} FROM streams WHERE receiver = ? AND token = ?", (a, TOKEN_BYTES)):
            inflow += _streamed(seg, end, rate, rem, before, canceled, block)
        for seg, end, rate, rem, before, canceled in conn.execute(
                f"SELECT {cols} FROM streams WHERE sender = ? AND token = ?", (a, TOKEN_BYTES)):
            paid = _streamed(seg, end, rate, rem, before, canceled, block)
            outflow += paid
            if canceled is None:
                committed += before + rate * (end - seg) + rem - paid
        balance = stored + inflow - outflow
        return balance, balance - committed, committed

    def _available(self, a: bytes, block: int) -> int:
        return self._figures(a, block)[1]

    def _credit(self, a: bytes, amount: int) -> None:
        self.conn.execute(
            "INSERT INTO balances (account, token, stored) VALUES (?, ?, ?)"
            " ON CONFLICT (account, token) DO UPDATE SET stored = stored + excluded.stored",
            (a, TOKEN_BYTES, amount))

    def mint(self, a: bytes, amount: int, block: int) -> None:
        self._credit(a, amount)

    def open(self, s: bytes, r: bytes, amount: int, start: int, duration: int, block: int) -> int:
        if self._available(s, block) < amount:
            raise InsufficientFunds(s.hex())
        return self.conn.execute(
            "INSERT INTO streams (token, sender, receiver, start_block, end_block, seg_start, rate,"
            " remainder, streamed_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (TOKEN_BYTES, s, r, start, start + duration, start, amount // duration, amount % duration),
        ).lastrowid

    def _row(self, sid: int):
        return self.conn.execute(
            "SELECT sender, receiver, start_block, end_block, seg_start, rate, remainder,"
            " streamed_before, canceled_block FROM streams WHERE id = ?", (sid,)).fetchone()

    def cancel(self, sid: int, caller: bytes, block: int) -> None:
        row = self._row(sid)
        if row is None or caller not in (row[0], row[1]) or row[8] is not None or block >= row[3]:
            raise ValueError(f"cannot cancel stream {sid}")
        self.conn.execute("UPDATE streams SET canceled_block = ? WHERE id = ?", (block, sid))

    def update(self, sid: int, caller: bytes, block: int, new_end: int) -> None:
        sender, _, start, end, seg, rate, rem, before, canceled = self._row(sid)
        if caller != sender or canceled is not None or block >= end:
            raise ValueError(f"cannot update stream {sid}")
        total = before + rate * (end - seg) + rem
        at = min(block, end)
        streamed = before + (0 if at <= seg else rate * (at - seg))
        seg_start = max(block, start)
        new_rate, new_rem = divmod(total - streamed, new_end - seg_start)
        self.conn.execute(
            "UPDATE streams SET end_block = ?, seg_start = ?, rate = ?, remainder = ?,"
            " streamed_before = ? WHERE id = ?", (new_end, seg_start, new_rate, new_rem, streamed, sid))

    def transfer(self, s: bytes, r: bytes, amount: int, block: int) -> None:
        if self._available(s, block) < amount:
            raise InsufficientFunds(s.hex())
        self._credit(s, -amount)
        self._credit(r, amount)

    def withdraw(self, a: bytes, amount: int, block: int) -> None:
        if self._available(a, block) < amount:
            raise InsufficientFunds(a.hex())
        self._credit(a, -amount)

    def stream(self, sid: int) -> Optional[tuple]:
        row = self._row(sid)
        return None if row is None else (row[0], row[1], row[2], row[3], row[8])

    def open_count(self, block: int) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM streams WHERE end_block > ? AND canceled_block IS NULL", (block,)
        ).fetchone()[0]


IMPLS = {"ours": Ours, "baseline": Baseline}

if __name__ == "__main__":  # pragma: no cover
    sys.exit("import bench.impls; run `python -m bench`")
