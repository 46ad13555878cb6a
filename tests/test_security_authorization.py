"""Authorization, through the real router: no input moves funds its sender does not own.

Each hostile input must be rejected with one report that names the problem, and leave the
database byte-identical (``iterdump`` and the state hash, which covers ``meta`` too).

The scene, at block 20: ALICE deposited 1000 TOKEN and streams 600 of it to BOB over
blocks 10..110 (stream 1: 60 streamed, ALICE has 400 available and 540 committed); BOB
deposited 500 TOKEN; CAROL streams 300 TOKEN2 to ALICE (stream 2); ALICE streams all her
100 TOKEN2 to CAROL (stream 3).
"""
from __future__ import annotations

import pytest

from fuzz.harness import ALICE, APP, BOB, CAROL, MALLORY, PORTAL, TOKEN, TOKEN2, Node, address, metadata, op
from streamable_token import MAX_UINT256
from streamable_token.rollup.codec import PORTALS, encode_deposit
from streamable_token.rollup.router import Config

pytestmark = pytest.mark.unit


NOW = 20


def scene(config: Config = Config()) -> Node:
    node = Node(config=config)
    for token, who, amount in ((TOKEN, ALICE, 1000), (TOKEN, BOB, 500), (TOKEN2, CAROL, 300), (TOKEN2, ALICE, 100)):
        assert node.deposit(token, who, amount, block=10).status == "accept"
    assert node.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=600, duration=100).status == "accept"
    assert node.send(CAROL, "open_stream", token=TOKEN2, receiver=ALICE, amount=300, duration=30).status == "accept"
    assert node.send(ALICE, "open_stream", token=TOKEN2, receiver=CAROL, amount=100, duration=50).status == "accept"
    node.block = NOW
    assert tuple(node.balance(TOKEN, ALICE)) == (940, 400, 540)
    return node


def assert_refused(node: Node, sender: str, payload: bytes, error: str, field: str | None = None,
                   words: tuple[str, ...] = ()) -> dict:
    """Send, and check: reject, exactly one report naming the problem, nothing changed."""
    before, hash_before = node.dump(), node.state_hash()
    result = node.advance(sender, payload)
    assert result.status == "reject", result.decoded()
    assert [o.kind for o in result.outputs] == ["report"], result.decoded()
    err = result.error
    assert err["type"] == error, err
    if field is not None:
        assert err.get("field") == field, err
    for word in words:
        assert word.lower() in err["message"].lower(), (word, err)
    assert node.state_hash() == hash_before
    assert node.dump() == before
    return err


# --- who may send what --------------------------------------------------------------


@pytest.mark.parametrize("sender", [MALLORY, ALICE, APP, PORTALS["v1"]], ids=["mallory", "depositor", "app", "v1-portal"])
def test_deposit_payload_from_anyone_but_the_portal_is_refused(sender):
    node = scene()
    payload = encode_deposit(TOKEN, ALICE if sender == ALICE else MALLORY, 10**24)
    assert_refused(node, sender, payload, "InvalidInput", "msg_sender", words=("portal",))
    # the same bytes from the portal are a deposit
    assert node.advance(PORTAL, payload).status == "accept"


def test_only_the_configured_portal_is_trusted():
    custom = "0x" + "5e" * 20
    node = Node(config=Config(portal=custom))
    assert node.advance(custom, encode_deposit(TOKEN, ALICE, 5)).status == "accept"
    assert_refused(node, PORTAL, encode_deposit(TOKEN, MALLORY, 10**24), "InvalidInput", "msg_sender")
    assert node.balance(TOKEN, ALICE).balance == 5 and node.balance(TOKEN, MALLORY).balance == 0


def test_input_for_another_application_is_refused():
    node = scene(Config(app=APP))
    other = dict(metadata(ALICE, node.index, NOW), app_contract="0x" + "0a" * 20)
    before = node.dump()
    result = node.advance_raw(other, op("transfer", token=TOKEN, receiver=BOB, amount=1))
    assert result.status == "reject" and result.error["field"] == "metadata.app_contract"
    assert node.dump() == before


@pytest.mark.parametrize("field", ["sender", "from", "caller", "msg_sender", "account", "owner"])
def test_command_naming_another_sender_is_refused(field):
    node = scene()
    payload = op("transfer", token=TOKEN, receiver=MALLORY, amount=100, **{field: ALICE})
    assert_refused(node, MALLORY, payload, "InvalidInput", field, words=("no such field",))


