"""Decoders with real payload bytes: packed portal deposits, metadata, vouchers, ops, routes."""
from __future__ import annotations

import json

import pytest
from eth_abi import decode as abi_decode, encode as abi_encode
from eth_abi.packed import encode_packed
from eth_utils import to_checksum_address
from hypothesis import given, strategies as st

from streamable_token.rollup import inspect as routes
from streamable_token.rollup.codec import (
    ZERO_VALUE,
    decode_deposit,
    encode_deposit,
    from_hex,
    parse_metadata,
    transfer_call,
    voucher_body,
)
from streamable_token.rollup import ops
from streamable_token.rollup.builtin_ops import OPS
from streamable_token.addresses import checksum
from streamable_token.errors import InvalidInput

pytestmark = pytest.mark.unit


TOKEN = "0x1111111111111111111111111111111111111111"
ALICE = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"


def packed_deposit(amount: int, data: bytes = b"", success: bool | None = None) -> bytes:
    types, values = ["address", "address", "uint256", "bytes"], [TOKEN, ALICE, amount, data]
    if success is not None:
        types, values = ["bool", *types], [success, *values]
    return encode_packed(types, values)


@pytest.mark.parametrize("amount", [0, 1, 10**18, 2**256 - 1])
def test_v2_deposit_matches_the_portals_packed_encoding(amount):
    dep = decode_deposit(packed_deposit(amount, b"\x01\x02"), "v2")
    assert (dep.token.hex(), dep.sender.hex(), dep.amount) == (TOKEN[2:], ALICE[2:].lower(), amount)
    assert dep.exec_layer_data == b"\x01\x02" and dep.success
    assert encode_deposit(TOKEN, ALICE, amount, b"\x01\x02") == packed_deposit(amount, b"\x01\x02")


def test_v1_deposit_success_byte():
    assert decode_deposit(packed_deposit(5, success=True), "v1").success
    assert not decode_deposit(packed_deposit(5, success=False), "v1").success
    with pytest.raises(InvalidInput, match="success"):
        decode_deposit(b"\x02" + packed_deposit(5), "v1")


@pytest.mark.parametrize("version, size", [("v2", 71), ("v1", 72), ("v2", 0)])
def test_short_deposits_are_refused(version, size):
    with pytest.raises(InvalidInput, match="deposit"):
        decode_deposit(bytes(size), version)


def test_v2_and_v1_metadata():
    v2 = {"chain_id": 31337, "app_contract": "0x" + "ab" * 20, "msg_sender": ALICE, "block_number": 7,
          "block_timestamp": 1700000084, "prev_randao": "0x" + "01" * 32, "input_index": 3}
    meta = parse_metadata(v2, "v2")
    assert (meta.block_number, meta.input_index, meta.timestamp, meta.chain_id) == (7, 3, 1700000084, 31337)
    v1 = {"msg_sender": ALICE, "epoch_index": 0, "input_index": 3, "block_number": 7, "timestamp": 1}
    assert parse_metadata(v1, "v1").epoch_index == 0
    for broken in ({**v2, "block_number": -1}, {**v2, "block_number": "7"}, {**v2, "msg_sender": "0x12"}, []):
        with pytest.raises(InvalidInput):
            parse_metadata(broken, "v2")


def test_voucher_is_an_erc20_transfer_call():
    calldata = transfer_call(bytes.fromhex(ALICE[2:]), 2**256 - 1)
    assert calldata[:4].hex() == "a9059cbb"
    assert abi_decode(["address", "uint256"], calldata[4:]) == (ALICE.lower(), 2**256 - 1)
    for amount in (0, 1, 10**18, 2**255, 2**256 - 1):
        assert transfer_call(bytes.fromhex(ALICE[2:]), amount) == bytes.fromhex("a9059cbb") + abi_encode(
            ["address", "uint256"], [ALICE, amount])
    for receiver, amount in ((bytes(19), 1), (bytes(20), -1), (bytes(20), 2**256)):
        with pytest.raises(ValueError):
            transfer_call(receiver, amount)
    body = voucher_body(bytes.fromhex(TOKEN[2:]), calldata, "v2")
    assert body["value"] == ZERO_VALUE and len(body["value"]) == 66
    assert "value" not in voucher_body(bytes.fromhex(TOKEN[2:]), calldata, "v1")


# EIP-55's own examples
@pytest.mark.parametrize("address", [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
])
def test_checksum_gives_the_eip55_examples(address):
    assert checksum(bytes.fromhex(address[2:])) == address


@given(st.binary(min_size=20, max_size=20))
def test_checksum_agrees_with_eth_utils(raw):
    assert checksum(raw) == to_checksum_address(raw)


@pytest.mark.parametrize("bad", ["", "0", "0x0", "0xzz", "ab", None, 12])
def test_hex_is_strict(bad):
    with pytest.raises(InvalidInput):
        from_hex(bad)


def op(**fields) -> bytes:
    return json.dumps(fields).encode()


def parse_command(payload: bytes) -> ops.Op:
    """A command by the built-in op table."""
    return ops.parse_command(payload, OPS)


