"""The engine against a naive reference model that moves balances block by block.

Handlers (rules) drive random mint/burn/transfer/open/cancel/update, approve,
transfer_from and streams opened, cancelled and updated by operators across accounts,
tokens and blocks; the model is the store of what should be true; the invariants check,
after every step: equal balances, conservation, no negatives, streamed <= amount,
forward-only status, identical refusals, and allowances equal to the model's (so nobody
spends beyond one).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tests.property_budget import examples

import streamable_token.ledger_store as token_module  # where the inline limit is read
from streamable_token import (
    MAX_UINT256,
    InsufficientAllowance,
    InsufficientFunds,
    InvalidInput,
    Status,
    StreamableToken,
    StreamClosed,
    StreamError,
    Unauthorized,
    UnknownStream,
)

pytestmark = pytest.mark.property


ACCOUNTS = ["0x" + f"{i:02x}" * 20 for i in (0xA1, 0xB2, 0xC3, 0xD4)]
TOKENS = ["0x" + f"{i:02x}" * 20 for i in (0x11, 0x22)]
STATUS_ORDER = {Status.PENDING: 0, Status.STREAMING: 1, Status.SETTLED: 2, Status.CANCELED: 2}


class ModelStream:
    def __init__(self, token, sender, receiver, amount, start, duration, operator=None):
        self.token, self.sender, self.receiver, self.operator = token, sender, receiver, operator
        self.amount, self.start, self.end = amount, start, start + duration
        self.seg_start, self.rate, self.rem = start, amount // duration, amount % duration
        self.paid = 0
        self.canceled = False

    def pay_at(self, block):
        """What moves when the chain reaches ``block`` (from block-1)."""
        if self.canceled or not (self.seg_start < block <= self.end):
            return 0
        return self.rate + (self.rem if block == self.end else 0)


class Model:
    """Balances kept as plain dicts and moved one block at a time."""

    def __init__(self):
        self.available = {}
        self.streams = {}
        self.allowances = {}
        self.minted = {t: 0 for t in TOKENS}
        self.burned = {t: 0 for t in TOKENS}
        self.block = 0

    def avail(self, t, a):
        return self.available.get((t, a), 0)

    def committed(self, t, a):
        return sum(
            s.amount - s.paid
            for s in self.streams.values()
            if s.token == t and s.sender == a and not s.canceled
        )

    def advance(self, n):
        for _ in range(n):
            self.block += 1
            for s in self.streams.values():
                p = s.pay_at(self.block)
                if p:
                    s.paid += p
                    self.available[(s.token, s.receiver)] = self.avail(s.token, s.receiver) + p

    def need(self, t, a, amount):
        if self.avail(t, a) < amount:
            raise InsufficientFunds(a, amount, self.avail(t, a), self.block)

    def mint(self, t, a, amount):
        if self.minted[t] - self.burned[t] + amount > MAX_UINT256:
            raise InvalidInput("amount", amount, "supply")
        self.available[(t, a)] = self.avail(t, a) + amount
        self.minted[t] += amount

    def burn(self, t, a, amount):
        self.need(t, a, amount)
        self.available[(t, a)] -= amount
        self.burned[t] += amount

    def transfer(self, t, s, r, amount):
        if s == r:
            raise InvalidInput("receiver", r, "other")
        self.need(t, s, amount)
        self.available[(t, s)] -= amount
        self.available[(t, r)] = self.avail(t, r) + amount

    def approve(self, t, owner, spender, amount):
        if owner == spender:
            raise InvalidInput("spender", spender, "x")
        self.allowances[(t, owner, spender)] = amount

    def allowance(self, t, owner, spender):
        return self.allowances.get((t, owner, spender), 0)

    def check_allowance(self, t, owner, spender, amount):
        if self.allowance(t, owner, spender) < amount:
            raise InsufficientAllowance(owner, spender, amount, self.allowance(t, owner, spender))

    def spend_allowance(self, t, owner, spender, amount):
        if self.allowance(t, owner, spender) != MAX_UINT256:
            self.allowances[(t, owner, spender)] -= amount

    def transfer_from(self, t, spender, owner, r, amount):
        if owner == r:
            raise InvalidInput("receiver", r, "other")
        self.check_allowance(t, owner, spender, amount)
        self.transfer(t, owner, r, amount)
        self.spend_allowance(t, owner, spender, amount)

    def open(self, t, s, r, amount, start, duration, by=None):
        if s == r or amount // duration == 0:
            raise InvalidInput("x", 0, "x")
        operator = None if by == s else by
        if operator is not None:
            self.check_allowance(t, s, operator, amount)
        self.need(t, s, amount)
        if operator is not None:
            self.spend_allowance(t, s, operator, amount)
        self.available[(t, s)] -= amount
        sid = len(self.streams) + 1
        self.streams[sid] = ModelStream(t, s, r, amount, start, duration, operator)
        return sid

    def _changeable(self, sid, caller, parties):
        if sid not in self.streams:
            raise UnknownStream(sid)
        s = self.streams[sid]
        parties_ = (s.sender,) if parties == "sender" else (s.sender, s.receiver)
        if caller not in parties_ and caller != s.operator:
            raise Unauthorized("x")
        if s.canceled or self.block >= s.end:
            raise StreamClosed("x")
        return s

    def cancel(self, sid, caller):
        s = self._changeable(sid, caller, "both")
        s.canceled = True
        refund = s.amount - s.paid
        self.available[(s.token, s.sender)] += refund
        return s.paid, refund

    def update(self, sid, caller, new_amount, new_end):
        if new_amount is None and new_end is None:
            raise InvalidInput("amount", None, "x")
        s = self._changeable(sid, caller, "sender")
        amount = s.amount if new_amount is None else new_amount
        end = s.end if new_end is None else new_end
        seg = max(self.block, s.start)
        if (amount == s.amount and end == s.end) or amount <= s.paid or end <= seg:
            raise InvalidInput("amount", amount, "x")
        if (amount - s.paid) // (end - seg) == 0:
            raise InvalidInput("amount", amount, "x")
        as_operator = caller != s.sender and amount > s.amount
        if as_operator:
            self.check_allowance(s.token, s.sender, caller, amount - s.amount)
        self.need(s.token, s.sender, amount - s.amount)
        if as_operator:
            self.spend_allowance(s.token, s.sender, caller, amount - s.amount)
        self.available[(s.token, s.sender)] -= amount - s.amount
        s.amount, s.end, s.seg_start = amount, end, seg
        s.rate, s.rem = divmod(amount - s.paid, end - seg)
        return (s.amount, s.end, s.seg_start, s.rate, s.rem)


def changed(stream) -> tuple:
    """What an update returns, as the model keeps it."""
    return (stream.amount, stream.end_block, stream.seg_start, stream.rate, stream.remainder)


def outcome(fn):
    try:
        return ("ok", fn())
    except StreamError as e:
        return ("refused", type(e))


amounts = st.one_of(st.integers(1, 5000), st.integers(1, 10**24), st.sampled_from([MAX_UINT256 // 4]))


class EngineMachine(RuleBasedStateMachine):
    inline_max = token_module.INLINE_MAX_EVENTS

    @initialize()
    def setup(self):
        self._saved_inline_max = token_module.INLINE_MAX_EVENTS
        token_module.INLINE_MAX_EVENTS = self.inline_max
        self.engine = StreamableToken(":memory:")
        self.model = Model()
        self.seen_status = {}

    def teardown(self):
        token_module.INLINE_MAX_EVENTS = getattr(self, "_saved_inline_max", token_module.INLINE_MAX_EVENTS)

    def both(self, engine_call, model_call):
        got, want = outcome(engine_call), outcome(model_call)
        assert got == want, (got, want)

    @rule(n=st.integers(0, 12))
    def advance(self, n):
        self.model.advance(n)

    @rule(t=st.sampled_from(TOKENS), a=st.sampled_from(ACCOUNTS), amount=amounts)
    def mint(self, t, a, amount):
        b = self.model.block
        self.both(lambda: self.engine.mint(t, a, amount, block=b), lambda: self.model.mint(t, a, amount))

    @rule(t=st.sampled_from(TOKENS), a=st.sampled_from(ACCOUNTS), amount=amounts)
    def burn(self, t, a, amount):
        b = self.model.block
        self.both(lambda: self.engine.burn(t, a, amount, b), lambda: self.model.burn(t, a, amount))

    @rule(t=st.sampled_from(TOKENS), s=st.sampled_from(ACCOUNTS), r=st.sampled_from(ACCOUNTS), amount=amounts)
    def transfer(self, t, s, r, amount):
        b = self.model.block
        self.both(
            lambda: self.engine.transfer(t, s, r, amount, b),
            lambda: self.model.transfer(t, s, r, amount),
        )

    @rule(
        t=st.sampled_from(TOKENS),
        s=st.sampled_from(ACCOUNTS),
        r=st.sampled_from(ACCOUNTS),
        amount=amounts,
        delay=st.integers(0, 15),
        duration=st.integers(1, 40),
    )
    def open_stream(self, t, s, r, amount, delay, duration):
        b = self.model.block
        self.both(
            lambda: self.engine.open_stream(t, s, r, amount, b + delay, duration, b),
            lambda: self.model.open(t, s, r, amount, b + delay, duration),
        )

    @rule(
        t=st.sampled_from(TOKENS),
        s=st.sampled_from(ACCOUNTS),
        r=st.sampled_from(ACCOUNTS),
        amount=st.integers(1, 10**6),
        delay=st.integers(0, 15),
        duration=st.integers(1, 40),
    )
    def funded_stream(self, t, s, r, amount, delay, duration):
        """Mint first, so that most generated streams really open."""
        self.mint(t, s, amount)
        self.open_stream(t, s, r, amount, delay, duration)

    @rule(t=st.sampled_from(TOKENS), owner=st.sampled_from(ACCOUNTS), spender=st.sampled_from(ACCOUNTS),
          amount=st.one_of(st.just(0), amounts, st.just(MAX_UINT256)))
    def approve(self, t, owner, spender, amount):
        b = self.model.block
        self.both(lambda: self.engine.approve(t, owner, spender, amount, b),
                  lambda: self.model.approve(t, owner, spender, amount))

    @rule(t=st.sampled_from(TOKENS), spender=st.sampled_from(ACCOUNTS), owner=st.sampled_from(ACCOUNTS),
          r=st.sampled_from(ACCOUNTS), amount=st.one_of(st.integers(1, 5000), amounts))
    def transfer_from(self, t, spender, owner, r, amount):
        b = self.model.block
        self.both(lambda: self.engine.transfer_from(t, spender, owner, r, amount, b),
                  lambda: self.model.transfer_from(t, spender, owner, r, amount))

    @rule(
        t=st.sampled_from(TOKENS),
        by=st.sampled_from(ACCOUNTS),
        s=st.sampled_from(ACCOUNTS),
        r=st.sampled_from(ACCOUNTS),
        amount=st.one_of(st.integers(1, 5000), amounts),
        delay=st.integers(0, 15),
        duration=st.integers(1, 40),
    )
    def operator_stream(self, t, by, s, r, amount, delay, duration):
        b = self.model.block
        self.both(
            lambda: self.engine.open_stream(t, s, r, amount, b + delay, duration, b, by=by),
            lambda: self.model.open(t, s, r, amount, b + delay, duration, by=by),
        )

    @rule(
        t=st.sampled_from(TOKENS),
        by=st.sampled_from(ACCOUNTS),
        s=st.sampled_from(ACCOUNTS),
        r=st.sampled_from(ACCOUNTS),
        allowed=st.integers(1, 10**6),
        amount=st.integers(1, 10**6),
        delay=st.integers(0, 15),
        duration=st.integers(1, 40),
    )
    def approved_operator_stream(self, t, by, s, r, allowed, amount, delay, duration):
        """Mint and approve first, so that most operator streams really open (or are
        refused only for the allowance)."""
        self.mint(t, s, amount)
        self.approve(t, s, by, allowed)
        self.operator_stream(t, by, s, r, amount, delay, duration)

    @rule(t=st.sampled_from(TOKENS), a=st.sampled_from(ACCOUNTS))
    def settle(self, t, a):
        """Settling both sides of a ledger changes no figure (the invariants check)."""
        self.engine.settle(t, a, self.model.block)

    @rule(sid=st.integers(1, 40), caller=st.sampled_from(ACCOUNTS))
    def cancel(self, sid, caller):
        b = self.model.block
        self.both(lambda: self.engine.cancel_stream(sid, caller, b), lambda: self.model.cancel(sid, caller))

    @rule(
        sid=st.integers(1, 40),
        caller=st.sampled_from(ACCOUNTS),
        new_amount=st.one_of(st.none(), amounts),
        extend=st.one_of(st.none(), st.integers(-10, 30)),
    )
    def update(self, sid, caller, new_amount, extend):
        b = self.model.block
        new_end = None if extend is None else max(0, b + extend)
        self.both(
            lambda: changed(self.engine.update_stream(sid, caller, b, new_amount=new_amount, new_end_block=new_end)),
            lambda: self.model.update(sid, caller, new_amount, new_end),
        )

    @invariant()
    def balances_match_and_conserve(self):
        if not hasattr(self, "engine"):
            return
        b = self.model.block
        for t in TOKENS:
            total = 0
            for a in ACCOUNTS:
                bal = self.engine.realtime_balance_of(t, a, b)
                want_avail, want_comm = self.model.avail(t, a), self.model.committed(t, a)
                assert (bal.available, bal.committed) == (want_avail, want_comm), (t, a, bal)
                assert bal.balance == bal.available + bal.committed
                assert min(bal) >= 0
                total += bal.balance
            assert total == self.model.minted[t] - self.model.burned[t]
            assert self.engine.total_supply(t) == total

    @invariant()
    def allowances_match(self):
        if not hasattr(self, "engine"):
            return
        for t in TOKENS:
            for owner in ACCOUNTS:
                for spender in ACCOUNTS:
                    assert self.engine.allowance(t, owner, spender) == self.model.allowance(t, owner, spender)

    @invariant()
    def streams_within_amount_and_forward(self):
        if not hasattr(self, "engine"):
            return
        b = self.model.block
        for sid, ms in self.model.streams.items():
            s = self.engine.get_stream(sid)
            assert 0 <= s.streamed_at(b) <= s.amount
            assert s.streamed_at(b) == ms.paid
            status = s.status_at(b)
            before = self.seen_status.get(sid)
            if before is not None:
                assert STATUS_ORDER[status] >= STATUS_ORDER[before]
                assert before != Status.CANCELED or status == Status.CANCELED
            self.seen_status[sid] = status


class TreeMachine(EngineMachine):
    """The same, with every schedule pushed into the tree at once."""

    inline_max = 2


settings_ = settings(max_examples=examples(80), stateful_step_count=40, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
TestEngineAgainstModel = EngineMachine.TestCase
TestEngineAgainstModel.settings = settings_
TestTreeAgainstModel = TreeMachine.TestCase
TestTreeAgainstModel.settings = settings_
