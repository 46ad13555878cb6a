"""Property-based fuzzing of the real router (hypothesis).

* Random bytes and mutated commands, from users and from the portal, as advances and as
  inspects: nothing escapes, a refusal is one report and changes nothing.
* A state machine of random well-formed inputs (deposits with and without commands,
  transfers, streams opened, cancelled and updated, withdrawals, approvals,
  transfer_from, streams opened, cancelled and updated by operators, batches, junk, new
  blocks). After every input: a refusal changed nothing; no account other than the
  sender lost balance or available funds beyond the allowance it gave the sender (and
  that allowance went down by as much, unless infinite); every voucher pays the sender; and the
  invariants hold: per token Σ balances = deposits − vouchers, no negatives, every
  account's committed funds = what its open streams still owe, streamed <= amount,
  statuses only move forward.

``INPUTS`` counts what was tried; ``pytest -s`` prints it.
"""
from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tests.property_budget import examples

from fuzz.harness import (
    ALICE, BOB, CAROL, MALLORY, PORTAL, STATUS_ORDER, TOKEN, TOKEN2, Node, address, balances, check_invariants, op,
)
from streamable_token.rollup.codec import encode_deposit
from streamable_token import MAX_UINT256
from streamable_token.addresses import checksum, parse_address

pytestmark = pytest.mark.property


ACCOUNTS = [ALICE, BOB, CAROL, MALLORY]
TOKENS = [TOKEN, TOKEN2]
TOKEN3 = address("token-3")
INPUTS = {"random_advance": 0, "random_inspect": 0, "machine": 0}


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\nfuzzed inputs: {INPUTS} = {sum(INPUTS.values())}")