def test_batch_naming_another_sender_is_refused_whole():
    node = scene()
    payload = op("batch", ops=[{"op": "transfer", "token": TOKEN, "receiver": BOB, "amount": "1"},
                               {"op": "transfer", "token": TOKEN, "receiver": MALLORY, "amount": "100", "sender": ALICE}])
    assert_refused(node, BOB, payload, "InvalidInput", "sender")


def test_deposit_command_acts_for_the_depositor_only():
    """execLayerData runs as the depositor; naming someone else refuses the command, not
    the deposit (the tokens already sit in the application on L1)."""
    node = scene()
    data = op("transfer", token=TOKEN, receiver=MALLORY, amount=300, sender=ALICE)
    result = node.deposit(TOKEN, MALLORY, 7, data)
    assert result.status == "accept"
    kinds = [k for k, _ in result.decoded()]
    assert kinds == ["notice", "report"] and result.error["field"] == "sender"
    assert node.balance(TOKEN, MALLORY).balance == 7
    assert tuple(node.balance(TOKEN, ALICE)) == (940, 400, 540)


# --- streams of others --------------------------------------------------------------


@pytest.mark.parametrize("caller", [MALLORY, CAROL], ids=["stranger", "party-of-another-stream"])
def test_cancelling_someone_elses_stream_is_refused(caller):
    node = scene()
    assert_refused(node, caller, op("cancel_stream", stream_id=1), "Unauthorized", words=("stream 1",))


@pytest.mark.parametrize("caller, change", [
    (MALLORY, {"amount": "601"}),
    (BOB, {"amount": "1000"}),  # the receiver would commit the sender's funds
    (BOB, {"end_block": 50}),   # ...or speed the stream up
    (CAROL, {"amount": "100"}),
], ids=["stranger-amount", "receiver-amount", "receiver-end", "other-party-decrease"])
def test_updating_someone_elses_stream_is_refused(caller, change):
    node = scene()
    assert_refused(node, caller, op("update_stream", stream_id=1, **change), "Unauthorized")


def test_receiver_may_cancel_but_not_take_more_than_streamed():
    node = scene()
    result = node.send(BOB, "cancel_stream", stream_id=1)
    assert result.status == "accept"
    assert tuple(node.balance(TOKEN, BOB)) == (560, 560, 0)
    assert tuple(node.balance(TOKEN, ALICE)) == (940, 940, 0)
    assert node.balance(TOKEN, BOB, 1000).balance == 560  # nothing more flows


# --- spending what is not available ---------------------------------------------------


@pytest.mark.parametrize("sender, name, fields", [
    (ALICE, "withdraw", {"amount": 401}),                        # more than available
    (ALICE, "withdraw", {"amount": 940}),                        # her balance, mostly committed
    (MALLORY, "withdraw", {"amount": 1}),                        # never deposited
    (BOB, "withdraw", {"amount": 561}),                          # more than deposited + streamed so far
    (ALICE, "transfer", {"receiver": MALLORY, "amount": 401}),   # funds streaming out
    (ALICE, "open_stream", {"receiver": MALLORY, "amount": 401, "duration": 10}),
    (BOB, "transfer", {"receiver": MALLORY, "amount": 1100}),    # the stream's future income
], ids=["withdraw-over-available", "withdraw-committed", "withdraw-nothing", "withdraw-future-income",
        "transfer-committed", "stream-committed", "transfer-future-income"])
def test_spending_more_than_available_is_refused(sender, name, fields):
    node = scene()
    assert_refused(node, sender, op(name, token=TOKEN, **fields), "InsufficientFunds", words=("insufficient",))


def test_withdraw_of_another_token_is_refused():
    node = scene()
    assert_refused(node, BOB, op("withdraw", token=TOKEN2, amount=1), "InsufficientFunds")


def test_batch_over_available_is_refused_whole():
    node = scene()
    payload = op("batch", ops=[{"op": "transfer", "token": TOKEN, "receiver": BOB, "amount": "300"},
                               {"op": "withdraw", "token": TOKEN, "amount": "101"}])
    assert_refused(node, ALICE, payload, "InsufficientFunds")


