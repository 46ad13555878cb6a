"""The malformed-input corpus (tests/corpus, see generate.py there): every case refused
cleanly by the real router. Clean means: ``reject``, exactly one report whose error names
the expected problem (type, and field for InvalidInput), no exception and no traceback
(nothing logged at ERROR, no "internal error"), and the database byte-identical."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from fuzz.harness import ALICE, BOB, PORTAL, TOKEN, Node, metadata, op
from streamable_token.rollup.codec import encode_deposit
from streamable_token.rollup.router import Config

pytestmark = pytest.mark.unit


CORPUS = Path(__file__).parent / "corpus"
MANIFEST: dict[str, dict] = json.loads((CORPUS / "manifest.json").read_text())
MAX_REPORT = 3 * 64 * 1024  # a report may quote the bad value, never more than ~the input


def cases(folder: str) -> list[str]:
    return sorted(p.relative_to(CORPUS).as_posix() for p in (CORPUS / folder).iterdir())


def base() -> Node:
    """ALICE holds TOKEN at block 5 and streams to BOB (stream 1): something to protect."""
    node = Node()
    assert node.deposit(TOKEN, ALICE, 10**6, block=5).status == "accept"
    assert node.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=1000, duration=100).status == "accept"
    return node


def check_refused(result, expect: dict, caplog) -> None:
    assert result.status == "reject", result.decoded()
    assert [o.kind for o in result.outputs] == ["report"], result.decoded()
    assert len(result.outputs[0].body["payload"]) <= 2 * MAX_REPORT
    err = result.error
    assert err["type"] == expect["type"], err
    if "field" in expect:
        assert err.get("field") == expect["field"], err
    if "says" in expect:
        assert expect["says"] in err["message"], err
    assert "internal error" not in err["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_manifest_matches_files():
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*")}
    assert on_disk == set(MANIFEST)
    assert len(MANIFEST) >= 150


@pytest.mark.parametrize("case", cases("advance"))
def test_advance_payload_is_refused(case, caplog):
    node = base()
    before, hash_before = node.dump(), node.state_hash()
    result = node.advance(ALICE, (CORPUS / case).read_bytes(), block=6)
    check_refused(result, MANIFEST[case], caplog)
    assert node.state_hash() == hash_before and node.dump() == before


@pytest.mark.parametrize("case", cases("portal"))
def test_malformed_deposit_is_refused(case, caplog):
    node = base()
    before = node.dump()
    check_refused(node.advance(PORTAL, (CORPUS / case).read_bytes(), block=6), MANIFEST[case], caplog)
    assert node.dump() == before


@pytest.mark.parametrize("case", cases("metadata"))
def test_malformed_metadata_is_refused(case, caplog):
    """The payload is a valid transfer from ALICE: only the metadata is wrong."""
    node = base()
    before = node.dump()
    meta = json.loads((CORPUS / case).read_text())
    result = node.advance_raw(meta, op("transfer", token=TOKEN, receiver=BOB, amount=1))
    check_refused(result, MANIFEST[case], caplog)
    assert node.dump() == before


@pytest.mark.parametrize("case", cases("inspect"))
def test_inspect_query_is_refused(case, caplog):
    node = base()
    before = node.dump()
    check_refused(node.inspect((CORPUS / case).read_bytes()), MANIFEST[case], caplog)
    assert node.dump() == before
    # the connection is usable and writable again afterwards
    assert node.send(ALICE, "transfer", token=TOKEN, receiver=BOB, amount=1).status == "accept"


@pytest.mark.parametrize("payload, field", [
    (b"\x02" + encode_deposit(TOKEN, ALICE, 5), "payload.success"),
    (b"\x01" + encode_deposit(TOKEN, ALICE, 5)[:71], "payload"),
    (b"", "payload"),
])
def test_malformed_v1_deposit_is_refused(payload, field, caplog):
    node = Node(config=Config(version="v1"))
    meta = {"msg_sender": "0x9C21AEb2093C32DDbC53eEF24B873BDCd1aDa1DB", "epoch_index": 0,
            "input_index": 0, "block_number": 3, "timestamp": 36}
    before = node.dump()
    check_refused(node.advance_raw(meta, payload), {"type": "InvalidInput", "field": field}, caplog)
    assert node.dump() == before


def test_bad_hex_from_the_node_is_refused(caplog):
    node = base()
    before = node.dump()
    meta = metadata(ALICE, node.index, node.block)
    for payload_hex in ("", "0x0", "abcd", "0xzz", "0X00", "0x 0", None, 7, ["0x"]):
        check_refused(node.advance_raw(meta, payload_hex), {"type": "InvalidInput", "field": "payload"}, caplog)
        status, outputs = node.router.inspect(payload_hex)
        assert status == "reject" and [o.kind for o in outputs] == ["report"]
    assert node.dump() == before


def test_deposit_with_malformed_command_keeps_the_deposit(caplog):
    """A malformed execLayerData cannot strand a deposit: it is credited, the command is
    refused in a report, and the input is accepted."""
    for case in cases("advance")[:40]:
        node = base()
        result = node.advance(PORTAL, encode_deposit(TOKEN, BOB, 77, (CORPUS / case).read_bytes()))
        assert result.status == "accept", (case, result.decoded())
        kinds = [k for k, _ in result.decoded()]
        assert kinds == ["notice", "report"], (case, kinds)
        assert node.balance(TOKEN, BOB).available == 77
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_outcome_does_not_depend_on_the_int_digits_limit():
    """Python's int_max_str_digits is per process (PYTHONINTMAXSTRDIGITS): the same long
    integer must get the same report under any setting, or nodes would disagree."""
    payload = b'{"op":"cancel_stream","stream_id":' + b"7" * 700 + b"}"
    outputs = []
    old = sys.get_int_max_str_digits()
    try:
        for limit in (640, 0, 4300):  # 0 = unlimited
            sys.set_int_max_str_digits(limit)
            result = base().advance(ALICE, payload, block=6)
            assert result.status == "reject" and result.error["field"] == "stream_id"
            outputs.append(result.outputs)
    finally:
        sys.set_int_max_str_digits(old)
    assert outputs[0] == outputs[1] == outputs[2]
