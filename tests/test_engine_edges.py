"""Edge cases of the streaming rule, persistence across reopen, and determinism."""
from __future__ import annotations

import sqlite3

import pytest

from streamable_token.schema import SCHEMA_VERSION, connect
from streamable_token import (
    MAX_UINT256,
    InsufficientFunds,
    InvalidInput,
    Status,
    StreamableToken,
    StreamClosed,
    Unauthorized,
    UnknownStream,
)

pytestmark = pytest.mark.unit


T = "0x" + "11" * 20
T2 = "0x" + "22" * 20
ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20
CAROL = "0x" + "cc" * 20


@pytest.fixture
def engine():
    return StreamableToken(":memory:")


def funded(engine, amount=1000, block=0, token=T):
    engine.mint(token, ALICE, amount, block=block)
    return engine


def test_remainder_lands_at_last_block(engine):
    funded(engine)
    sid = engine.open_stream(T, ALICE, BOB, 103, 10, 10, 0)
    assert [engine.realtime_balance_of(T, BOB, b).balance for b in (10, 11, 19, 20, 99)] == [0, 10, 90, 103, 103]
    assert engine.realtime_balance_of(T, ALICE, 15) == (1000 - 50, 897, 53)
    assert engine.get_stream(sid).status_at(9) is Status.PENDING
    assert engine.get_stream(sid).status_at(10) is Status.STREAMING
    assert engine.get_stream(sid).status_at(20) is Status.SETTLED


def test_duration_one_pays_everything_at_next_block(engine):
    funded(engine)
    engine.open_stream(T, ALICE, BOB, 7, 5, 1, 5)
    assert engine.realtime_balance_of(T, BOB, 5).balance == 0
    assert engine.realtime_balance_of(T, BOB, 6).balance == 7


def test_amounts_near_uint256_max_are_exact(engine):
    engine.mint(T, ALICE, MAX_UINT256, block=0)
    engine.open_stream(T, ALICE, BOB, MAX_UINT256, 0, 3, 0)
    rate = MAX_UINT256 // 3
    assert engine.realtime_balance_of(T, BOB, 1).balance == rate
    assert engine.realtime_balance_of(T, BOB, 3).balance == MAX_UINT256
    assert engine.realtime_balance_of(T, ALICE, 2) == (MAX_UINT256 - 2 * rate, 0, MAX_UINT256 - 2 * rate)
    with pytest.raises(InvalidInput, match="uint256"):
        engine.mint(T, CAROL, 1, block=3)
    engine.burn(T, BOB, MAX_UINT256, 3)
    assert engine.total_supply(T) == 0


@pytest.mark.parametrize("unit", [1, 10**18, 2**200], ids=["wei", "18-decimals", "2^200"])
def test_tree_schedules_are_exact_for_small_and_huge_amounts(monkeypatch, unit):
    """Many streams into one account put its schedule in the tree, whose sums are
    stored as summable limbs or, past ±2^167, whole: both must give the exact balance."""
    from streamable_token import ledger_store as token_module  # where the inline limit is read

    monkeypatch.setattr(token_module, "INLINE_MAX_EVENTS", 2)
    engine = StreamableToken(":memory:")
    senders = ["0x" + (i + 1).to_bytes(20, "big").hex() for i in range(12)]
    ids = []
    for i, s in enumerate(senders):
        engine.mint(T, s, 7 * unit * (i + 1), block=0)
        ids.append(engine.open_stream(T, s, BOB, 7 * unit * (i + 1) - i, 1 + i, 5 + 3 * i, 0))
    engine.cancel_stream(ids[3], BOB, 6)
    engine.update_stream(ids[5], senders[5], 7, new_end_block=40)
    for block in (7, 8, 13, 20, 33, 39, 40, 41, 100):
        expected = sum(engine.get_stream(i).streamed_at(block) for i in ids)
        assert engine.realtime_balance_of(T, BOB, block).balance == expected
    engine.transfer(T, BOB, ALICE, 1, 20)  # settles the tree side at block 20
    for block in (20, 33, 41):
        expected = sum(engine.get_stream(i).streamed_at(block) for i in ids) - 1
        assert engine.realtime_balance_of(T, BOB, block).balance == expected
    kinds = engine.conn.execute("SELECT count(big), count(*) FROM st_tree_nodes").fetchone()
    assert kinds[1] > 0 and (kinds[0] > 0) == (unit > 2**100)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(amount=0), "amount"),
        (dict(amount=-5), "amount"),
        (dict(amount=MAX_UINT256 + 1), "amount"),
        (dict(duration=0), "duration"),
        (dict(amount=5, duration=6), "amount"),  # rate would be 0
        (dict(receiver=ALICE), "receiver"),
        (dict(start_block=9), "start_block"),
        (dict(amount=True), "amount"),
        (dict(receiver="0x" + "bb" * 19), "receiver"),
        (dict(receiver="0xBbBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"), "receiver"),  # bad checksum
    ],
)
def test_open_stream_refusals_name_the_field(engine, kwargs, field):
    funded(engine, block=10)
    args = dict(token=T, sender=ALICE, receiver=BOB, amount=100, start_block=10, duration=10, block=10)
    args.update(kwargs)
    before = engine.state_hash()
    with pytest.raises(InvalidInput) as err:
        engine.open_stream(**args)
    assert err.value.field == field
    assert engine.state_hash() == before