def test_increasing_a_stream_draws_on_its_own_token_only():
    """Stream 3 is in TOKEN2, where ALICE has only the 100 stream 2 paid her so far; her
    400 available TOKEN cannot fund a 150 increase."""
    node = scene()
    assert node.balance(TOKEN2, ALICE).available == 100
    assert_refused(node, ALICE, op("update_stream", stream_id=3, amount=250), "InsufficientFunds")


# --- stream ids -----------------------------------------------------------------------


@pytest.mark.parametrize("stream_id, error, field", [
    (99, "UnknownStream", None),
    (2**62, "UnknownStream", None),
    (0, "InvalidInput", "stream_id"),
    (-1, "InvalidInput", "stream_id"),
    (-(2**63), "InvalidInput", "stream_id"),
    (2**62 + 1, "InvalidInput", "stream_id"),
    (2**63, "InvalidInput", "stream_id"),
    (2**64 + 1, "InvalidInput", "stream_id"),
    (10**30, "InvalidInput", "stream_id"),
    ("1", "InvalidInput", "stream_id"),
    (True, "InvalidInput", "stream_id"),
    (None, "InvalidInput", "stream_id"),
])
@pytest.mark.parametrize("name", ["cancel_stream", "update_stream"])
def test_bad_stream_ids_are_refused(name, stream_id, error, field):
    node = scene()
    extra = {"amount": 700} if name == "update_stream" else {}
    assert_refused(node, ALICE, op(name, stream_id=stream_id, **extra), error, field)


def test_stream_of_another_token_cannot_be_changed_by_its_receiver():
    node = scene()  # stream 2 is CAROL's, in TOKEN2, paying ALICE
    assert_refused(node, ALICE, op("update_stream", stream_id=2, amount=1), "Unauthorized")


def test_closed_streams_cannot_change():
    node = scene()
    assert node.send(ALICE, "cancel_stream", stream_id=3).status == "accept"
    assert_refused(node, ALICE, op("cancel_stream", stream_id=3), "StreamClosed", words=("canceled",))
    assert_refused(node, ALICE, op("update_stream", stream_id=3, amount=50), "StreamClosed")
    node.block = 200  # stream 1 has fully streamed
    assert_refused(node, ALICE, op("cancel_stream", stream_id=1), "StreamClosed", words=("fully streamed",))


# --- replays ----------------------------------------------------------------------------


def test_replayed_input_is_judged_on_its_own():
    node = scene()
    payload = op("transfer", token=TOKEN, receiver=CAROL, amount=300)
    first = node.advance(ALICE, payload)
    assert first.status == "accept" and tuple(node.balance(TOKEN, ALICE)) == (640, 100, 540)
    # same bytes, same sender, same block: a new input (new index), refused on its merits
    assert_refused(node, ALICE, payload, "InsufficientFunds")


def test_replayed_input_that_is_still_valid_applies_again():
    node = scene()
    payload = op("transfer", token=TOKEN, receiver=CAROL, amount=100)
    results = [node.advance(ALICE, payload) for _ in range(3)]
    assert [r.status for r in results] == ["accept"] * 3
    assert node.balance(TOKEN, CAROL).balance == 300
    assert node.balance(TOKEN, ALICE).available == 100


@pytest.mark.parametrize("payload, again_error", [
    (op("cancel_stream", stream_id=1), "StreamClosed"),
    (op("withdraw", token=TOKEN, amount=250), "InsufficientFunds"),  # 150 left
])
def test_replay_of_a_spent_input_is_refused(payload, again_error):
    node = scene()
    assert node.advance(ALICE, payload).status == "accept"
    assert_refused(node, ALICE, payload, again_error)


def test_redelivery_of_the_same_input_is_not_applied_twice():
    """Same metadata (same input index) and payload: the node re-delivering an input the
    DApp committed but did not finish. Its outputs come back; nothing is applied again."""
    node = scene()
    meta = metadata(ALICE, node.index, NOW)
    payload = op("transfer", token=TOKEN, receiver=CAROL, amount=100)
    first = node.advance_raw(meta, payload)
    state = node.dump()
    again = node.advance_raw(meta, payload)
    assert first.status == again.status == "accept"
    assert again.outputs == first.outputs
    assert node.dump() == state
    assert node.balance(TOKEN, CAROL).balance == 100


# --- allowances and stream operators ---------------------------------------------------


