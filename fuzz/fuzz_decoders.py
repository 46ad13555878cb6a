"""Coverage-guided fuzzing of the payload decoders with atheris (libFuzzer). Not in CI.

    make fuzz                     # FUZZ_TIME=60 s by default; FUZZ_ARGS for libFuzzer flags
    .venv/bin/python fuzz/fuzz_decoders.py -max_total_time=600 -jobs=2

The first byte of an input picks the target, the rest is its input:

    0  streamable_token.rollup.ops.parse_command      a user's JSON command
    1  streamable_token.rollup.codec.decode_deposit   a v2 ERC-20 portal payload
    2  streamable_token.rollup.codec.decode_deposit   a v1 ERC-20 portal payload
    3  streamable_token.rollup.inspect.parse          an inspect path or JSON query
    4  streamable_token.rollup.codec.from_hex         the node's hex, as text
    5  streamable_token.rollup.codec.parse_metadata   advance metadata, as JSON
    6  Router.advance                the whole router on a seeded in-memory database, from
                                     ALICE, MALLORY or the portal (second byte): a refusal
                                     must change nothing, an acceptance keep the invariants

A decoder may refuse an input only with a ``StreamError`` (``InvalidInput`` ...); any other
exception, and any broken invariant, is a finding: libFuzzer stops and writes the input
to ``crash-*``. The seeds are the malformed-input corpus (tests/corpus), prefixed with
the byte of the target each case belongs to, in fuzz/work/seeds; new inputs that reach
new code go to fuzz/work/corpus.
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

with atheris.instrument_imports():
    from streamable_token.rollup import codec, ops
    from streamable_token.rollup import inspect as routes
    from streamable_token.rollup.builtin_ops import OPS
    from streamable_token.rollup.router import Config, Router
    from streamable_token import StreamableToken, StreamError
    from fuzz.harness import ALICE, BOB, MALLORY, PORTAL, TOKEN, Node, check_invariants, metadata

TARGETS = 7
SENDERS = (ALICE, MALLORY, PORTAL)


def _seeded() -> tuple[sqlite3.Connection, str]:
    node = Node()
    node.deposit(TOKEN, ALICE, 10**6, block=5)
    node.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=5000, duration=50)
    return node.conn, node.state_hash()


BASE, BASE_HASH = _seeded()


def run_router(data: bytes) -> None:
    if not data:
        return
    sender, payload = SENDERS[data[0] % len(SENDERS)], data[1:]
    conn = sqlite3.connect(":memory:", isolation_level=None)
    BASE.backup(conn)
    engine = StreamableToken(conn)
    outputs: list = []
    status = Router(engine, Config()).advance(metadata(sender, 2, 10), "0x" + payload.hex(), outputs.append)
    if status == "reject":
        assert [o.kind for o in outputs] == ["report"], outputs
        assert b"internal error" not in bytes.fromhex(outputs[0].body["payload"][2:]), outputs
        assert engine.state_hash() == BASE_HASH, "a rejected input changed the state"
    else:
        assert status == "accept", status
        check_invariants(engine, 10)
    conn.close()


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    if not data:
        return
    target, body = data[0] % TARGETS, data[1:]
    try:
        if target == 0:
            ops.parse_command(body, OPS)
        elif target == 1:
            codec.decode_deposit(body, "v2")
        elif target == 2:
            codec.decode_deposit(body, "v1")
        elif target == 3:
            routes.parse(body, 7)
        elif target == 4:
            codec.from_hex(body.decode("utf-8", "surrogateescape"))
        elif target == 5:
            try:
                meta = json.loads(body)
            except (ValueError, RecursionError):
                return
            codec.parse_metadata(meta, "v2" if len(body) % 2 else "v1")
        else:
            run_router(body)
    except StreamError:
        pass


def make_seeds(out_dir: str) -> None:
    """The malformed-input corpus as seeds, each prefixed with its target's byte."""
    corpus = os.path.join(ROOT, "tests", "corpus")
    os.makedirs(out_dir, exist_ok=True)
    prefixes = {"advance": (b"\x00", b"\x06\x00"), "portal": (b"\x01", b"\x06\x02"), "inspect": (b"\x03",),
                "metadata": (b"\x05",)}
    for folder, heads in prefixes.items():
        for name in sorted(os.listdir(os.path.join(corpus, folder))):
            with open(os.path.join(corpus, folder, name), "rb") as fh:
                data = fh.read()
            for head in heads:
                with open(os.path.join(out_dir, f"{head.hex()}-{name}"), "wb") as fh:
                    fh.write(head + data)
    valid = [b'{"op":"transfer","token":"%s","receiver":"%s","amount":"10"}' % (TOKEN.encode(), BOB.encode()),
             b'{"op":"cancel_stream","stream_id":1}', b'{"op":"update_stream","stream_id":1,"amount":"9000"}']
    for i, command in enumerate(valid):
        for head in (b"\x00", b"\x06\x00"):
            with open(os.path.join(out_dir, f"valid-{head.hex()}-{i}"), "wb") as fh:
                fh.write(head + command)


def main() -> None:
    work = os.path.join(HERE, "work")
    seeds, corpus = os.path.join(work, "seeds"), os.path.join(work, "corpus")
    make_seeds(seeds)
    os.makedirs(corpus, exist_ok=True)
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):  # no corpus dirs given: ours
        argv += [corpus, seeds]
    if not any(a.startswith("-max_len") for a in argv):
        argv.append("-max_len=8192")
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
