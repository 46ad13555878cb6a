"""One behaviour on every Python: CI runs amd64 Python 3.11 (SQLite 3.40), the Cartesi
machine riscv64 Python 3.13 (SQLite 3.46). Whatever differs between versions or between
processes must not reach a report, a notice, a voucher or the state.

Found and pinned here:
* nesting: ``json.loads`` recurses ~1,000 deep on 3.11 (less the caller's stack), ~9,000 on
  3.13, so a 5,000-deep payload was refused as ``payload`` on one and reached the field
  checks on the other; ``rollup.ops.MAX_DEPTH`` now decides, before ``json.loads``;
* the json module's messages: 3.13 words a trailing comma its own way, at another
  character; reports no longer quote them;
* the hash seed: an inspect with several bad integer fields reported whichever a set's
  order (the per-process string hash) put first.
``make riscv-test`` runs this file on riscv64 Python 3.13 too, and compares a recorded log's
outputs and state native against emulated (tests/test_riscv64.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.harness import ALICE, BOB, TOKEN, Node
from streamable_token.rollup.ops import MAX_DEPTH, load_json, nests_deeper_than
from streamable_token.errors import InvalidInput

pytestmark = pytest.mark.unit


ROOT = Path(__file__).resolve().parent.parent
DEEP = b'{"error":{"field":"payload","message":"invalid payload: got \'deeply nested JSON\', expected JSON nested at most 64 deep","type":"InvalidInput"}}'


def malformed(where_what: str) -> bytes:
    """The report of malformed JSON: where it goes wrong and why, in our own words."""
    return json.dumps({"error": {"field": "payload", "message": f"invalid payload: malformed JSON at {where_what};"
                                 " expected valid JSON", "type": "InvalidInput"}},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def report(result) -> bytes:
    assert result.status == "reject", result.decoded()
    assert [o.kind for o in result.outputs] == ["report"]
    return bytes.fromhex(result.outputs[0].body["payload"][2:])


def in_token(depth: int) -> bytes:
    return b'{"op":"withdraw","token":' + b"[" * depth + b"]" * depth + b',"amount":"1"}'


def test_the_limit_is_64_and_exact():
    assert MAX_DEPTH == 64
    node = Node()
    at_limit = json.loads(report(node.advance(ALICE, in_token(MAX_DEPTH - 1), block=1)))["error"]  # + the object
    assert at_limit["field"] == "token"
    assert report(node.advance(ALICE, in_token(MAX_DEPTH), block=1)) == DEEP
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(InvalidInput) as err:
        load_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert err.value.field == "payload"


@pytest.mark.parametrize("depth", [65, 999, 1_000, 2_000, 5_000, 8_999, 9_001, 30_000])
def test_deep_payloads_get_one_report_whatever_the_recursion_limit(depth):
    """Between ~1,000 and ~9,000 levels 3.11 and 3.13 disagreed; a raised recursion limit
    let 3.11 parse them too. Advance and inspect, default and raised limit: one report."""
    node = Node()
    old = sys.getrecursionlimit()
    got = set()
    try:
        for limit in (old, 100_000):
            sys.setrecursionlimit(limit)
            got.add(report(node.advance(ALICE, in_token(depth), block=1)))
            got.add(report(node.inspect(b'{"route":' + b"[" * depth + b"]" * depth + b"}")))
    finally:
        sys.setrecursionlimit(old)
    assert got == {DEEP}


def test_brackets_in_strings_do_not_count_and_scanning_stops_at_an_open_string():
    inside = b'{"op":"withdraw","token":"' + b"[" * 5_000 + b'","amount":"1"}'
    assert json.loads(report(Node().advance(ALICE, inside, block=1)))["error"]["field"] == "token"
    assert not nests_deeper_than('["\\"' + "[" * 100 + '"]')  # an escaped quote does not end the string
    assert nests_deeper_than("[" * 65 + '"' + "]" * 65)
    # a string never closed: everything after it is inside it; invalid JSON, refused as such
    assert report(Node().advance(ALICE, b'["' + b"[" * 5_000, block=1)) == malformed(
        "line 1, column 5003 (byte 5002): the text ends inside a string (no closing '\"')")


@pytest.mark.parametrize("payload, where_what", [
    # 3.13: "Illegal trailing comma" at the comma; 3.11: "Expecting property name" at the '}'
    (b'{"op":"withdraw","token":"' + TOKEN.encode() + b'","amount":"1",}',
     "line 1, column 84 (byte 83): '}' where a key in double quotes was expected (a trailing comma)"),
    (b'{"op":"batch","ops":[{"op":"withdraw","token":"' + TOKEN.encode() + b'","amount":"1"},]}',
     "line 1, column 106 (byte 105): ']' where a value was expected (a trailing comma)"),
    (b'{"op":"withdraw"', "line 1, column 17 (byte 16): the text ends where ',' or '}' was expected"),
    (b'{"op" "withdraw"}', "line 1, column 7 (byte 6): '\"' where ':' was expected"),
    (b'{"op":"withdraw\x01"}',
     "line 1, column 16 (byte 15): U+0001 inside a string (control characters must be escaped)"),
    (b'{"op":"\\x"}', "line 1, column 9 (byte 8): 'x' after '\\' (escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t"
                    " \\uXXXX)"),
    (b"{} []", "line 1, column 4 (byte 3): '[' after the end of the JSON value (one value per payload)"),
    (b"", "line 1, column 1 (byte 0): the text ends where a value was expected"),
    (b'{"op":\n  "withdraw",\n  \'token\': 1}',
     "line 3, column 3 (byte 23): \"'\" where a key in double quotes was expected (JSON strings and keys take"
     " double quotes)"),
    ('{"op":"é" /* x */}'.encode(), "line 1, column 11 (byte 11): '/' where ',' or '}' was expected (JSON has no comments)"),
])
def test_malformed_json_says_where_the_same_on_every_python(payload, where_what):
    """The position and the reason are computed by the DApp (rollup.json_position), not
    quoted from the json module, whose words and positions differ between 3.11 and 3.13:
    line and column in characters, the byte offset in the payload."""
    assert report(Node().advance(ALICE, payload, block=1)) == malformed(where_what)


CORPUS_RUN = """
import hashlib, json, sys
from pathlib import Path
from fuzz.harness import ALICE, PORTAL, Node
corpus = Path("tests/corpus")
h = hashlib.sha256()
for case in sorted(p for p in corpus.glob("*/*") if p.parent.name in ("advance", "inspect", "portal")):
    node = Node()
    node.deposit("%s", ALICE, 10**6, block=5)
    data = case.read_bytes()
    r = node.inspect(data) if case.parent.name == "inspect" else node.advance(PORTAL if case.parent.name == "portal" else ALICE, data, block=6)
    h.update(json.dumps([case.name, r.status, [[o.kind, o.body] for o in r.outputs]], sort_keys=True).encode())
