"""Recorded logs, recorded answers: refactors of the engine must not move a byte.

Two seeded logs go through the router on a fresh database, and every input's status and
outputs (hashed in order) and the state hash at fixed points must equal what the code
gave when they were recorded (issue 29: the ledger, the unit of work and the op tables
were rewritten under these figures):

* the mixed log of tests/test_reliability_replay.py (10,000 deposits, streams, cancels,
  updates, transfers, withdrawals, batches, ~10 % hostile inputs, inspects), then every
  malformed advance and inspect of tests/corpus;
* a hub log: 600 streams into one account (its incoming side moves from rows to a tree),
  amounts from 1 to near 2^256 (sums past the 54-bit limbs, kept whole), then updates,
  cancels, transfers, withdrawals and balance inspects around the hub.

A figure that moves is a change of behaviour: if it is meant, say so in the commit and
record the new figure.
"""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from fuzz.harness import ALICE, TOKEN, Node, address, mixed_log, op

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parent / "corpus"
MIXED = ("01b4f69a1286d0e15d059cdf21b0e91c3d29e8affaecedb120e3156659cc13e4", [
    "0x5302bfb902cae513358f6cafba58a78c29193afbd0e5f36437360c9e243aa1c1",
    "0xdc9c75aed1729622f0c50f780fb98b7b3e0dc0e20df393d9a53562582d593cfa",
    "0x916aeb12d347f1c40db04462c1444f7cdfab125070d8ae4e7594108257e4b20d",
    "0x8396b07ab9d5ed4cd768feac901bd6f827269a411292d08d5d15ae19bd822e64",
    "0x5d4d53a3da191a7415baa0bc6906e29187348f9d7f7a62fde3e73a6b18961693",
])
HUB = ("e3aa0a7cfefba2af8aff3fccfdce4179fd94cbf174dd7a003e08adbb1d034170",
       ["0x0bcb3a9da9c01d2683d261506eb9250425c8ae669ddecd905544de7a7695cc43"])
EVERY = 2500


def mixed_with_corpus() -> list[dict]:
    log = mixed_log(n=10_000)
    block = max(e["block"] for e in log if e["kind"] == "advance")
    for case in sorted((CORPUS / "advance").iterdir()):
        log.append({"kind": "advance", "sender": ALICE, "block": block, "payload": "0x" + case.read_bytes().hex()})
    for case in sorted((CORPUS / "inspect").iterdir()):
        log.append({"kind": "inspect", "payload": "0x" + case.read_bytes().hex()})
    return log


def hub_log(seed: int = 29) -> list[dict]:
    """Streams from 20 senders into one hub, of every size, then changes around the hub."""
    rng = random.Random(seed)
    hub = address("hub")
    senders = [address(f"payer-{k}") for k in range(20)]
    log: list[dict] = []

    def advance(sender: str, block: int, payload: bytes) -> None:
        log.append({"kind": "advance", "sender": sender, "block": block, "payload": "0x" + payload.hex()})

    def deposit(account: str, amount: int, block: int) -> None:
        from fuzz.harness import PORTAL
        from streamable_token.rollup.codec import encode_deposit
        log.append({"kind": "advance", "sender": PORTAL, "block": block,
                    "payload": "0x" + encode_deposit(TOKEN, account, amount, b"").hex()})

    for k, s in enumerate(senders):
        deposit(s, 2**250 + k, 1)
    ids = 0
    block = 2
    for n in range(600):
        block += rng.choice((0, 0, 1, 3))
        size = rng.choice((1, 2**40, 2**120, 2**200, 2**240))
        duration = rng.choice((1, 7, 100, 5_000, 2**20))
        amount = max(duration, size + rng.randrange(size))
        advance(rng.choice(senders), block, op("open_stream", token=TOKEN, receiver=hub, amount=str(amount),
                                               duration=duration, start_block=block + rng.randrange(50)))
        ids += 1
    for n in range(400):
        block += rng.choice((1, 2, 10))
        kind = rng.randrange(6)
        sid = rng.randrange(1, ids + 1)
        if kind == 0:
            advance(rng.choice(senders + [hub]), block, op("cancel_stream", stream_id=sid))
        elif kind == 1:
            advance(rng.choice(senders), block, op("update_stream", stream_id=sid,
                                                   amount=str(rng.choice((2**41, 2**201, 10**30)))))
        elif kind == 2:
            advance(rng.choice(senders), block, op("update_stream", stream_id=sid, end_block=block + rng.randrange(1, 9999)))
        elif kind == 3:
            advance(hub, block, op("transfer", token=TOKEN, receiver=rng.choice(senders), amount=str(rng.randrange(1, 2**100))))
        elif kind == 4:
            advance(hub, block, op("withdraw", token=TOKEN, amount=str(rng.randrange(1, 2**60))))
        else:
            log.append({"kind": "inspect", "payload": "0x" + f"balance/{TOKEN}/{hub}/{block + rng.randrange(10**6)}".encode().hex()})
    return log


def replay(log: list[dict]) -> tuple[str, list[str]]:
    node = Node()
    digest = hashlib.sha256()
    marks = []
    for i, e in enumerate(log):
        payload = bytes.fromhex(e["payload"][2:])
        r = node.inspect(payload) if e["kind"] == "inspect" else node.advance(e["sender"], payload, e["block"])
        digest.update(json.dumps([e["kind"], r.status, [[o.kind, o.body] for o in r.outputs]],
                                 sort_keys=True, separators=(",", ":")).encode())
        if (i + 1) % EVERY == 0 or i + 1 == len(log):
            marks.append(node.state_hash())
    return digest.hexdigest(), marks


@pytest.mark.parametrize("name, make, want", [("mixed", mixed_with_corpus, MIXED), ("hub", hub_log, HUB)])
def test_a_recorded_log_gives_the_recorded_outputs_and_states(name, make, want):
    assert replay(make()) == want