class Errors(logging.Handler):
    """Collects records at ERROR and above (a logged traceback is a failure)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> "Errors":
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)


def seeded() -> Node:
    node = Node()
    node.deposit(TOKEN, ALICE, 10**6, block=3)
    node.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=5000, duration=50)
    node.block = 10
    return node


# --- random bytes and mutated commands ---------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=50)
    | st.sampled_from(["0", "-0", "1", "1000", "1e3", " 5", "0x10", str(MAX_UINT256), str(MAX_UINT256 + 1),
                       TOKEN, ALICE, BOB, checksum(parse_address(BOB)), BOB.upper(), "0x" + "ab" * 19]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FIELDS = ["op", "token", "receiver", "amount", "duration", "start_block", "stream_id", "end_block", "ops", "sender",
          "spender", "owner"]
OPS = ["transfer", "open_stream", "cancel_stream", "update_stream", "withdraw", "approve", "transfer_from", "batch"]
mutated_commands = st.fixed_dictionaries(
    {"op": st.sampled_from(OPS) | json_values},
    optional={f: json_values | st.sampled_from([1, 2, 10, 100, 2**62]) for f in FIELDS[1:]},
).map(lambda d: json.dumps(d, separators=(",", ":")).encode())
payloads = st.one_of(
    st.binary(max_size=300),
    mutated_commands,
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=200).map(str.encode),
)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender=st.sampled_from([ALICE, BOB, MALLORY, PORTAL]), payload=payloads)
def test_random_advance_payloads(sender, payload):
    node = seeded()
    before, dump = node.state_hash(), node.dump()
    with Errors() as errors:
        result = node.advance(sender, payload)
    INPUTS["random_advance"] += 1
    assert not errors.records, errors.records[0].getMessage()
    assert all(o.kind in ("notice", "report", "voucher") for o in result.outputs)
    if result.status == "reject":
        assert [o.kind for o in result.outputs] == ["report"]
        assert "internal error" not in result.error["message"], result.error
        assert node.state_hash() == before and node.dump() == dump
    else:
        assert result.status == "accept"
        check_invariants(node.engine, node.block)


inspect_payloads = st.one_of(
    st.binary(max_size=120),
    st.text(alphabet="abcdefghilmnorstu-_/?&=0123456789x.%;' ", max_size=80).map(str.encode),
    st.builds(lambda route, rest: (route + rest).encode(),
              st.sampled_from(["balance/", "stream/", "streams/", "token/", "allowance/", "state-hash"]),
              st.text(alphabet="0123456789abcdefABCDEFx/?&=-_", max_size=100)),
    st.fixed_dictionaries({"route": st.sampled_from(["balance", "stream", "streams", "token", "allowance", "state-hash"])
                           | json_values,
                           },
                          optional={k: json_values for k in ("token", "account", "block", "id", "role", "limit",
                                                             "owner", "spender")})
      .map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=examples(300), deadline=None)
@given(payload=inspect_payloads)
def test_random_inspect_payloads(payload):
    node = seeded()
    dump = node.dump()
    with Errors() as errors:
        result = node.inspect(payload)
    INPUTS["random_inspect"] += 1
    assert not errors.records, errors.records[0].getMessage()
    assert result.status in ("accept", "reject") and [o.kind for o in result.outputs] == ["report"]
    if result.status == "reject":
        assert "internal error" not in result.error["message"], result.error
    assert node.dump() == dump


# --- the state machine --------------------------------------------------------------------

amounts = st.one_of(st.integers(1, 3000), st.integers(1, 10**6), st.sampled_from([MAX_UINT256, 2**128]))
stream_ids = st.integers(-1, 14)
tokens = st.sampled_from(TOKENS)
accounts = st.sampled_from(ACCOUNTS)


def templates():
    """An op as (name, fields) with block-relative fields as ("+", offset)."""
    return st.one_of(
        st.builds(lambda t, r, a: ("transfer", {"token": t, "receiver": r, "amount": a}), tokens, accounts, amounts),
        st.builds(lambda t, r, a, d, s: ("open_stream", {"token": t, "receiver": r, "amount": a, "duration": d,
                                                         **({} if s is None else {"start_block": ("+", s)})}),
                  tokens, accounts, amounts, st.integers(1, 400) | st.sampled_from([2**40, 2**61]),
                  st.none() | st.integers(-2, 60)),
        st.builds(lambda i: ("cancel_stream", {"stream_id": i}), stream_ids),
        st.builds(lambda i, a, e: ("update_stream", {"stream_id": i,
                                                     **({} if a is None else {"amount": a}),
                                                     **({} if e is None else {"end_block": ("+", e)})}),
                  stream_ids, st.none() | amounts, st.none() | st.integers(-5, 500)),
        st.builds(lambda t, a: ("withdraw", {"token": t, "amount": a}), tokens, amounts),
        st.builds(lambda t, s, a: ("approve", {"token": t, "spender": s, "amount": a}), tokens, accounts,
                  st.just(0) | amounts),
        st.builds(lambda t, o, r, a: ("transfer_from", {"token": t, "owner": o, "receiver": r, "amount": a}),
                  tokens, accounts, accounts, amounts),
        st.builds(lambda t, o, r, a, d: ("open_stream", {"token": t, "sender": o, "receiver": r, "amount": a,
                                                         "duration": d}),
                  tokens, accounts, accounts, amounts, st.integers(1, 400)),
    )


def materialize(template, block: int) -> dict:
    name, fields = template
    out = {"op": name}
    for key, value in fields.items():
        if isinstance(value, tuple):
            value = max(block + value[1], 0)
        out[key] = str(value) if key == "amount" else value
    return out


class RouterMachine(RuleBasedStateMachine):
    @initialize(amounts=st.lists(st.integers(1, 10**5), min_size=len(ACCOUNTS) * 2, max_size=len(ACCOUNTS) * 2))
    def start(self, amounts):
        self.node = Node()
        self.supply = {checksum(parse_address(t)): 0 for t in TOKENS + [TOKEN3]}
        self.statuses: dict[int, int] = {}
        self.saturated = False
        self.streams: list[tuple[int, str, str, str | None]] = []  # (id, sender, receiver, operator) opened
        for i, amount in enumerate(amounts):
            token, account = TOKENS[i % 2], ACCOUNTS[i // 2]
            self.run(PORTAL, encode_deposit(token, account, amount), account, (token, amount))

    def run(self, sender: str, payload: bytes, acting: str, deposit: tuple[str, int] | None = None):
        node = self.node
        before_hash, before = node.state_hash(), balances(node.engine, node.block)
        actor = checksum(parse_address(acting))
        allowed = self.allowances_to(actor)
        result = node.advance(sender, payload)
        INPUTS["machine"] += 1
        if result.status == "reject":
            assert node.state_hash() == before_hash
            assert [o.kind for o in result.outputs] == ["report"]
            assert "internal error" not in result.error["message"], result.error
            return result
        if deposit:
            self.supply[checksum(parse_address(deposit[0]))] += deposit[1]
        for kind, body in result.decoded():
            if kind == "voucher":
                token, receiver, amount = body
                assert receiver == actor, (body, actor)  # a voucher pays the sender only
                self.supply[token] -= amount
            elif kind == "notice" and body.get("event") == "stream_opened":
                self.streams.append((body["id"], body["sender"], body["receiver"], body.get("operator")))
        after = balances(node.engine, node.block)
        spent = {key: allowed.get(key, 0) - left for key, left in self.allowances_to(actor).items()}
        for key, (balance, available) in before.items():
            if key[1] != actor:  # nobody but the sender may lose funds, beyond what it was allowed
                limit = MAX_UINT256 if allowed.get(key) == MAX_UINT256 else spent.get(key, 0)
                assert after[key][0] >= balance - limit and after[key][1] >= available - limit, (
                    key, before[key], after[key], limit)
        return result

    def allowances_to(self, spender: str) -> dict[tuple[str, str], int]:
        """(token, owner) -> what ``spender`` may take of it, for every ledger."""
        engine = self.node.engine
        return {(token, owner): engine.allowance(token, owner, spender)
                for token in engine.tokens() for owner in engine.accounts_of(token)}

    @rule(token=tokens, account=accounts, amount=st.integers(0, 10**7), command=st.none() | templates())
    def deposit(self, token, account, amount, command):
        data = b"" if command is None else json.dumps(materialize(command, self.node.block)).encode()
        self.run(PORTAL, encode_deposit(token, account, amount, data), account, (token, amount))

    @precondition(lambda self: not self.saturated)
    @rule(account=accounts)
    def deposit_up_to_the_uint256_limit(self, account):
        """A third token filled to 2**256 - 1; one more unit is refused (the supply must
        stay a uint256) and later commands in it work at the limit."""
        self.saturated = True
        self.run(PORTAL, encode_deposit(TOKEN3, account, MAX_UINT256), account, (TOKEN3, MAX_UINT256))
        self.run(PORTAL, encode_deposit(TOKEN3, BOB, 1), BOB, (TOKEN3, 1))
        self.run(account, op("open_stream", token=TOKEN3, receiver=CAROL if account != CAROL else BOB,
                             amount=MAX_UINT256 // 2, duration=7), account)

    @rule(sender=accounts, template=templates())
    def command(self, sender, template):
        self.run(sender, json.dumps(materialize(template, self.node.block)).encode(), sender)

    @rule(sender=st.integers(0, 3), other=st.integers(1, 3), token=tokens, amount=st.integers(1, 5000),
          duration=st.integers(1, 300), delay=st.integers(0, 30))
    def open_stream(self, sender, other, token, amount, duration, delay):
        me, receiver = ACCOUNTS[sender], ACCOUNTS[(sender + other) % 4]
        self.run(me, op("open_stream", token=token, receiver=receiver, amount=amount, duration=duration,
                        start_block=self.node.block + delay), me)

    @rule(owner=accounts, spender=accounts, token=tokens,
          amount=st.integers(0, 5000) | st.sampled_from([MAX_UINT256]))
    def approve(self, owner, spender, token, amount):
        self.run(owner, op("approve", token=token, spender=spender, amount=amount), owner)

    @rule(spender=accounts, owner=accounts, receiver=accounts, token=tokens, amount=st.integers(1, 6000),
          as_stream=st.booleans(), duration=st.integers(1, 300))
    def spend_allowance(self, spender, owner, receiver, token, amount, as_stream, duration):
        """transfer_from, or a stream opened as the owner's operator."""
        if as_stream:
            payload = op("open_stream", token=token, sender=owner, receiver=receiver, amount=amount, duration=duration)
        else:
            payload = op("transfer_from", token=token, owner=owner, receiver=receiver, amount=amount)
        self.run(spender, payload, spender)

    @rule(data=st.data(), who=st.sampled_from(["sender", "receiver", "operator", "stranger"]),
          change=st.sampled_from(["cancel", "amount", "end_block"]), amount=st.integers(1, 8000),
          end=st.integers(1, 400))
    def change_known_stream(self, data, who, change, amount, end):
        if not self.streams:
            return
        sid, sender, receiver, operator = data.draw(st.sampled_from(self.streams))
        caller = {"sender": sender, "receiver": receiver, "operator": operator}.get(who) or data.draw(accounts)
        if change == "cancel":
            payload = op("cancel_stream", stream_id=sid)
        elif change == "amount":
            payload = op("update_stream", stream_id=sid, amount=amount)
        else:
            payload = op("update_stream", stream_id=sid, end_block=self.node.block + end)
        self.run(caller, payload, caller)

    @rule(sender=st.integers(0, 3), token=tokens, kind=st.sampled_from(["transfer", "withdraw", "open_stream"]),
          delta=st.integers(-1, 2), into_committed=st.booleans())
    def spend_at_the_edge(self, sender, token, kind, delta, into_committed):
        """Spend exactly what is available, one unit less or more, or part of what is committed."""
        me = ACCOUNTS[sender]
        bal = self.node.balance(token, me)
        amount = bal.available + (bal.committed // 2 + 1 if into_committed and bal.committed else delta)
        if amount < 1:
            return
        fields = {"token": token, "amount": amount}
        if kind != "withdraw":
            fields["receiver"] = ACCOUNTS[(sender + 1) % 4]
        if kind == "open_stream":
            fields["duration"] = 1
        self.run(me, op(kind, **fields), me)

    @rule(sender=accounts, items=st.lists(templates(), min_size=1, max_size=3))
    def batch(self, sender, items):
        ops = [materialize(t, self.node.block) for t in items]
        self.run(sender, op("batch", ops=ops), sender)

    @rule(sender=accounts, payload=st.binary(max_size=100))
    def junk(self, sender, payload):
        self.run(sender, payload, sender)

    @rule(blocks=st.integers(1, 120))
    def mine(self, blocks):
        self.node.block += blocks

    @invariant()
    def conservation_and_solvency(self):
        check_invariants(self.node.engine, self.node.block, self.supply)

    @invariant()
    def statuses_only_move_forward(self):
        engine, block = self.node.engine, self.node.block
        for account in ACCOUNTS:
            for s in engine.streams_of(account, role="outgoing", limit=1000):
                rank = STATUS_ORDER[s.status_at(block)] + (10 if s.canceled_block is not None else 0)
                assert rank >= self.statuses.get(s.id, 0), (s, rank, self.statuses.get(s.id))
                self.statuses[s.id] = rank


TestRouterMachine = RouterMachine.TestCase
TestRouterMachine.settings = settings(max_examples=examples(60), stateful_step_count=50, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
