"""The pure stream math, tested directly (not only through the engine): the split rule,
what a segment has paid, the event sums, the tree's nodes and ranges and a side's summary."""
from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamable_token.constants import MAX_BLOCK
from streamable_token.ledger import Side
from streamable_token.schedule import (
    TREE_MAX_BLOCK,
    TREE_MAX_LEVELS,
    ZERO,
    event_delta,
    flow,
    grown_nodes,
    prefix_ranges,
    query_ranges,
    ranges_sum,
    segment_events,
    segment_streamed,
    split_amount,
    tree_levels_for,
    tree_node,
    update_nodes,
)

pytestmark = pytest.mark.property


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


def test_tree_ranges_add_up_every_prefix():
    rng = random.Random(7)
    blocks = list(range(1, 600)) + [rng.randrange(1, 2**62) for _ in range(200)] + [2**62, 4095, 4096, 65535, 65536]
    values = {blk: (rng.randrange(-50, 50), rng.randrange(-10**30, 10**30)) for blk in blocks}
    levels = tree_levels_for(max(values))
    nodes: dict = {}
    for blk, (r, c) in values.items():
        for n in update_nodes(blk, levels):
            old = nodes.get(n, ZERO)
            nodes[n] = (old[0] + r, old[1] + c)
    ordered = sorted(values)
    probes = sorted(set(ordered + [b - 1 for b in ordered] + [b + 1 for b in ordered if b < 2**62] + [0]))
    for b in rng.sample(probes, 400) + [0, 1, 599, 600, 4095, 4096, 2**62]:
        expected = (sum(v[0] for k, v in values.items() if k <= b), sum(v[1] for k, v in values.items() if k <= b))
        assert ranges_sum(nodes, query_ranges(b, levels)) == expected, b
        ranges = prefix_ranges(b) if b < 16**levels else []
        assert all(last - first < 16 for first, last in ranges) and len(ranges) <= TREE_MAX_LEVELS


def test_tree_nodes_are_numbered_level_after_level_below_2_to_the_63():
    assert TREE_MAX_BLOCK == MAX_BLOCK
    assert update_nodes(5, 3) == [tree_node(0, 5), tree_node(1, 0), tree_node(2, 0)]
    assert update_nodes(0x1234, 4) == [tree_node(0, 0x1234), tree_node(1, 0x123), tree_node(2, 0x12), tree_node(3, 1)]
    assert tree_node(1, 0) == 2**62 + 1  # every block of level 0 comes first
    assert tree_node(TREE_MAX_LEVELS - 1, 2**62 >> (4 * (TREE_MAX_LEVELS - 1))) < 2**63
    assert tree_levels_for(0) == 1 and tree_levels_for(15) == 1 and tree_levels_for(16) == 2
    assert tree_levels_for(2**62) == TREE_MAX_LEVELS == 16 and tree_levels_for(5, 3) == 3
    assert grown_nodes(2, 4) == [tree_node(2, 0), tree_node(3, 0)] and grown_nodes(3, 3) == []
    assert prefix_ranges(0x123) == [(0x120, 0x123), (tree_node(1, 0x10), tree_node(1, 0x11)), (tree_node(2, 0), tree_node(2, 0))]


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