extra = ("streams/%s?active_at=x&after=y&limit=z", '{"route":"streams","account":"%s","limit":"a","after":"b","active_at":"c"}')
for query in extra:
    r = Node().inspect(query.encode())
    h.update(json.dumps([r.status, [[o.kind, o.body] for o in r.outputs]]).encode())
print(h.hexdigest())
""" % (TOKEN, ALICE, BOB)


@pytest.mark.integration
def test_outputs_do_not_depend_on_the_hash_seed():
    """Every corpus case and two inspects with several bad integer fields, in processes
    with different string hash seeds: the same reports, byte for byte."""
    digests = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", CORPUS_RUN], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1, digests


@pytest.mark.parametrize("name, shown", [
    ("\U0001FAE8", "\\U0001fae8"),  # Unicode 15 (3.13) calls it printable, Unicode 14 (3.11) does not
    ("transf\u00e9r", "transf\\xe9r"),
    ("\u00a0", "\\xa0"),
])
def test_a_refused_value_is_shown_in_ascii_whatever_the_unicode_database(name, shown):
    """repr() shows a character raw or escaped as the running Python's Unicode database
    says it is printable or not, so a refusal quoting an emoji read differently on 3.11
    and 3.13; the value is shown with ascii() instead."""
    payload = json.dumps({"op": name}, ensure_ascii=False).encode()
    assert json.loads(report(Node().advance(ALICE, payload, block=1)))["error"]["message"].startswith(
        f"invalid op: got '{shown}', expected one of ")
