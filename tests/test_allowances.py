"""ERC-20 allowances and stream operators in the engine: approve sets, transfer_from and an
operator's streams spend the allowance (an infinite one stays), and every refusal
(no allowance, no funds, a stranger) changes nothing."""
from __future__ import annotations

import pytest

from streamable_token import (
    MAX_UINT256,
    InsufficientAllowance,
    InsufficientFunds,
    InvalidInput,
    StreamableToken,
    Unauthorized,
)

pytestmark = pytest.mark.unit


T = "0x" + "11" * 20
ALICE = "0x" + "aa" * 20  # owner
BOB = "0x" + "bb" * 20  # receiver
OPER = "0x" + "0e" * 20  # spender / operator
EVE = "0x" + "ee" * 20  # stranger


@pytest.fixture
def engine():
    e = StreamableToken(":memory:")
    e.mint(T, ALICE, 1000, block=0)
    return e


def refused(engine, error, call, *args, **kwargs):
    before = engine.state_hash()
    with pytest.raises(error):
        call(*args, **kwargs)
    assert engine.state_hash() == before


def test_approve_sets_not_adds_and_zero_revokes(engine):
    assert engine.allowance(T, ALICE, OPER) == 0
    engine.approve(T, ALICE, OPER, 300, 1)
    engine.approve(T, ALICE, OPER, 200, 1)
    assert engine.allowance(T, ALICE, OPER) == 200
    assert engine.allowance(T, OPER, ALICE) == 0
    engine.approve(T, ALICE, OPER, 0, 1)
    assert engine.allowance(T, ALICE, OPER) == 0
    # a revoked allowance leaves no row behind: only the spender's account stays
    assert engine.conn.execute("SELECT count(*) FROM st_allowances").fetchone() == (0,)


def test_approve_refuses_self_and_bad_amounts(engine):
    refused(engine, InvalidInput, engine.approve, T, ALICE, ALICE, 5, 1)
    refused(engine, InvalidInput, engine.approve, T, ALICE, OPER, -1, 1)
    refused(engine, InvalidInput, engine.approve, T, ALICE, OPER, MAX_UINT256 + 1, 1)


def test_transfer_from_spends_allowance_and_owner_balance(engine):
    engine.approve(T, ALICE, OPER, 300, 1)
    engine.transfer_from(T, OPER, ALICE, BOB, 120, 2)
    assert engine.allowance(T, ALICE, OPER) == 180
    assert engine.realtime_balance_of(T, ALICE, 2).balance == 880
    assert engine.realtime_balance_of(T, BOB, 2).balance == 120
    assert engine.realtime_balance_of(T, OPER, 2).balance == 0
    assert engine.total_supply(T) == 1000


def test_transfer_from_beyond_allowance_or_balance_changes_nothing(engine):
    refused(engine, InsufficientAllowance, engine.transfer_from, T, OPER, ALICE, BOB, 1, 2)
    engine.approve(T, ALICE, OPER, 300, 1)
    refused(engine, InsufficientAllowance, engine.transfer_from, T, OPER, ALICE, BOB, 301, 2)
    refused(engine, InsufficientAllowance, engine.transfer_from, T, EVE, ALICE, BOB, 1, 2)
    engine.approve(T, ALICE, OPER, 5000, 1)
    refused(engine, InsufficientFunds, engine.transfer_from, T, OPER, ALICE, BOB, 1001, 2)
    assert engine.allowance(T, ALICE, OPER) == 5000
    refused(engine, InvalidInput, engine.transfer_from, T, OPER, ALICE, ALICE, 10, 2)


def test_an_infinite_allowance_is_not_decreased(engine):
    engine.approve(T, ALICE, OPER, MAX_UINT256, 1)
    engine.transfer_from(T, OPER, ALICE, BOB, 400, 2)
    engine.open_stream(T, ALICE, BOB, 100, 2, 10, 2, by=OPER)
    assert engine.allowance(T, ALICE, OPER) == MAX_UINT256


