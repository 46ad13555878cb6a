"""Write the malformed-input corpus: ``python tests/corpus/generate.py`` (from the repo root).

Every case is a file of raw bytes (or a JSON metadata object) that the DApp must refuse
cleanly: ``reject``, one error report naming the problem, nothing changed. ``manifest.json``
maps each file to the error the report must carry (``type``, and ``field`` for
``InvalidInput``; ``says``, words its message must contain, where they are the point).
The files double as the seed corpus of ``make fuzz``.

    advance/    payloads from an ordinary account (sender = ALICE in the tests)
    portal/     payloads from the v2 ERC-20 portal (malformed deposits)
    metadata/   advance metadata objects (the payload is a valid command)
    inspect/    inspect payloads (paths and JSON queries)

The actors are ``fuzz.harness``'s: ALICE holds TOKEN and streams to BOB (stream 1).
"""
from __future__ import annotations

import json
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from fuzz.harness import ALICE, BOB, TOKEN  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
T, R, A = TOKEN.encode(), BOB.encode(), ALICE.encode()
BAD_CHECKSUM = "0x81B637d8fCD2C6da6359E6963113a1170de795e4".encode()  # one letter's case flipped
U256 = str(2**256).encode()
MAX_PAYLOAD = 64 * 1024


def j(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def transfer(amount: bytes = b'"10"', token: bytes = b'"' + T + b'"', receiver: bytes = b'"' + R + b'"') -> bytes:
    return b'{"op":"transfer","token":' + token + b',"receiver":' + receiver + b',"amount":' + amount + b"}"


def stream_op(field: bytes, value: bytes) -> bytes:
    """An open_stream whose ``field`` holds the raw JSON ``value``."""
    fields = {b"token": b'"' + T + b'"', b"receiver": b'"' + R + b'"', b"amount": b'"1000"', b"duration": b"10"}
    fields[field] = value
    return b'{"op":"open_stream",' + b",".join(b'"' + k + b'":' + v for k, v in fields.items()) + b"}"


def invalid(field: str) -> dict:
    return {"type": "InvalidInput", "field": field}


def says(expect: dict, words: str) -> dict:
    """``expect``, and the report's message must contain ``words`` (what the user reads)."""
    return {**expect, "says": words}


ADVANCE: list[tuple[str, bytes, dict]] = [
    # --- not UTF-8 -----------------------------------------------------------------
    ("utf8-garbage", b"\xff\xfe\xfd\xfc", invalid("payload")),
    ("utf8-truncated-sequence", transfer(amount=b'"1\xc3"'), invalid("payload")),
    ("utf8-overlong-slash", b'{"op":"\xc0\xafwithdraw"}', invalid("payload")),
    ("utf8-surrogate", b'{"op":"withdraw","token":"\xed\xa0\x80"}', invalid("payload")),
    ("utf8-latin1-text", "{\"op\":\"transfér\"}".encode("latin-1"), invalid("payload")),
    ("utf16-bom", '{"op":"withdraw"}'.encode("utf-16"), invalid("payload")),
    ("nul-bytes", b"\x00" * 16, invalid("payload")),
    # --- JSON that is not an object ------------------------------------------------
    ("json-array", b"[]", invalid("payload")),
    ("json-array-of-op", b"[" + transfer() + b"]", invalid("payload")),
    ("json-string", b'"transfer"', invalid("payload")),
    ("json-number", b"42", invalid("payload")),
    ("json-null", b"null", invalid("payload")),
    ("json-true", b"true", invalid("payload")),
    ("json-two-objects", transfer() + transfer(), invalid("payload")),
    ("json-trailing-comma", b'{"op":"withdraw","token":"' + T + b'","amount":"1",}',
     says(invalid("payload"), "malformed JSON at line 1, column 84 (byte 83): '}' where a key in double quotes")),
    ("json-single-quotes", b"{'op':'withdraw'}", says(invalid("payload"), "line 1, column 2 (byte 1)")),
    ("json-comment", b'{"op":"withdraw"/*x*/}', invalid("payload")),
    # --- deep nesting ----------------------------------------------------------------
    ("nest-arrays-30k", b"[" * 30000 + b"]" * 30000, invalid("payload")),
    ("nest-objects-10k", b'{"a":' * 10000 + b"1" + b"}" * 10000, invalid("payload")),
    ("nest-in-field", b'{"op":"withdraw","token":' + b"[" * 5000 + b"]" * 5000 + b',"amount":"1"}', invalid("payload")),
    ("nest-shallow-in-field", b'{"op":"withdraw","token":' + b"[" * 50 + b"]" * 50 + b',"amount":"1"}', invalid("token")),
    ("nest-batch-in-batch", j({"op": "batch", "ops": [{"op": "batch", "ops": [json.loads(transfer())]}]}), invalid("op")),
    # --- huge strings ------------------------------------------------------------------
    ("huge-over-limit", b'{"op":"withdraw","token":"' + b"a" * MAX_PAYLOAD + b'"}', invalid("payload")),
    ("huge-token", b'{"op":"withdraw","token":"0x' + b"a" * 60000 + b'","amount":"1"}', invalid("token")),
    ("huge-amount-digits", transfer(amount=b'"' + b"9" * 60000 + b'"'), invalid("amount")),
    ("huge-op-name", b'{"op":"' + b"w" * 60000 + b'"}', invalid("op")),
    ("huge-key", b'{"op":"withdraw","' + b"k" * 60000 + b'":1}', {"type": "InvalidInput"}),
    ("huge-batch-257-ops", j({"op": "batch", "ops": [json.loads(transfer())] * 257}), invalid("ops")),
    # --- duplicated keys ---------------------------------------------------------------
    ("dup-op", b'{"op":"withdraw","op":"transfer","token":"' + T + b'","receiver":"' + R + b'","amount":"1"}', invalid("op")),
    ("dup-amount", transfer()[:-1] + b',"amount":"999999"}', invalid("amount")),
    ("dup-receiver", transfer()[:-1] + b',"receiver":"' + A + b'"}', invalid("receiver")),
    ("dup-in-batch", b'{"op":"batch","ops":[' + transfer()[:-1] + b',"amount":"5"}]}', invalid("amount")),
    # --- numbers -----------------------------------------------------------------------
    ("num-amount-json-int", transfer(amount=b"10"), says(invalid("amount"), 'put the amount in quotes, "10"')),
    ("num-amount-json-float", transfer(amount=b"10.0"), invalid("amount")),
    ("num-amount-json-exponent", transfer(amount=b"1e1"), invalid("amount")),
    ("num-amount-string-float", transfer(amount=b'"10.0"'), invalid("amount")),
    ("num-amount-string-exponent", transfer(amount=b'"1e1"'), invalid("amount")),
    ("num-amount-string-hex", transfer(amount=b'"0xa"'), invalid("amount")),
    ("num-amount-json-hex", transfer(amount=b"0xa"), invalid("payload")),
    ("num-amount-leading-zero", transfer(amount=b'"010"'), invalid("amount")),
    ("num-amount-leading-space", transfer(amount=b'" 10"'), invalid("amount")),
    ("num-amount-trailing-space", transfer(amount=b'"10 "'), invalid("amount")),
    ("num-amount-newline", transfer(amount=b'"10\\n"'), invalid("amount")),
    ("num-amount-plus", transfer(amount=b'"+10"'), invalid("amount")),
    ("num-amount-minus-zero", transfer(amount=b'"-0"'), invalid("amount")),
    ("num-amount-negative", transfer(amount=b'"-10"'), invalid("amount")),
    ("num-amount-zero", transfer(amount=b'"0"'), invalid("amount")),
    ("num-amount-underscore", transfer(amount=b'"1_0"'), invalid("amount")),
    ("num-amount-arabic-digits", transfer(amount='"١٠"'.encode()), invalid("amount")),
    ("num-amount-fullwidth-digits", transfer(amount='"１０"'.encode()), invalid("amount")),
    ("num-amount-empty", transfer(amount=b'""'), invalid("amount")),
    ("num-amount-null", transfer(amount=b"null"), invalid("amount")),
    ("num-amount-bool", transfer(amount=b"true"), invalid("amount")),
    ("num-amount-nan", transfer(amount=b"NaN"), invalid("amount")),
    ("num-amount-infinity", transfer(amount=b"Infinity"), invalid("amount")),
    ("num-amount-neg-infinity", transfer(amount=b"-Infinity"), invalid("amount")),
    ("num-amount-2pow256", transfer(amount=b'"' + U256 + b'"'), invalid("amount")),
    ("num-amount-2pow256-plus-1", transfer(amount=b'"' + str(2**256 + 1).encode() + b'"'), invalid("amount")),
    ("num-amount-10pow78", transfer(amount=b'"1' + b"0" * 78 + b'"'), invalid("amount")),
    ("num-amount-10pow100", transfer(amount=b'"1' + b"0" * 100 + b'"'), invalid("amount")),
    ("num-duration-float", stream_op(b"duration", b"10.0"), invalid("duration")),
    ("num-duration-exponent", stream_op(b"duration", b"1E1"), invalid("duration")),
    ("num-duration-string", stream_op(b"duration", b'"10"'), invalid("duration")),
    ("num-duration-leading-zero", stream_op(b"duration", b"010"), invalid("payload")),
    ("num-duration-minus-zero", stream_op(b"duration", b"-0"), invalid("duration")),
    ("num-duration-negative", stream_op(b"duration", b"-10"), says(invalid("duration"), "in 1..2^62")),
    ("num-duration-zero", stream_op(b"duration", b"0"), says(invalid("duration"), "in 1..2^62")),
    ("num-duration-bool", stream_op(b"duration", b"true"), invalid("duration")),
    ("num-duration-2pow63", stream_op(b"duration", str(2**63).encode()), invalid("duration")),
    ("num-duration-5000-digits", stream_op(b"duration", b"7" * 5000), invalid("duration")),
    ("num-start-minus-zero", stream_op(b"start_block", b"-0"), invalid("start_block")),
    ("num-start-plus", stream_op(b"start_block", b"+5"), invalid("payload")),
    ("num-stream-id-float", b'{"op":"cancel_stream","stream_id":1.0}', invalid("stream_id")),
    ("num-stream-id-string", b'{"op":"cancel_stream","stream_id":"1"}', invalid("stream_id")),
    ("num-stream-id-hex", b'{"op":"cancel_stream","stream_id":0x1}', invalid("payload")),
    ("num-stream-id-whitespace-string", b'{"op":"cancel_stream","stream_id":" 1"}', invalid("stream_id")),
    # --- addresses ---------------------------------------------------------------------
    ("addr-19-bytes", transfer(receiver=b'"0x' + b"ab" * 19 + b'"'), invalid("receiver")),
    ("addr-21-bytes", transfer(receiver=b'"0x' + b"ab" * 21 + b'"'), invalid("receiver")),
    ("addr-no-prefix", transfer(receiver=b'"' + R[2:] + b'"'), invalid("receiver")),
    ("addr-no-prefix-42", transfer(receiver=b'"00' + R[2:] + b'"'), invalid("receiver")),
    ("addr-bad-checksum", transfer(receiver=b'"' + BAD_CHECKSUM + b'"'), invalid("receiver")),
    ("addr-non-hex", transfer(receiver=b'"0x' + b"zz" * 20 + b'"'), invalid("receiver")),
    ("addr-trailing-newline", transfer(receiver=b'"' + R[:-1] + b'\\n"'), invalid("receiver")),
    ("addr-padded-32-bytes", transfer(receiver=b'"0x' + b"00" * 12 + R[2:] + b'"'), invalid("receiver")),
    ("addr-ens-name", transfer(receiver=b'"bob.eth"'), invalid("receiver")),
    ("addr-number", transfer(receiver=b"1234"), invalid("receiver")),
    ("addr-empty", transfer(token=b'""'), invalid("token")),
    ("addr-null", transfer(token=b"null"), invalid("token")),
    ("addr-array", transfer(token=b'["' + T + b'"]'), invalid("token")),
    ("addr-self", transfer(receiver=b'"' + A + b'"'), invalid("receiver")),
    # --- empty and near-empty ----------------------------------------------------------
    ("empty", b"", invalid("payload")),
    ("space", b" ", invalid("payload")),
    ("newline", b"\n", invalid("payload")),
    ("empty-object", b"{}", invalid("op")),
    ("bom-then-json", b"\xef\xbb\xbf{\"op\":\"withdraw\"}", invalid("payload")),
    # --- shape: ops and fields ---------------------------------------------------------
    ("op-unknown", b'{"op":"mint","token":"' + T + b'","amount":"1"}', invalid("op")),
    ("op-case", transfer().replace(b'"transfer"', b'"Transfer"'), invalid("op")),
    ("op-array", b'{"op":[]}', invalid("op")),
    ("op-object", b'{"op":{}}', invalid("op")),
    ("op-number", b'{"op":1}', invalid("op")),
    ("op-null", b'{"op":null}', invalid("op")),
    ("op-missing", b'{"token":"' + T + b'","amount":"1"}', invalid("op")),
    ("field-sender", transfer()[:-1] + b',"sender":"' + R + b'"}', invalid("sender")),
    ("field-from", transfer()[:-1] + b',"from":"' + R + b'"}', invalid("from")),
    ("field-msg-sender", transfer()[:-1] + b',"msg_sender":"' + R + b'"}', invalid("msg_sender")),
    ("field-account", b'{"op":"withdraw","token":"' + T + b'","amount":"1","account":"' + R + b'"}', invalid("account")),
    ("field-missing-amount", b'{"op":"transfer","token":"' + T + b'","receiver":"' + R + b'"}', invalid("amount")),
    ("field-update-nothing", b'{"op":"update_stream","stream_id":1}', invalid("amount")),
    ("batch-empty", b'{"op":"batch","ops":[]}', invalid("ops")),
    ("batch-not-list", b'{"op":"batch","ops":{}}', invalid("ops")),
    ("batch-item-string", b'{"op":"batch","ops":["transfer"]}', invalid("payload")),
    ("batch-second-bad", j({"op": "batch", "ops": [json.loads(transfer()), {"op": "withdraw"}]}), invalid("token")),
    # --- SQL fragments -----------------------------------------------------------------
    ("sql-token", b'{"op":"withdraw","token":"0x\'; DROP TABLE ledgers;--","amount":"1"}', invalid("token")),
    ("sql-op", b'{"op":"transfer\'--","token":"' + T + b'"}', invalid("op")),
    ("sql-stream-id", b'{"op":"cancel_stream","stream_id":"1 OR 1=1"}', invalid("stream_id")),
    ("sql-amount", transfer(amount=b'"1; UPDATE ledgers SET available=x\'ff\'"'), invalid("amount")),
    ("sql-key", b'{"op":"withdraw","token":"' + T + b'","amount":"1","amount\' OR \'1\'=\'1":1}', invalid("amount' OR '1'='1")),
    # --- allowances and operators (appended: earlier file names keep their numbers) ------
    ("approve-self", j({"op": "approve", "token": TOKEN, "spender": ALICE, "amount": "5"}), invalid("spender")),
    ("approve-missing-spender", j({"op": "approve", "token": TOKEN, "amount": "5"}), invalid("spender")),
    ("approve-amount-negative", j({"op": "approve", "token": TOKEN, "spender": BOB, "amount": "-1"}), invalid("amount")),
    ("approve-amount-2pow256", b'{"op":"approve","token":"' + T + b'","spender":"' + R + b'","amount":"' + U256 + b'"}',
     invalid("amount")),
    ("approve-amount-number", j({"op": "approve", "token": TOKEN, "spender": BOB, "amount": 5}), invalid("amount")),
    ("approve-amount-leading-zero", j({"op": "approve", "token": TOKEN, "spender": BOB, "amount": "00"}),
     invalid("amount")),
    ("approve-owner-field", j({"op": "approve", "token": TOKEN, "spender": ALICE, "owner": BOB, "amount": "5"}),
     invalid("owner")),
    ("transfer-from-no-allowance", j({"op": "transfer_from", "token": TOKEN, "owner": BOB, "receiver": ALICE,
                                      "amount": "1"}), says({"type": "InsufficientAllowance"}, "of token 0x3f08")),
    ("transfer-from-owner-is-receiver", j({"op": "transfer_from", "token": TOKEN, "owner": BOB, "receiver": BOB,
                                           "amount": "1"}), invalid("receiver")),
    ("transfer-from-bad-owner", j({"op": "transfer_from", "token": TOKEN, "owner": "0x12", "receiver": BOB,
                                   "amount": "1"}), invalid("owner")),
    ("transfer-from-amount-zero", j({"op": "transfer_from", "token": TOKEN, "owner": BOB, "receiver": ALICE,
                                     "amount": "0"}), invalid("amount")),
    ("transfer-from-spender-field", j({"op": "transfer_from", "token": TOKEN, "owner": BOB, "receiver": ALICE,
                                       "amount": "1", "spender": BOB}), invalid("spender")),
    ("stream-sender-no-allowance", stream_op(b"sender", b'"0x' + b"cc" * 20 + b'"'), {"type": "InsufficientAllowance"}),
    ("stream-sender-bad-address", stream_op(b"sender", b'"' + BAD_CHECKSUM + b'"'), invalid("sender")),
    ("overdraft-token-never-held", j({"op": "withdraw", "token": BOB, "amount": "1"}),
     says({"type": "InsufficientFunds"}, "has 0 of token 0x81b637d8fCD2C6da6359E6963113a1170de795e4 available")),
]

PORTAL: list[tuple[str, bytes, dict]] = [
    ("deposit-empty", b"", invalid("payload")),
    ("deposit-1-byte", b"\x01", invalid("payload")),
    ("deposit-40-bytes", bytes.fromhex(T[2:].decode()) + bytes.fromhex(A[2:].decode()), invalid("payload")),
    ("deposit-71-bytes", bytes.fromhex(T[2:].decode()) + bytes.fromhex(A[2:].decode()) + b"\x00" * 31, invalid("payload")),
]

_META_BASE = {
    "chain_id": 31337,
    "app_contract": "0xab7528bb862fB57E8A2BCd567a2e929a0Be56a5e",
    "msg_sender": ALICE,
    "block_number": 10,
    "block_timestamp": 1_700_000_120,
    "prev_randao": "0x" + "00" * 32,
    "input_index": 7,
}


def meta(**changes) -> dict:
    out = dict(_META_BASE)
    for key, value in changes.items():
        if value is ...:
            out.pop(key)
        else:
            out[key] = value
    return out


METADATA: list[tuple[str, object, dict]] = [
    ("not-object-list", [], invalid("metadata")),
    ("not-object-null", None, invalid("metadata")),
    ("not-object-string", "metadata", invalid("metadata")),
    ("sender-missing", meta(msg_sender=...), invalid("metadata.msg_sender")),
    ("sender-short", meta(msg_sender="0x" + "ab" * 19), invalid("metadata.msg_sender")),
    ("sender-number", meta(msg_sender=1), invalid("metadata.msg_sender")),
    ("sender-bad-checksum", meta(msg_sender=BAD_CHECKSUM.decode()), invalid("metadata.msg_sender")),
    ("block-missing", meta(block_number=...), invalid("metadata.block_number")),
    ("block-negative", meta(block_number=-1), invalid("metadata.block_number")),
    ("block-string", meta(block_number="10"), invalid("metadata.block_number")),
    ("block-float", meta(block_number=10.0), invalid("metadata.block_number")),
    ("block-bool", meta(block_number=True), invalid("metadata.block_number")),
    ("block-2pow64", meta(block_number=2**64), invalid("metadata.block_number")),
    ("block-2pow62-plus-1", meta(block_number=2**62 + 1), invalid("metadata.block_number")),
    ("index-negative", meta(input_index=-1), invalid("metadata.input_index")),
    ("timestamp-missing", meta(block_timestamp=...), invalid("metadata.block_timestamp")),
    ("chain-missing", meta(chain_id=...), invalid("metadata.chain_id")),
    ("app-missing", meta(app_contract=...), invalid("metadata.app_contract")),
    ("randao-short-hex", meta(prev_randao="0x1"), invalid("metadata.prev_randao")),
    ("randao-negative-int", meta(prev_randao=-1), invalid("metadata.prev_randao")),
    ("randao-2pow256-int", meta(prev_randao=2**256), invalid("metadata.prev_randao")),
    ("randao-float", meta(prev_randao=1.5), invalid("metadata.prev_randao")),
]

INSPECT: list[tuple[str, bytes, dict]] = [
    ("empty", b"", invalid("path")),
    ("slash", b"/", invalid("route")),
    ("question-mark", b"?", invalid("route")),
    ("double-slash", b"balance//" + A, invalid("path")),
    ("dotdot", b"..", invalid("path")),
    ("dotdot-route", b"../state-hash", invalid("path")),
    ("dotdot-in-args", b"balance/../../etc/passwd", invalid("path")),
    ("dotdot-encoded", b"balance/%2e%2e/%2e%2e/" + A, invalid("path")),
    ("pct00", b"state-hash%00", invalid("path")),
    ("pct00-in-arg", b"stream/1%00", invalid("path")),
    ("nul", b"state-hash\x00", invalid("path")),
    ("nul-in-arg", b"balance/" + T + b"\x00/" + A, invalid("path")),
    ("non-ascii", "balance/ŧ/a".encode(), invalid("path")),
    ("non-utf8", b"balance/\xff\xfe", invalid("path")),
    ("long-path", b"stream/" + b"1" * 5000, invalid("path")),
    ("route-unknown", b"admin", invalid("route")),
    ("route-case", b"STATE-HASH", invalid("route")),
    ("route-meta-table", b"meta/last_input", invalid("route")),
    ("stream-negative", b"stream/-1", invalid("id")),
    ("stream-zero", b"stream/0", invalid("stream_id")),
    ("stream-leading-zero", b"stream/01", invalid("id")),
    ("stream-huge", b"stream/9999999999999999999", invalid("stream_id")),
    ("stream-20-digits", b"stream/99999999999999999999", invalid("id")),
    ("stream-unknown", b"stream/424242", {"type": "UnknownStream"}),
    ("stream-extra-query", b"stream/1?x=1", invalid("query")),
    ("stream-missing-id", b"stream", invalid("path")),
    ("balance-bad-token", b"balance/0x1234/" + A, invalid("token")),
    ("balance-bad-checksum", b"balance/" + T + b"/" + BAD_CHECKSUM, invalid("account")),
    ("balance-negative-block", b"balance/" + T + b"/" + A + b"/-1", invalid("block")),
    ("balance-past-block", b"balance/" + T + b"/" + A + b"/0", invalid("block")),
    ("balance-too-many-args", b"balance/" + T + b"/" + A + b"/1/2", invalid("path")),
    ("streams-limit-zero", b"streams/" + A + b"?limit=0", invalid("limit")),
    ("streams-limit-huge", b"streams/" + A + b"?limit=1001", invalid("limit")),
    ("streams-role-admin", b"streams/" + A + b"?role=admin", invalid("role")),
    ("streams-dup-query", b"streams/" + A + b"?limit=1&limit=2", invalid("query")),
    ("streams-no-value", b"streams/" + A + b"?limit", invalid("query")),
    ("streams-unknown-key", b"streams/" + A + b"?order=desc", invalid("query")),
    ("sql-quote", b"balance/' OR 1=1--/" + A, invalid("path")),
    ("sql-semicolon", b"stream/1;DROP TABLE streams", invalid("path")),
    ("sql-space-or", b"stream/1 OR 1=1", invalid("path")),
    ("sql-in-query", b"streams/" + A + b"?role=all'--", invalid("path")),
    ("sql-union", b"streams/" + A + b"?limit=1 UNION SELECT * FROM meta", invalid("path")),
    ("sql-route-word", b"state-hash;DELETE FROM ledgers", invalid("path")),
    ("json-route-array", b'{"route":[]}', invalid("route")),
    ("json-route-object", b'{"route":{}}', invalid("route")),
    ("json-route-missing", b'{"id":1}', invalid("route")),
    ("json-not-object", b"{", invalid("payload")),
    ("json-dup-key", b'{"route":"stream","id":1,"id":2}', invalid("id")),
    ("json-sql-id", b'{"route":"stream","id":"1; DROP TABLE streams"}', invalid("id")),
    ("json-sql-token", b'{"route":"balance","token":"\' OR \'1\'=\'1","account":"' + A + b'"}', invalid("token")),
    ("json-float-id", b'{"route":"stream","id":1.0}', invalid("id")),
    ("json-bool-block", b'{"route":"balance","token":"' + T + b'","account":"' + A + b'","block":true}', invalid("block")),
    ("json-huge-int", b'{"route":"stream","id":' + b"9" * 5000 + b"}", invalid("id")),
    ("json-extra-field", b'{"route":"state-hash","sql":"SELECT 1"}', invalid("sql")),
    ("json-deep", b'{"route":' + b"[" * 5000 + b"]" * 5000 + b"}", invalid("payload")),
    ("json-over-limit", b'{"route":"' + b"a" * MAX_PAYLOAD + b'"}', invalid("payload")),
    ("allowance-missing-spender", b"allowance/" + T + b"/" + A, invalid("path")),
    ("allowance-bad-owner", b"allowance/" + T + b"/0x12/" + R, invalid("owner")),
    ("allowance-bad-checksum", b"allowance/" + T + b"/" + A + b"/" + BAD_CHECKSUM, invalid("spender")),
    ("allowance-block", b"allowance/" + T + b"/" + A + b"/" + R + b"/5", invalid("path")),
    ("json-allowance-extra", b'{"route":"allowance","token":"' + T + b'","owner":"' + A + b'","spender":"' + R
     + b'","block":1}', invalid("block")),
    # --- discovery routes (appended: earlier file names keep their numbers) -----------------
    ("tokens-with-arg", b"tokens/" + T, invalid("path")),
    ("tokens-limit-zero", b"tokens?limit=0", says(invalid("limit"), "an integer in 1..1000")),
    ("tokens-after-negative", b"tokens?after=-1", says(invalid("after"), "the next_after of the previous page")),
    ("tokens-block", b"tokens?block=5", invalid("query")),
    ("holders-missing-token", b"holders", invalid("path")),
    ("holders-bad-token", b"holders/0x1234", invalid("token")),
    ("holders-bad-checksum", b"holders/" + BAD_CHECKSUM, invalid("token")),
    ("holders-limit-huge", b"holders/" + T + b"?limit=1001", invalid("limit")),
    ("holders-past-block", b"holders/" + T + b"/0", invalid("block")),
    ("holders-unknown-key", b"holders/" + T + b"?role=all", invalid("query")),
    ("json-holders-extra", b'{"route":"holders","token":"' + T + b'","account":"' + A + b'"}', invalid("account")),
    ("json-tokens-trailing-comma", b'{"route":"tokens",}',
     says(invalid("payload"), "malformed JSON at line 1, column 19 (byte 18)")),
]


def write() -> int:
    """(Re)write every case file and the manifest; returns the number of cases."""
    manifest: dict[str, dict] = {}
    for folder, cases, ext in (("advance", ADVANCE, "bin"), ("portal", PORTAL, "bin"),
                               ("metadata", METADATA, "json"), ("inspect", INSPECT, "bin")):
        path = os.path.join(HERE, folder)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        names = set()
        for i, (name, data, expect) in enumerate(cases, 1):
            assert name not in names, name
            names.add(name)
            filename = f"{i:03d}-{name}.{ext}"
            raw = data if ext == "bin" else json.dumps(data, indent=1).encode() + b"\n"
            with open(os.path.join(path, filename), "wb") as fh:
                fh.write(raw)
            manifest[f"{folder}/{filename}"] = expect
    with open(os.path.join(HERE, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return len(manifest)


if __name__ == "__main__":
    print(f"{write()} cases written under {HERE}")
