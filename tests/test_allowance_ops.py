"""The allowance ops, notices and route through the real router: approve, transfer_from,
an operator's open_stream with "sender", and allowance/<token>/<owner>/<spender>."""
from __future__ import annotations

import json

import pytest

from fuzz.harness import ALICE, BOB, MALLORY, TOKEN, Node, op
from streamable_token import MAX_UINT256
from streamable_token.addresses import checksum, parse_address

pytestmark = pytest.mark.unit


C = {name: checksum(parse_address(a)) for name, a in (("alice", ALICE), ("bob", BOB), ("op", MALLORY), ("t", TOKEN))}


def funded() -> Node:
    node = Node()
    assert node.deposit(TOKEN, ALICE, 1000, block=5).status == "accept"
    return node


def allowance(node: Node, owner: str = ALICE, spender: str = MALLORY) -> dict:
    result = node.inspect(f"allowance/{TOKEN}/{owner}/{spender}".encode())
    assert result.status == "accept"
    return result.decoded()[0][1]


def test_approve_emits_approval_and_the_route_reads_it():
    node = funded()
    assert allowance(node)["allowance"] == "0"
    result = node.send(ALICE, "approve", token=TOKEN, spender=MALLORY, amount=300)
    assert result.status == "accept"
    assert result.decoded() == [("notice", {"event": "approval", "token": C["t"], "owner": C["alice"],
                                            "spender": C["op"], "amount": "300", "block": 5})]
    assert allowance(node) == {"token": C["t"], "owner": C["alice"], "spender": C["op"], "allowance": "300"}
    json_query = json.dumps({"route": "allowance", "token": TOKEN, "owner": ALICE, "spender": MALLORY}).encode()
    assert node.inspect(json_query).decoded()[0][1]["allowance"] == "300"
    assert node.send(ALICE, "approve", token=TOKEN, spender=MALLORY, amount="0").status == "accept"
    assert allowance(node)["allowance"] == "0"


def test_transfer_from_emits_a_transfer_naming_the_spender():
    node = funded()
    node.send(ALICE, "approve", token=TOKEN, spender=MALLORY, amount=300)
    result = node.send(MALLORY, "transfer_from", token=TOKEN, owner=ALICE, receiver=BOB, amount=120)
    assert result.status == "accept"
    assert result.decoded() == [("notice", {"event": "transfer", "token": C["t"], "sender": C["alice"],
                                            "receiver": C["bob"], "amount": "120", "spender": C["op"],
                                            "block": 5})]
    assert allowance(node)["allowance"] == "180"
    assert node.balance(TOKEN, BOB).balance == 120 and node.balance(TOKEN, ALICE).balance == 880


def test_an_operator_opens_a_stream_for_the_owner_and_an_infinite_allowance_stays():
    node = funded()
    node.send(ALICE, "approve", token=TOKEN, spender=MALLORY, amount=MAX_UINT256)
    result = node.advance(MALLORY, op("open_stream", token=TOKEN, sender=ALICE, receiver=BOB, amount=100,
                                      duration=10))
    assert result.status == "accept"
    (kind, body), = result.decoded()
    assert body["event"] == "stream_opened" and body["sender"] == C["alice"] and body["operator"] == C["op"]
    assert allowance(node)["allowance"] == str(MAX_UINT256)
    assert tuple(node.balance(TOKEN, ALICE)) == (1000, 900, 100)
    # naming oneself as sender is an ordinary stream, no operator
    result = node.advance(ALICE, op("open_stream", token=TOKEN, sender=ALICE, receiver=BOB, amount=100, duration=10))
    assert result.status == "accept" and "operator" not in result.decoded()[0][1]


def test_approve_and_transfer_from_in_a_batch_and_a_refusal_undoes_the_approval():
    node = funded()
    before = node.state_hash()
    result = node.send(ALICE, "batch", ops=[
        {"op": "approve", "token": TOKEN, "spender": MALLORY, "amount": "50"},
        {"op": "transfer_from", "token": TOKEN, "owner": BOB, "receiver": MALLORY, "amount": "1"}])
    assert result.status == "reject" and result.error["type"] == "InsufficientAllowance"
    assert node.state_hash() == before and allowance(node)["allowance"] == "0"