def approved(node: Node, spender: str = MALLORY, amount: int = 300) -> Node:
    assert node.send(ALICE, "approve", token=TOKEN, spender=spender, amount=amount).status == "accept"
    return node


@pytest.mark.parametrize("name, fields", [
    ("transfer_from", {"owner": ALICE, "receiver": MALLORY, "amount": 1}),
    ("open_stream", {"sender": ALICE, "receiver": MALLORY, "amount": 100, "duration": 10}),
], ids=["transfer-from", "stream-as-operator"])
def test_spending_without_an_allowance_is_refused(name, fields):
    node = scene()
    assert_refused(node, MALLORY, op(name, token=TOKEN, **fields), "InsufficientAllowance", words=("allowance",))
    # an allowance in another token, or from another owner, does not count
    assert node.send(ALICE, "approve", token=TOKEN2, spender=MALLORY, amount=1000).status == "accept"
    assert node.send(BOB, "approve", token=TOKEN, spender=MALLORY, amount=1000).status == "accept"
    assert_refused(node, MALLORY, op(name, token=TOKEN, **fields), "InsufficientAllowance")


@pytest.mark.parametrize("name, fields", [
    ("transfer_from", {"owner": ALICE, "receiver": MALLORY, "amount": 301}),
    ("open_stream", {"sender": ALICE, "receiver": MALLORY, "amount": 301, "duration": 10}),
], ids=["transfer-from", "stream-as-operator"])
def test_spending_beyond_an_allowance_is_refused(name, fields):
    node = approved(scene())
    assert_refused(node, MALLORY, op(name, token=TOKEN, **fields), "InsufficientAllowance")


@pytest.mark.parametrize("name, fields", [
    ("transfer_from", {"owner": ALICE, "receiver": MALLORY, "amount": 401}),
    ("open_stream", {"sender": ALICE, "receiver": MALLORY, "amount": 401, "duration": 10}),
], ids=["transfer-from", "stream-as-operator"])
def test_an_allowance_never_reaches_committed_funds(name, fields):
    node = approved(scene(), amount=MAX_UINT256)
    assert_refused(node, MALLORY, op(name, token=TOKEN, **fields), "InsufficientFunds")


def test_an_approval_is_the_callers_own():
    """approve has no owner field: nobody approves a spender of someone else's funds."""
    node = scene()
    assert_refused(node, MALLORY, op("approve", token=TOKEN, spender=MALLORY, amount=5, owner=ALICE),
                   "InvalidInput", "owner", words=("no such field",))
    assert_refused(node, ALICE, op("approve", token=TOKEN, spender=ALICE, amount=5), "InvalidInput", "spender")


def test_a_spender_may_not_act_on_the_owners_own_streams():
    node = approved(scene(), amount=MAX_UINT256)
    assert_refused(node, MALLORY, op("cancel_stream", stream_id=1), "Unauthorized")
    assert_refused(node, MALLORY, op("update_stream", stream_id=1, amount=700), "Unauthorized")


def test_only_the_operator_that_opened_a_stream_acts_on_it():
    node = approved(approved(scene()), spender=CAROL)
    result = node.advance(MALLORY, op("open_stream", token=TOKEN, sender=ALICE, receiver=BOB, amount=200, duration=10))
    assert result.status == "accept"
    sid = result.decoded()[0][1]["id"]
    for caller in (CAROL, address("stranger")):  # another spender of ALICE's, a stranger
        assert_refused(node, caller, op("cancel_stream", stream_id=sid), "Unauthorized")
        assert_refused(node, caller, op("update_stream", stream_id=sid, amount=250), "Unauthorized")
    # the receiver may cancel, not update, as for any stream
    assert_refused(node, BOB, op("update_stream", stream_id=sid, amount=250), "Unauthorized")
    assert node.send(MALLORY, "update_stream", stream_id=sid, amount=250).status == "accept"
    assert node.engine.allowance(TOKEN, ALICE, MALLORY) == 50
    assert_refused(node, MALLORY, op("update_stream", stream_id=sid, amount=301), "InsufficientAllowance")
    assert node.send(MALLORY, "cancel_stream", stream_id=sid).status == "accept"
    assert tuple(node.balance(TOKEN, ALICE)) == (940, 400, 540)  # the refund went to ALICE
    assert node.balance(TOKEN, MALLORY).balance == 0