def test_checksummed_and_upper_case_addresses_are_the_same_account(engine):
    funded(engine)
    engine.transfer(T, ALICE.upper().replace("0X", "0x"), "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", 5, 0)
    assert engine.realtime_balance_of(T, BOB, 0).balance == 5
    assert engine.get_stream(engine.open_stream(T, ALICE, BOB, 10, 0, 1, 0)).receiver == (
        "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
    )


def test_insufficient_funds_and_committed_funds_cannot_be_spent(engine):
    funded(engine, 100)
    engine.open_stream(T, ALICE, BOB, 100, 0, 10, 0)
    for call in (
        lambda: engine.transfer(T, ALICE, CAROL, 1, 0),
        lambda: engine.burn(T, ALICE, 1, 0),
        lambda: engine.open_stream(T, ALICE, CAROL, 10, 0, 1, 0),
    ):
        with pytest.raises(InsufficientFunds):
            call()
    # The receiver can spend what has streamed, not more.
    engine.transfer(T, BOB, CAROL, 30, 3)
    with pytest.raises(InsufficientFunds):
        engine.transfer(T, BOB, CAROL, 1, 3)


@pytest.mark.parametrize(
    "cancel_at, streamed",
    [(5, 0), (10, 0), (13, 30), (19, 90)],  # before start, at start, midway, last block before end
)
def test_cancel_splits_what_streamed(engine, cancel_at, streamed):
    funded(engine, 1000, block=5)
    sid = engine.open_stream(T, ALICE, BOB, 103, 10, 10, 5)
    assert engine.cancel_stream(sid, BOB, cancel_at) == (streamed, 103 - streamed)
    for b in (cancel_at, 50):
        assert engine.realtime_balance_of(T, BOB, b) == (streamed, streamed, 0)
        assert engine.realtime_balance_of(T, ALICE, b) == (1000 - streamed, 1000 - streamed, 0)
    assert engine.get_stream(sid).status_at(cancel_at) is Status.CANCELED


def test_cancel_at_or_after_end_is_refused(engine):
    funded(engine)
    sid = engine.open_stream(T, ALICE, BOB, 100, 0, 10, 0)
    for b in (10, 11):
        with pytest.raises(StreamClosed, match="fully streamed"):
            engine.cancel_stream(sid, ALICE, b)
    sid2 = engine.open_stream(T, ALICE, BOB, 100, 20, 10, 11)
    engine.cancel_stream(sid2, ALICE, 12)
    with pytest.raises(StreamClosed, match="canceled"):
        engine.cancel_stream(sid2, ALICE, 12)


def test_only_parties_cancel_and_only_sender_updates(engine):
    funded(engine)
    sid = engine.open_stream(T, ALICE, BOB, 100, 0, 10, 0)
    with pytest.raises(Unauthorized):
        engine.cancel_stream(sid, CAROL, 1)
    with pytest.raises(Unauthorized):
        engine.update_stream(sid, BOB, 1, new_amount=200)
    for bad in (99, 0, -1, 2**70):
        with pytest.raises((UnknownStream, InvalidInput)):
            engine.cancel_stream(bad, ALICE, 1)


