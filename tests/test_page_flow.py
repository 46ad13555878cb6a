"""The page's pure math (web/flow.js) against the engine, to the wei, on shared vectors.

A seeded mixed run (deposits, transfers, streams opened, updated and canceled, withdrawals)
goes through the router. Node then evaluates flow.js on what the page would have: the
balance and streams answered at one block (projected to later blocks), and the notices
(the whole history, rebuilt as an indexer would). Every figure must equal the engine's
inspect answer for the same block. flow.js's own unit tests (node's test runner) run too.
"""
from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from streamable_token import StreamableToken
from streamable_token.rollup.codec import PORTALS, encode_deposit
from streamable_token.rollup.router import Output, Router

REPO = Path(__file__).resolve().parent.parent
FLOW = REPO / "web" / "flow.js"
TOKEN = "0x1111111111111111111111111111111111111111"
OTHER = "0x2222222222222222222222222222222222222222"
ACCOUNTS = ["0x" + c * 40 for c in "abcd"]
E18 = 10 ** 18

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("node") is None, reason="node not found: flow.js runs on Node.js"),
]


def _meta(sender: str, index: int, block: int) -> dict:
    return {"chain_id": 31337, "app_contract": "0x" + "ab" * 20, "msg_sender": sender,
            "block_number": block, "block_timestamp": 1_700_000_000 + 12 * block,
            "prev_randao": "0x" + "00" * 32, "input_index": index}


class Run:
    def __init__(self, tmp_path: Path) -> None:
        self.router = Router(StreamableToken(str(tmp_path / "flow.sqlite")))
        self.index = 0
        self.notices: list[dict] = []

    def advance(self, sender: str, block: int, payload: bytes) -> str:
        out: list[Output] = []
        status = self.router.advance(_meta(sender, self.index, block), "0x" + payload.hex(), out.append)
        self.index += 1
        if status == "accept":
            self.notices += [json.loads(bytes.fromhex(o.body["payload"][2:])) for o in out if o.kind == "notice"]
        return status

    def op(self, sender: str, block: int, **fields) -> str:
        return self.advance(sender, block, json.dumps(fields).encode())

    def inspect(self, route: str) -> dict:
        status, (out,) = self.router.inspect("0x" + route.encode().hex())
        assert status == "accept", route
        return json.loads(bytes.fromhex(out.body["payload"][2:]))


def _mixed_run(tmp_path: Path, seed: int) -> tuple[Run, dict, int]:
    """Returns the run, the balances the engine gave right after each block, the last block."""
    rng = random.Random(seed)
    run = Run(tmp_path)
    seen: dict[tuple[str, str, int], dict] = {}
    block = 1
    for account in ACCOUNTS[:3]:
        for token in (TOKEN, OTHER):
            run.advance(PORTALS["v2"], block, encode_deposit(token, account, rng.randrange(50, 500) * E18 + rng.randrange(E18)))
    stream_ids: list[int] = []
    for _ in range(60):
        block += rng.randrange(0, 4)
        who = rng.choice(ACCOUNTS[:3])
        other = rng.choice([a for a in ACCOUNTS if a != who])
        token = rng.choice((TOKEN, TOKEN, OTHER))
        kind = rng.choice(["open", "open", "open", "update", "cancel", "transfer", "withdraw"])
        amount = str(rng.randrange(1, 40) * E18 + rng.randrange(E18))
        if kind == "open":
            fields = {"op": "open_stream", "token": token, "receiver": other, "amount": amount,
                      "duration": rng.randrange(1, 40)}
            if rng.random() < 0.3:
                fields["start_block"] = block + rng.randrange(0, 10)
            run.op(who, block, **fields)
            stream_ids = [n["id"] for n in run.notices if n["event"] == "stream_opened"]
        elif kind == "update" and stream_ids:
            sid = rng.choice(stream_ids)
            stream = run.inspect(f"stream/{sid}/{block}")
            fields = {"op": "update_stream", "stream_id": sid}
            if rng.random() < 0.6:
                fields["amount"] = str(int(stream["amount"]) + rng.randrange(-E18, 5 * E18))
            if rng.random() < 0.6 or len(fields) == 2:
                fields["end_block"] = max(block, stream["start_block"]) + rng.randrange(1, 30)
            run.op(stream["sender"], block, **fields)
        elif kind == "cancel" and stream_ids:
            sid = rng.choice(stream_ids)
            stream = run.inspect(f"stream/{sid}/{block}")
            run.op(rng.choice([stream["sender"], stream["receiver"]]), block, op="cancel_stream", stream_id=sid)
        elif kind == "transfer":
            run.op(who, block, op="transfer", token=token, receiver=other, amount=amount)
        elif kind == "withdraw":
            run.op(who, block, op="withdraw", token=token, amount=amount)
        for account in ACCOUNTS:
            for tok in (TOKEN, OTHER):
                seen[(account, tok, block)] = run.inspect(f"balance/{tok}/{account}/{block}")
    return run, seen, block