def test_an_operator_opens_a_stream_from_the_owners_funds(engine):
    engine.approve(T, ALICE, OPER, 500, 1)
    sid = engine.open_stream(T, ALICE, BOB, 200, 2, 10, 2, by=OPER)
    stream = engine.get_stream(sid)
    assert stream.sender.lower() == ALICE and engine.operator_of(sid).lower() == OPER
    assert engine.allowance(T, ALICE, OPER) == 300
    assert engine.realtime_balance_of(T, ALICE, 2) == (1000, 800, 200)
    assert engine.realtime_balance_of(T, OPER, 2).balance == 0
    # the sender opening its own stream with by=itself is no operator
    own = engine.open_stream(T, ALICE, BOB, 10, 2, 10, 2, by=ALICE)
    assert engine.operator_of(own) is None and engine.allowance(T, ALICE, OPER) == 300


def test_an_operator_stream_beyond_allowance_or_funds_changes_nothing(engine):
    refused(engine, InsufficientAllowance, engine.open_stream, T, ALICE, BOB, 100, 2, 10, 2, by=OPER)
    engine.approve(T, ALICE, OPER, 150, 1)
    refused(engine, InsufficientAllowance, engine.open_stream, T, ALICE, BOB, 151, 2, 10, 2, by=OPER)
    engine.approve(T, ALICE, OPER, 5000, 1)
    refused(engine, InsufficientFunds, engine.open_stream, T, ALICE, BOB, 1001, 2, 10, 2, by=OPER)


def test_the_operator_cancels_and_the_refund_goes_to_the_owner(engine):
    engine.approve(T, ALICE, OPER, 500, 1)
    sid = engine.open_stream(T, ALICE, BOB, 100, 2, 10, 2, by=OPER)
    assert engine.cancel_stream(sid, OPER, 7) == (50, 50)
    assert engine.realtime_balance_of(T, ALICE, 7) == (950, 950, 0)
    assert engine.realtime_balance_of(T, BOB, 7).balance == 50
    assert engine.realtime_balance_of(T, OPER, 7).balance == 0
    assert engine.allowance(T, ALICE, OPER) == 400  # a refund does not restore the allowance


def test_the_operator_updates_an_increase_spends_allowance_a_decrease_does_not_restore(engine):
    engine.approve(T, ALICE, OPER, 300, 1)
    sid = engine.open_stream(T, ALICE, BOB, 100, 2, 10, 2, by=OPER)
    engine.update_stream(sid, OPER, 2, new_amount=250)
    assert engine.allowance(T, ALICE, OPER) == 50
    refused(engine, InsufficientAllowance, engine.update_stream, sid, OPER, 2, new_amount=301)
    engine.update_stream(sid, OPER, 2, new_amount=120)
    assert engine.allowance(T, ALICE, OPER) == 50
    assert engine.realtime_balance_of(T, ALICE, 2) == (1000, 880, 120)
    # the owner itself increases its stream without touching the operator's allowance
    engine.update_stream(sid, ALICE, 2, new_amount=200)
    assert engine.allowance(T, ALICE, OPER) == 50


def test_strangers_and_other_spenders_are_refused(engine):
    engine.approve(T, ALICE, OPER, 500, 1)
    engine.approve(T, ALICE, EVE, 500, 1)
    sid = engine.open_stream(T, ALICE, BOB, 100, 2, 10, 2, by=OPER)
    own = engine.open_stream(T, ALICE, BOB, 100, 2, 10, 2)
    # EVE holds an allowance too, but did not open the stream: she may not act on it
    refused(engine, Unauthorized, engine.cancel_stream, sid, EVE, 3)
    refused(engine, Unauthorized, engine.update_stream, sid, EVE, 3, new_amount=200)
    # an operator acts only on the streams it opened
    refused(engine, Unauthorized, engine.cancel_stream, own, OPER, 3)
    refused(engine, Unauthorized, engine.update_stream, own, OPER, 3, new_amount=200)
    # the receiver may cancel but not update, as before
    refused(engine, Unauthorized, engine.update_stream, sid, BOB, 3, new_amount=200)
    engine.cancel_stream(sid, BOB, 3)