def test_update_raises_then_shortens_without_touching_the_past(engine):
    funded(engine, 1000)
    sid = engine.open_stream(T, ALICE, BOB, 100, 0, 10, 0)  # 10 per block
    engine.update_stream(sid, ALICE, 4, new_amount=400)  # 40 streamed, 360 over 6 blocks
    assert engine.realtime_balance_of(T, BOB, 4).balance == 40
    assert engine.realtime_balance_of(T, BOB, 5).balance == 100
    assert engine.realtime_balance_of(T, ALICE, 4) == (960, 600, 360)
    engine.update_stream(sid, ALICE, 6, new_end_block=8)  # 160 streamed, 240 over 2 blocks
    assert [engine.realtime_balance_of(T, BOB, b).balance for b in (6, 7, 8, 30)] == [160, 280, 400, 400]
    with pytest.raises(InvalidInput, match="already streamed"):
        engine.update_stream(sid, ALICE, 7, new_amount=280)
    with pytest.raises(InsufficientFunds):
        engine.update_stream(sid, ALICE, 7, new_amount=2000)
    engine.update_stream(sid, ALICE, 7, new_amount=300)  # lowered: 100 back to available
    assert engine.realtime_balance_of(T, ALICE, 7) == (720, 700, 20)
    assert engine.realtime_balance_of(T, BOB, 8).balance == 300
    s = engine.get_stream(sid)
    assert (s.amount, s.end_block, s.streamed_at(100)) == (300, 8, 300)


def test_update_of_a_scheduled_stream_keeps_its_start(engine):
    funded(engine)
    sid = engine.open_stream(T, ALICE, BOB, 100, 50, 10, 0)
    engine.update_stream(sid, ALICE, 10, new_amount=200, new_end_block=70)
    assert engine.realtime_balance_of(T, BOB, 50).balance == 0
    assert engine.realtime_balance_of(T, BOB, 51).balance == 10
    assert engine.realtime_balance_of(T, BOB, 70).balance == 200


def test_many_tokens_are_independent(engine):
    funded(engine, 100, token=T)
    funded(engine, 500, token=T2)
    engine.open_stream(T2, ALICE, BOB, 500, 0, 5, 0)
    assert engine.realtime_balance_of(T, ALICE, 5) == (100, 100, 0)
    assert engine.realtime_balance_of(T2, BOB, 5) == (500, 500, 0)
    assert engine.realtime_balance_of(T, BOB, 5) == (0, 0, 0)
    assert [t.lower() for t in engine.tokens()] == [T, T2]


def test_reads_before_last_change_are_refused_and_reads_never_write(engine):
    funded(engine, 100, block=10)
    before = engine.state_hash()
    engine.realtime_balance_of(T, ALICE, 1000)
    assert engine.state_hash() == before
    with pytest.raises(InvalidInput, match="last change"):
        engine.realtime_balance_of(T, ALICE, 9)
    with pytest.raises(InvalidInput, match="last change"):
        engine.transfer(T, ALICE, BOB, 1, 9)


def test_streams_of_pages_and_filters(engine):
    funded(engine, 10_000)
    ids = [engine.open_stream(T, ALICE, BOB if i % 2 else CAROL, 100, i, 10, 0) for i in range(7)]
    page1 = engine.streams_of(ALICE, role="outgoing", limit=3)
    page2 = engine.streams_of(ALICE, role="outgoing", limit=3, after_id=page1[-1].id)
    assert [s.id for s in page1 + page2] == ids[:6]
    assert [s.id for s in engine.streams_of(BOB, role="incoming")] == ids[1::2]
    assert engine.streams_of(BOB, role="outgoing") == []
    assert [s.id for s in engine.streams_of(ALICE, active_at=12)] == ids[3:7]
    with pytest.raises(InvalidInput):
        engine.streams_of(ALICE, role="sideways")


def first_half(engine):
    engine.mint(T, ALICE, 10**21, block=1)
    engine.mint(T2, BOB, 5 * 10**18, block=1)
    engine.open_stream(T, ALICE, BOB, 10**20, 2, 1000, 1)
    engine.open_stream(T, ALICE, CAROL, 3 * 10**19 + 7, 5, 77, 2)
    engine.transfer(T2, BOB, CAROL, 10**18, 3)