def test_ops_parse_exact_field_names():
    parsed = parse_command(op(op="open_stream", token=TOKEN, receiver=ALICE, amount="10", duration=5))
    assert parsed.fields["amount"] == 10 and "start_block" not in parsed.fields
    assert parse_command(op(op="update_stream", stream_id=1, end_block=9)).fields == {"stream_id": 1, "end_block": 9}


@pytest.mark.parametrize(
    "payload, field",
    [
        (op(op="withdraw", token=TOKEN), "amount"),
        (op(op="withdraw", token=TOKEN, amount="1", extra=1), "extra"),
        (op(op="withdraw", token=TOKEN, amount=1), "amount"),
        (op(op="withdraw", token=TOKEN, amount="01"), "amount"),
        (op(op="withdraw", token=TOKEN, amount="-1"), "amount"),
        (op(op="withdraw", token=TOKEN, amount=" 1"), "amount"),
        (op(op="withdraw", token=TOKEN, amount="0"), "amount"),
        (op(op="withdraw", token=TOKEN, amount=str(2**256)), "amount"),
        (op(op="cancel_stream", stream_id="1"), "stream_id"),
        (op(op="cancel_stream", stream_id=True), "stream_id"),
        (b'{"op":"cancel_stream","stream_id":1.0}', "stream_id"),
        (b'{"op":"cancel_stream","stream_id":1e3}', "stream_id"),
        (b'{"op":"cancel_stream","stream_id":NaN}', "stream_id"),
        (b'{"op":"cancel_stream","stream_id":1,"stream_id":2}', "stream_id"),
        (op(op="fly"), "op"),
        (op(op="batch", ops=[{"op": "batch", "ops": []}]), "op"),
        (op(op="batch", ops=[]), "ops"),
        (b"[1,2]", "payload"),
        (b"\xff\xfe", "payload"),
        (b"[" * 5000, "payload"),
        (b"", "payload"),
    ],
)
def test_bad_ops_name_the_field(payload, field):
    with pytest.raises(InvalidInput) as err:
        parse_command(payload)
    assert err.value.field == field


def test_inspect_paths():
    assert routes.parse(f"balance/{TOKEN}/{ALICE}".encode(), 9) == ("balance", {"token": TOKEN, "account": ALICE, "block": 9})
    assert routes.parse(f"balance/{TOKEN}/{ALICE}/12".encode(), 9)[1]["block"] == 12
    assert routes.parse(f"streams/{ALICE}?role=incoming&after=3".encode(), 0)[1] == {
        "account": ALICE, "role": "incoming", "after": 3, "block": 0}
    # every route whose figures move with the block takes one, as a path segment or a query
    assert routes.parse(b"stream/7", 9) == ("stream", {"id": 7, "block": 9})
    assert routes.parse(b"stream/7/141", 9) == ("stream", {"id": 7, "block": 141})
    assert routes.parse(b"stream/7?block=141", 9) == ("stream", {"id": 7, "block": 141})
    assert routes.parse(f"streams/{ALICE}/141?limit=2".encode(), 9)[1] == {"account": ALICE, "limit": 2, "block": 141}
    assert routes.parse(b'{"route":"stream","id":7,"block":141}', 9) == ("stream", {"id": 7, "block": 141})
    assert routes.parse(b"state-hash", 0) == ("state-hash", {})
    for bad in (b"balance/a", b"../x", b"stream/1/2/3", b"stream/1/2?block=3", b"token/a/5", b"state-hash/5",
                b"streams/a?role=x&role=y", b"stream/%00", b"stream/01", b"stream/1/01",
                b"token/' OR 1=1 --", b'{"route":"balance","token":"x"}', b'{"route":"nope"}'):
        with pytest.raises(InvalidInput):
            routes.parse(bad, 0)


def test_errors_name_the_real_field_and_say_missing():
    """A number no field takes is reported under its field, not as "number"; an absent
    field is said to be missing, never "got None"."""
    with pytest.raises(InvalidInput) as err:
        parse_command(b'{"op":"withdraw","token":"%s","amount":1.5}' % TOKEN.encode())
    assert (err.value.field, str(err.value)) == (
        "amount", "invalid amount: got 1.5, expected a whole number of base units as a decimal string in quotes,"
                  ' like "1000" (no fractions or exponents)')
    with pytest.raises(InvalidInput) as err:
        parse_command(op(op="open_stream", token=TOKEN, receiver=ALICE, amount="5"))
    assert (err.value.field, str(err.value)) == ("duration", "missing field 'duration': open_stream requires duration")
    with pytest.raises(InvalidInput) as err:
        routes.parse(b'{"route":"balance","token":"%s"}' % TOKEN.encode(), 0)
    assert str(err.value) == "missing field 'account': balance requires account"
    for payload in (b'{"op":"cancel_stream"}', b'{"op":"transfer"}'):
        with pytest.raises(InvalidInput) as err:
            parse_command(payload)
        assert "None" not in str(err.value) and str(err.value).startswith("missing field"), payload
