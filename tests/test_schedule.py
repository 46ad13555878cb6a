"""The pure stream math, tested directly (not only through the engine): the split rule,
what a segment has paid, the event sums, Fenwick paths and a side's summary."""
from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamable_token.schedule import (
    ZERO,
    Side,
    event_delta,
    flow,
    grown_roots,
    prefix_path,
    prefix_sum,
    query_path,
    segment_events,
    segment_streamed,
    split_amount,
    tree_size_for,
    update_path,
)

UINT256 = st.integers(1, 2**256 - 1)


@given(UINT256, st.integers(1, 2**62))
def test_split_pays_the_whole_amount_exactly(amount, duration):
    rate, remainder = split_amount(amount, duration)
    assert rate * duration + remainder == amount and 0 <= remainder < duration


@given(UINT256, st.integers(0, 2**40), st.integers(1, 2**40), st.integers(0, 2**41))
def test_a_segment_pays_nothing_before_its_start_everything_at_its_end_and_only_grows(amount, start, duration, block):
    rate, remainder = split_amount(amount, duration)
    end = start + duration
    paid = segment_streamed(start, end, rate, remainder, block)
    assert 0 <= paid <= amount
    assert segment_streamed(start, end, rate, remainder, start) == 0
    assert segment_streamed(start, end, rate, remainder, end) == amount
    assert segment_streamed(start, end, rate, remainder, block + 1) >= paid


@given(UINT256, st.integers(0, 2**40), st.integers(1, 2**20), st.integers(0, 2**41), st.integers(0, 2**41))
def test_flow_from_event_sums_equals_the_segment_paid(amount, start, duration, b0, b):
    """flow(rate0, b0, b, Σ events in (b0, b]) is what the segment paid over (b0, b]."""
    b0, b = min(b0, b), max(b0, b)
    rate, remainder = split_amount(amount, duration)
    end = start + duration
    events = segment_events(start, end, rate, remainder)
    rate0 = sum(r for blk, r, _ in events if blk <= b0)
    pending = ZERO
    for blk, r, lump in events:
        if b0 < blk <= b:
            d = event_delta(blk, r, lump)
            pending = (pending[0] + d[0], pending[1] + d[1])
    paid = segment_streamed(start, end, rate, remainder, b) - segment_streamed(start, end, rate, remainder, b0)
    assert flow(rate0, b0, b, pending) == paid


def test_fenwick_paths_add_up_every_prefix():
    rng = random.Random(7)
    size = 64
    values = {blk: (rng.randrange(-50, 50), rng.randrange(-10**30, 10**30)) for blk in range(1, size + 1)}
    nodes: dict = {}
    for blk, (r, c) in values.items():
        for n in update_path(blk, size):
            old = nodes.get(n, ZERO)
            nodes[n] = (old[0] + r, old[1] + c)
    for b in range(0, size + 5):
        expected = (sum(v[0] for k, v in values.items() if k <= b), sum(v[1] for k, v in values.items() if k <= b))
        assert prefix_sum(nodes, query_path(b, size)) == expected
        assert len(prefix_path(b)) == bin(b).count("1")


def test_tree_growth_keeps_the_old_root_under_new_roots():
    assert tree_size_for(1) == 1 and tree_size_for(5) == 8 and tree_size_for(64, 128) == 128
    assert grown_roots(8, 64) == [16, 32, 64]
    assert grown_roots(8, 8) == []
    assert update_path(5, 8) == [5, 6, 8]


@pytest.mark.parametrize("b, expected", [(4, "none"), (5, "some"), (9, "some"), (10, "all"), (11, "all")])
def test_a_side_summary_answers_outside_its_bounds(b, expected):
    side = Side()
    side.added(5, (2, -10), new_rows=1)
    side.added(10, (-2, 20), new_rows=1)
    assert (side.first, side.last, side.total) == (5, 10, (0, 10))
    assert side.needs_events(b) == (expected == "some")
    assert side.pending(b) == {"none": ZERO, "some": None, "all": (0, 10)}[expected]
    side.prefix_at = (b, (2, -10))
    if expected == "some":
        assert side.pending(b) == (2, -10)  # a prefix fetched with the row answers
    empty = Side()
    assert not empty.needs_events(b) and empty.pending(b) == ZERO and empty.idle


def test_settling_a_side_moves_its_rate_and_narrows_its_bounds():
    side = Side()
    side.added(5, event_delta(5, 3, 0), new_rows=1)
    side.added(10, event_delta(10, -3, 2), new_rows=1)
    done = event_delta(5, 3, 0)
    side.settled(7, done, removed=1)
    assert side.rate == 3 and side.count == 1 and (side.first, side.last) == (8, 10)
    side.settled(10, event_delta(10, -3, 2), removed=1)
    assert side.rate == 0 and (side.first, side.last) == (0, 0) and side.total == ZERO and side.idle