def second_half(engine):
    engine.update_stream(1, ALICE, 400, new_amount=2 * 10**20)
    engine.cancel_stream(1, BOB, 500)
    engine.burn(T, CAROL, 3 * 10**19, 600)


def test_close_and_reopen_mid_scenario_gives_same_answers(tmp_path):
    path = str(tmp_path / "state.sqlite")
    engine = StreamableToken(path)
    first_half(engine)
    expected = [engine.realtime_balance_of(T, a, 300) for a in (ALICE, BOB, CAROL)]
    engine.close()
    engine = StreamableToken(path)
    assert [engine.realtime_balance_of(T, a, 300) for a in (ALICE, BOB, CAROL)] == expected
    second_half(engine)
    fresh = StreamableToken(":memory:")
    first_half(fresh)
    second_half(fresh)
    assert engine.state_hash() == fresh.state_hash()
    assert engine.realtime_balance_of(T, ALICE, 700) == fresh.realtime_balance_of(T, ALICE, 700)


def test_same_calls_give_byte_identical_dumps(tmp_path):
    dumps = []
    for name in ("one.sqlite", "two.sqlite"):
        engine = StreamableToken(str(tmp_path / name))
        first_half(engine)
        second_half(engine)
        dumps.append("\n".join(engine.conn.iterdump()))
    assert dumps[0] == dumps[1]
    assert "INSERT INTO \"st_streams\"" in dumps[0]


def test_refused_call_inside_a_transaction_leaves_no_partial_write(tmp_path):
    conn = connect(str(tmp_path / "s.sqlite"))
    engine = StreamableToken(conn)
    engine.mint(T, ALICE, 100, block=0)
    before = engine.state_hash()
    conn.execute("BEGIN")
    engine.transfer(T, ALICE, BOB, 10, 1)
    with pytest.raises(InsufficientFunds):
        engine.open_stream(T, ALICE, CAROL, 1000, 1, 10, 1)
    conn.execute("ROLLBACK")
    assert engine.state_hash() == before


def test_schema_version_is_recorded_and_newer_databases_are_refused(tmp_path):
    path = str(tmp_path / "s.sqlite")
    conn = connect(path)
    assert conn.execute("SELECT version FROM st_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.execute("UPDATE st_version SET version = 999")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        connect(path)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM st_tokens").fetchone()[0] == 0


def test_the_stream_a_write_returns_is_the_stream_stored(engine):
    """new_stream and update_stream hand back what get_stream would read, ids included
    (the router builds its notices from them without reading the stream again)."""
    funded(engine, 10_000)
    opened = engine.new_stream(T, ALICE, BOB.upper().replace("0X", "0x"), 999, 5, 10, 1)
    stored = engine.get_stream(opened.id)
    assert opened == stored
    assert (opened.token_id, opened.sender_id, opened.receiver_id) == (stored.token_id, stored.sender_id, stored.receiver_id)
    assert opened.to_json(7) == stored.to_json(7)
    changed = engine.update_stream(opened.id, ALICE, 8, new_amount=2000, new_end_block=30)
    assert changed == engine.get_stream(opened.id) and changed.amount == 2000 and changed.seg_start == 8
    assert engine.open_stream(T, ALICE, CAROL, 10, 9, 10, 8) == opened.id + 1


def test_events_sharing_a_block_add_and_cancel_out_exactly(engine):
    """Two streams ending at the same block share one event row; canceling one leaves the
    other's event, canceling both removes the row (the one-statement paths and the
    read-and-sum path agree)."""
    funded(engine, 10**6)
    a = engine.open_stream(T, ALICE, BOB, 1000, 10, 10, 1)   # rows at 10 and 20
    b = engine.open_stream(T, ALICE, BOB, 777, 15, 5, 1)     # rows at 15 and 20 (shared)
    engine.cancel_stream(a, ALICE, 2)
    assert [engine.realtime_balance_of(T, BOB, blk).balance for blk in (15, 17, 20, 30)] == [0, 310, 777, 777]
    engine.cancel_stream(b, BOB, 3)
    assert engine.conn.execute("SELECT count(*) FROM st_side_events").fetchone()[0] == 0
    assert engine.realtime_balance_of(T, ALICE, 40).balance == 10**6