def _node(script: str, data: dict) -> dict:
    done = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(data),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


_PROJECT = """
import { readFileSync } from "node:fs";
const flow = await import(%s);
const data = JSON.parse(readFileSync(0, "utf8"));
const out = {};
for (const [key, c] of Object.entries(data.cases)) {
  const snap = { block: c.snapshot.block, balance: BigInt(c.snapshot.balance),
                 available: BigInt(c.snapshot.available), committed: BigInt(c.snapshot.committed) };
  const streams = c.streams.map(flow.parseStream);
  const history = flow.historyOf(data.notices, c.account, c.token);
  out[key] = {
    projected: c.blocks.map((b) => {
      const a = flow.accountAt(snap, streams, c.account, b);
      return [a.balance.toString(), a.available.toString(), a.committed.toString()];
    }),
    history: c.past.map((b) => flow.balanceFromHistory(history, b).toString()),
    status: streams.map((s) => c.blocks.map((b) => [flow.statusAt(s, b), flow.streamedAt(s, b).toString()])),
  };
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flow_js_agrees_with_the_engine_to_the_wei(tmp_path, seed):
    run, seen, last = _mixed_run(tmp_path, seed)
    kinds = {n["event"] for n in run.notices}
    assert {"deposit", "transfer", "stream_opened", "stream_updated", "stream_canceled", "withdrawal"} <= kinds
    blocks = list(range(last, last + 45))
    cases = {}
    for account in ACCOUNTS:
        for token in (TOKEN, OTHER):
            snapshot = run.inspect(f"balance/{token}/{account}/{last}")
            page = run.inspect(f"streams/{account}/{last}?role=all&limit=1000")
            streams = [s for s in page["streams"] if s["token"].lower() == token.lower()]
            past = sorted(b for (a, t, b) in seen if a == account and t == token)
            cases[f"{account}/{token}"] = {"account": account, "token": token, "snapshot": snapshot,
                                           "streams": streams, "blocks": blocks, "past": past}
    got = _node(_PROJECT % json.dumps(FLOW.as_uri()), {"notices": run.notices, "cases": cases})
    moved = 0
    for key, case in cases.items():
        account, token = case["account"], case["token"]
        for b, figures in zip(blocks, got[key]["projected"]):
            answer = run.inspect(f"balance/{token}/{account}/{b}")
            assert figures == [answer["balance"], answer["available"], answer["committed"]], (key, b)
        for b, balance in zip(case["past"], got[key]["history"]):
            assert balance == seen[(account, token, b)]["balance"], (key, b)
        for stream, rows in zip(case["streams"], got[key]["status"]):
            for b, (status, streamed) in zip(blocks, rows):
                answer = run.inspect(f"stream/{stream['id']}/{b}")
                assert [status, streamed] == [answer["status"], answer["streamed"]], (stream["id"], b)
        moved += len({f[0] for f in got[key]["projected"]}) > 1
    assert moved, "no balance moved after the snapshot: the vectors test nothing"


def test_flow_js_unit_tests():
    done = subprocess.run(["node", "--test", str(REPO / "web" / "test")], capture_output=True, text=True,
                          timeout=120, check=False, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout, done.stdout
