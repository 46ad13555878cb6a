"""Errors name the mistake (issue 30, item 5): the token of a refusal about a token, where
malformed JSON goes wrong, "put the amount in quotes" for a bare number, and ranges that
say what is accepted. The report keeps its shape ``{"error":{"type","field"?,"message"}}``
and a refused input changes nothing."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.harness import ALICE, BOB, CAROL, TOKEN, TOKEN2, Node, op
from streamable_token.addresses import checksum, parse_address
from streamable_token.rollup.json_position import malformed_at, show
from tests.property_budget import examples

pytestmark = pytest.mark.unit


T1, T2 = checksum(parse_address(TOKEN)), checksum(parse_address(TOKEN2))


def base() -> Node:
    node = Node()
    assert node.deposit(TOKEN, ALICE, 1000, block=5).status == "accept"
    return node


def refused(node: Node, sender: str, payload: bytes, block: int = 6) -> dict:
    before = node.state_hash()
    result = node.advance(sender, payload, block=block)
    assert result.status == "reject" and [o.kind for o in result.outputs] == ["report"], result.decoded()
    assert node.state_hash() == before
    body = json.loads(bytes.fromhex(result.outputs[0].body["payload"][2:]))
    assert list(body) == ["error"] and set(body["error"]) <= {"type", "field", "message"}
    return body["error"]


# --- the token in a refusal about a token ---------------------------------------------


@pytest.mark.parametrize("payload", [
    op("transfer", token=TOKEN2, receiver=BOB, amount=5),
    op("withdraw", token=TOKEN2, amount=5),
    op("open_stream", token=TOKEN2, receiver=BOB, amount=50, duration=10),
    op("batch", ops=[{"op": "transfer", "token": TOKEN, "receiver": BOB, "amount": "1"},
                     {"op": "withdraw", "token": TOKEN2, "amount": "5"}]),
])
def test_an_overdraft_in_a_token_never_held_names_the_token(payload):
    err = refused(base(), ALICE, payload)
    assert err["type"] == "InsufficientFunds"
    assert err["message"] == f"insufficient funds: {checksum(parse_address(ALICE))} has 0 of token {T2} available" \
                             " at block 6, needs " + ("50" if b"open_stream" in payload else "5")


def test_an_overdraft_in_a_held_token_names_it_too():
    err = refused(base(), ALICE, op("transfer", token=TOKEN, receiver=BOB, amount=1001))
    assert f"has 1000 of token {T1} available at block 6, needs 1001" in err["message"]


def test_a_stream_increase_past_the_balance_names_the_token():
    node = base()
    assert node.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=100, duration=10).status == "accept"
    err = refused(node, ALICE, op("update_stream", stream_id=1, amount=2000))
    assert err["type"] == "InsufficientFunds" and f"of token {T1}" in err["message"]


def test_an_allowance_refusal_names_the_token():
    err = refused(base(), CAROL, op("transfer_from", token=TOKEN, owner=ALICE, receiver=BOB, amount=1))
    assert err["type"] == "InsufficientAllowance"
    assert err["message"] == (f"insufficient allowance: {checksum(parse_address(ALICE))} allows"
                              f" {checksum(parse_address(CAROL))} 0 of token {T1}, needs 1")


# --- amounts in quotes ----------------------------------------------------------------


@pytest.mark.parametrize("name, fields", [
    ("transfer", {"token": TOKEN, "receiver": BOB}),
    ("withdraw", {"token": TOKEN}),
    ("approve", {"token": TOKEN, "spender": BOB}),
    ("open_stream", {"token": TOKEN, "receiver": BOB, "duration": 10}),
])
def test_a_bare_number_amount_is_told_to_go_in_quotes(name, fields):
    payload = json.dumps({"op": name, **fields, "amount": 100}).encode()
    err = refused(base(), ALICE, payload)
    assert (err["field"], err["message"]) == (
        "amount", 'invalid amount: got 100, expected a decimal string: put the amount in quotes, "100"')


@pytest.mark.parametrize("raw", [b"10.5", b"1e3"])
def test_a_fraction_or_exponent_amount_is_told_the_form(raw):
    payload = b'{"op":"withdraw","token":"' + TOKEN.encode() + b'","amount":' + raw + b"}"
    err = refused(base(), ALICE, payload)
    assert err["field"] == "amount" and 'decimal string in quotes, like "1000"' in err["message"]


# --- ranges that say what is accepted ---------------------------------------------------


@pytest.mark.parametrize("field, value, accepted_edge", [
    ("duration", 0, 1), ("duration", -1, 1), ("duration", 2**62 + 1, 2**62),
])
def test_the_duration_range_is_the_accepted_one(field, value, accepted_edge):
    """The message says 1..2^62, and both ends of it get past the field check."""
    node = base()
    fields = {"token": TOKEN, "receiver": BOB, "amount": "1000", "duration": value}
    err = refused(node, ALICE, json.dumps({"op": "open_stream", **fields}).encode())
    assert (err["field"], err["message"]) == ("duration", f"invalid duration: got {value}, expected a JSON integer"
                                              " in 1..2^62")
    fields["duration"] = accepted_edge
    if accepted_edge == 1:
        assert node.advance(ALICE, json.dumps({"op": "open_stream", **fields}).encode(), block=6).status == "accept"
    else:  # 2^62 itself passes the field check; the end block is what refuses it then
        err = refused(node, ALICE, json.dumps({"op": "open_stream", **fields}).encode())
        assert err["field"] == "duration" and "start_block + duration" in err["message"]


def test_stream_id_zero_is_refused_in_words_that_exclude_it():
    for payload in (op("cancel_stream", stream_id=0), op("update_stream", stream_id=0, amount="5")):
        err = refused(base(), ALICE, payload)
        assert (err["field"], err["message"]) == ("stream_id", "invalid stream_id: got 0, expected a JSON integer"
                                                  " in 1..2^62")


@pytest.mark.parametrize("query, field, says", [
    ("stream/x", "id", "a stream id in 1..2^63-1"),
    ("stream/0", "stream_id", "a stream id in 1..2^63-1"),
    (f"streams/{ALICE}?limit=x", "limit", "an integer in 1..1000"),
    (f"streams/{ALICE}?limit=0", "limit", "an integer in 1..1000"),
    (f"balance/{TOKEN}/{ALICE}/x", "block", "a block number in 0..2^62"),
])
def test_inspect_integer_fields_say_their_range(query, field, says):
    result = base().inspect(query.encode())
    assert result.status == "reject" and result.error["field"] == field
    assert result.error["message"].endswith(says), result.error


# --- where malformed JSON goes wrong ----------------------------------------------------


def test_malformed_json_position_in_an_inspect_too():
    result = base().inspect(b'{"route":"tokens",}')
    assert result.status == "reject"
    assert result.error["message"] == ("invalid payload: malformed JSON at line 1, column 19 (byte 18): '}' where a"
                                       " key in double quotes was expected (a trailing comma); expected valid JSON")


def test_show_is_ascii_only():
    assert [show(c) for c in ("a", "'", "\x7f", "é", "\U0001FAE8")] == ["'a'", '"\'"', "U+007F", "U+00E9", "U+1FAE8"]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
_json_texts = st.builds(lambda v, indent: json.dumps(v, indent=indent, ensure_ascii=False),
                        _json_values, st.sampled_from([None, 1]))


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except (json.JSONDecodeError, RecursionError):
        return False


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_json_texts, cut=st.integers(min_value=0), junk=st.text(alphabet='{}[]":,. \n\'/\\-0123456789eEtrufalsnNI\x01',
                                                                    max_size=3))
def test_malformed_at_agrees_with_the_json_module(text, cut, junk):
    """Whatever the text: no position exactly when json.loads takes it; a prefix of valid
    JSON goes wrong only at its end; the position is inside the text and its line and
    column point at it."""
    assert malformed_at(text) is None
    k = cut % (len(text) + 1)
    prefix = text[:k]
    found = malformed_at(prefix)
    assert (found is None) == _parses(prefix)
    if found is not None:
        assert found.offset == k
    mutated = text[:k] + junk + text[k:]
    found = malformed_at(mutated)
    assert (found is None) == _parses(mutated), mutated
    if found is not None:
        assert 0 <= found.offset <= len(mutated)
        lines = mutated[:found.offset].split("\n")
        assert (found.line, found.column) == (len(lines), len(lines[-1]) + 1)
        assert found.byte == len(mutated[:found.offset].encode())
        before = malformed_at(mutated[:found.offset])  # what precedes it is a prefix of valid JSON
        assert before is None or before.offset == found.offset


@pytest.mark.parametrize("element", ["1", '"x"', "{}", "[]", '{"a":1}', "[1,[2]]", "null"])
def test_a_refused_payload_made_of_many_tokens_costs_a_bounded_search(element):
    """Runs of elements and members are skipped in one regex call each, and the loop stops
    after STEP_BUDGET steps: a 64 KiB payload of tiny tokens, refused, says either where it
    goes wrong or how far it is valid, never scanning on token by token."""
    from streamable_token.rollup.json_position import STEP_BUDGET
    text = "[" + ",".join([element] * (60_000 // (len(element) + 1))) + ",]"
    found = malformed_at(text)
    if found.offset == len(text) - 1:  # found the trailing comma
        assert "a trailing comma" in found.what
    else:
        assert "past 4096 tokens" in found.what and STEP_BUDGET == 4096
        assert malformed_at(text[:found.offset]).offset == found.offset  # valid up to there
    assert found.offset > 4000
