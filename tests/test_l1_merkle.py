"""Pure tests of the outputs Merkle tree and the v2 codecs (no chain needed)."""

import random

import pytest
from eth_utils import keccak

from l1 import codec, merkle

pytestmark = pytest.mark.unit


def naive_root(leaves, height):
    level = list(leaves) + [merkle.ZERO] * ((1 << height) - len(leaves))
    while len(level) > 1:
        level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def leaves_of(n, seed=0):
    rnd = random.Random(seed)
    return [rnd.randbytes(32) for _ in range(n)]


@pytest.mark.parametrize("height", [0, 1, 2, 3, 5])
def test_root_matches_full_tree(height):
    for n in range((1 << height) + 1):
        leaves = leaves_of(n, seed=n)
        assert merkle.merkle_root(leaves, height) == naive_root(leaves, height)


def test_zero_hashes_are_empty_subtrees():
    assert merkle.ZERO_HASHES[0] == b"\0" * 32
    assert merkle.ZERO_HASHES[4] == naive_root([], 4)
    assert merkle.merkle_root([]) == merkle.ZERO_HASHES[merkle.LOG2_MAX_OUTPUTS]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 33])
def test_every_proof_rebuilds_the_root(n):
    leaves = leaves_of(n, seed=n)
    root = merkle.merkle_root(leaves)
    for i in range(n):
        sibs = merkle.siblings(leaves, i)
        assert len(sibs) == merkle.LOG2_MAX_OUTPUTS
        assert merkle.root_from_proof(leaves[i], i, sibs) == root
        assert merkle.root_from_proof(keccak(leaves[i]), i, sibs) != root


def test_proof_checks_bounds():
    with pytest.raises(ValueError):
        merkle.merkle_root(leaves_of(5), height=2)
    with pytest.raises(ValueError):
        merkle.siblings(leaves_of(2), 4, height=2)
    with pytest.raises(ValueError):
        merkle.root_from_proof(b"\0" * 32, 4, [b"\0" * 32] * 2)


def test_outputs_tree_prefix_roots_and_proofs():
    tree = merkle.OutputsTree()
    outputs = [codec.encode_notice(bytes([i])) for i in range(5)]
    for i, out in enumerate(outputs):
        assert tree.append(out) == i
    leaves = [keccak(o) for o in outputs]
    assert tree.root(3) == merkle.merkle_root(leaves[:3])
    index, sibs = tree.proof(2, n=3)
    assert merkle.root_from_proof(leaves[2], index, sibs) == tree.root(3)
    with pytest.raises(ValueError):
        tree.proof(3, n=3)


def test_evm_advance_round_trip():
    app = "0x" + "ab" * 20
    sender = "0x" + "cd" * 20
    data = codec.encode_evm_advance(31337, app, sender, 12, 1_700_000_000, 2**255 + 1, 4,
                                    b"hi")
    adv = codec.decode_evm_advance(data)
    assert (adv.chain_id, adv.block_number, adv.index, adv.payload) == (31337, 12, 4, b"hi")
    assert adv.app_contract.lower() == app and adv.msg_sender.lower() == sender
    meta = adv.metadata()
    assert meta["prev_randao"] == "0x" + (2**255 + 1).to_bytes(32, "big").hex()
    assert meta["input_index"] == 4
    with pytest.raises(codec.CodecError):
        codec.decode_evm_advance(b"\0" * 4 + data[4:])


def test_output_codecs():
    dest = "0x" + "11" * 20
    voucher = codec.encode_voucher(dest, "0x" + "00" * 31 + "05", b"\x01\x02")
    kind, fields = codec.decode_output(voucher)
    assert kind == "voucher" and fields["value"] == 5 and fields["payload"] == b"\x01\x02"
    assert codec.decode_output(codec.encode_notice(b"x")) == ("notice", {"payload": b"x"})
    with pytest.raises(codec.CodecError):
        codec.decode_output(b"\xff" * 8)
