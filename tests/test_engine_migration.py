"""A database written by schema version 1 opens under the current code and answers alike.

``fixtures/schema_v1.sqlite`` was written by the engine at schema version 1 (commit
14fe3bd) running :func:`scenario` below: inline schedules, one schedule past the inline
limit (a tree), cancels, updates and transfers. Opening a copy migrates it; its
balances must equal those of a fresh database that ran the same scenario under the current
code, at every block, and both must go on identically.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamable_token.schema import connect
from streamable_token.schema import SCHEMA_VERSION
from streamable_token import StreamableToken

pytestmark = pytest.mark.unit


FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.sqlite"
T = "0x" + "11" * 20
HUB = "0x" + "99" * 20


def party(i: int) -> str:
    return "0x" + (i + 1).to_bytes(20, "big").hex()


def scenario(engine: StreamableToken) -> None:
    """300 senders stream into the hub (its incoming side outgrows the inline limit), each
    also streams to a neighbour (small inline sides); some are canceled or updated later."""
    for i in range(300):
        engine.mint(T, party(i), 10**6, block=0)
        engine.open_stream(T, party(i), HUB, 1000 + i, 1 + i % 50, 100 + 3 * i, 0)
        engine.open_stream(T, party(i), party((i + 1) % 300), 5000 + 7 * i, 20 + i % 30, 40 + i, 0)
    engine.transfer(T, party(0), HUB, 12_345, 30)
    for sid in range(1, 600, 37):
        engine.cancel_stream(sid, party((sid - 1) // 2), 60)
    for sid in range(4, 600, 41):
        s = engine.get_stream(sid)
        if s.canceled_block is None and s.end_block > 70:
            engine.update_stream(sid, party((sid - 1) // 2), 70, s.amount + 3000, s.end_block + 50)
    engine.burn(T, HUB, 1000, 80)


def accounts() -> list[str]:
    return [HUB] + [party(i) for i in range(300)]


def balances(engine: StreamableToken, blocks: list[int]) -> list[tuple]:
    out = []
    for a in accounts():
        last = engine.last_change(T, a) or 0
        out.append(tuple(tuple(engine.realtime_balance_of(T, a, max(b, last))) for b in blocks))
    return out


BLOCKS = [80, 81, 99, 150, 333, 1000, 1999, 2000, 5000]


def continuation(engine: StreamableToken) -> None:
    engine.open_stream(T, party(5), HUB, 77_777, 100, 500, 90)
    engine.cancel_stream(2 * 10 + 1, party(10), 120)
    engine.transfer(T, HUB, party(7), 500, 130)


def test_schema_v1_database_is_migrated_and_answers_as_a_fresh_one(tmp_path):
    migrated_path = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE, migrated_path)
    conn = connect(str(migrated_path))
    assert conn.execute("SELECT version FROM st_version").fetchone()[0] == SCHEMA_VERSION
    migrated = StreamableToken(conn)
    fresh = StreamableToken(str(tmp_path / "new.sqlite"))
    scenario(fresh)
    assert balances(migrated, BLOCKS) == balances(fresh, BLOCKS)
    assert migrated.total_supply(T) == fresh.total_supply(T)
    continuation(migrated)
    continuation(fresh)
    assert balances(migrated, [130] + BLOCKS[4:]) == balances(fresh, [130] + BLOCKS[4:])
    assert migrated.total_supply(T) == sum(
        migrated.realtime_balance_of(T, a, 6000).balance for a in accounts()
    )
