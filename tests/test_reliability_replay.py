"""Determinism, replay and load, over one recorded log of 10,000 mixed inputs.

The log (fuzz.harness.mixed_log: 600 deposits, then streams opened, cancelled and updated,
transfers, withdrawals, deposits carrying commands, batches and ~10 % hostile inputs, plus
18 inspects) is written to a JSONL file and replayed from it:

* twice through the router on fresh databases (one file, one in memory): identical state
  hashes, identical ``iterdump``, identical notices, reports and vouchers, byte for byte;
* once through the real HTTP loop (local host + dapp.py), with the process SIGKILLed and
  restarted halfway: the host's outputs and the database equal the direct replay's.

That HTTP run is also the load test: 10,000 inputs with over 1,000 streams open at the
end, then conservation and solvency over every account and token, against what the
portal took in and what the vouchers paid out.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time

import pytest

from streamable_token.store import state_hash
from fuzz.harness import PORTAL, Node, all_streams, check_invariants, decode_output, log_digest, metadata, mixed_log
from fuzz.rig import DappProcess, drained, host_record, output_indices_are_dense, record_of, wait_until
from streamable_token.rollup.codec import decode_deposit
from streamable_token.rollup.router import Output
from rollup_host import HostClient, start_in_thread
from streamable_token import StreamableToken
from streamable_token.addresses import checksum

pytestmark = pytest.mark.integration


INPUTS = 10_000
LOG_SHA256 = "100801a4949694a5abd9e8ddf877cb4354f70e0bbd3a442c645d3522163374a0"
FIGURES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    print(f"\nreplay/load figures: {json.dumps(FIGURES, sort_keys=True)}")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> list[dict]:
    """The log, recorded to a file and read back: replays read only the file."""
    log = mixed_log(n=INPUTS)
    assert log_digest(log) == LOG_SHA256, "the seeded log changed: every machine must replay the same inputs"
    path = tmp_path_factory.mktemp("log") / "inputs.jsonl"
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in log))
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert sum(e["kind"] == "advance" for e in entries) == INPUTS
    return entries


def replay(entries: list[dict], db: str) -> tuple[Node, list]:
    """Every entry through the router; returns the node and, per entry, (status, outputs)."""
    node = Node(db)
    out = []
    for e in entries:
        payload = bytes.fromhex(e["payload"][2:])
        if e["kind"] == "inspect":
            r = node.inspect(payload)
        else:
            r = node.advance(e["sender"], payload, e["block"])
        out.append((e["kind"], r.status, r.outputs))
    return node, out


def serialized(results: list) -> bytes:
    return json.dumps([[k, s, [[o.kind, o.body] for o in outs]] for k, s, outs in results],
                      sort_keys=True, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def direct(recorded, tmp_path_factory):
    started = time.perf_counter()
    node, results = replay(recorded, str(tmp_path_factory.mktemp("a") / "a.sqlite"))
    FIGURES["direct_replay_s"] = round(time.perf_counter() - started, 1)
    return node, results


def test_two_fresh_databases_agree_byte_for_byte(recorded, direct):
    a, results_a = direct
    b, results_b = replay(recorded, ":memory:")
    out_a, out_b = serialized(results_a), serialized(results_b)
    assert out_a == out_b
    assert a.state_hash() == b.state_hash()
    assert a.dump() == b.dump()
    statuses = [s for k, s, _ in results_a if k == "advance"]
    FIGURES.update(replayed=len(recorded), accepted=statuses.count("accept"), rejected=statuses.count("reject"),
                   outputs_sha256=hashlib.sha256(out_a).hexdigest()[:16], state_hash=a.state_hash()[:18])
    assert statuses.count("reject") > 500 and statuses.count("accept") > 7000
    kinds = {o.kind for _, _, outs in results_a for o in outs}
    assert kinds == {"notice", "report", "voucher"}


@pytest.fixture(scope="module")
def http_run(recorded, tmp_path_factory):
    """The log through the local host and dapp.py, killed and restarted at the halfway mark."""
    tmp = tmp_path_factory.mktemp("http")
    db = str(tmp / "dapp.sqlite")
    server, url = start_in_thread(finish_timeout=0.5)
    host = server.host
    dapp = DappProcess(db, url, str(tmp / "dapp.log"))
    inspects = []
    try:
        for e in recorded:
            payload = bytes.fromhex(e["payload"][2:])
            if e["kind"] == "inspect":
                inspects.append(host.enqueue_inspect(payload))
            else:
                host.enqueue_advance(payload, sender=e["sender"], block=e["block"])
        started = time.perf_counter()
        dapp.start()
        wait_until(lambda: host.status()["processed_input_count"] >= INPUTS // 2, 300, "half of the inputs", poll=0.01)
        dapp.kill()
        killed_at = host.status()["processed_input_count"]
        dapp.start()
        wait_until(lambda: host.status()["processed_input_count"] == INPUTS and drained(host), 300,
                   "every input", poll=0.05)
        elapsed = time.perf_counter() - started
        state = HostClient(url).inspect("state-hash")
    finally:
        dapp.stop()
        server.stop()
    FIGURES.update(http_inputs=INPUTS, http_s=round(elapsed, 1), http_inputs_per_s=round(INPUTS / elapsed),
                   killed_after=killed_at)
    return {"finished": host.outputs(), "inspects": inspects, "db": db, "log": dapp.log(), "state": state}


def test_http_loop_with_restart_halfway_matches_the_direct_replay(recorded, direct, http_run):
    node, results = direct
    finished = http_run["finished"]
    advances = [e for e in recorded if e["kind"] == "advance"]
    assert len(finished) == len(advances) == INPUTS
    for i, (e, f) in enumerate(zip(advances, finished)):  # the host delivered exactly the recorded inputs
        assert f["metadata"] == metadata(e["sender"], i, e["block"]) and f["payload"] == e["payload"], i
    expected = [record_of(outs, s) for k, s, outs in results if k == "advance"]
    got = [host_record(f) for f in finished]
    mismatched = [i for i, (g, x) in enumerate(zip(got, expected)) if g != x]
    assert not mismatched, f"{len(mismatched)} inputs differ, first {mismatched[0]}: {got[mismatched[0]]} != {expected[mismatched[0]]}"
    assert output_indices_are_dense(finished)
    answers = [(s, outs) for k, s, outs in results if k == "inspect"]
    assert len(answers) == len(http_run["inspects"]) == 18
    for request, (status, outs) in zip(http_run["inspects"], answers):
        assert request.status == {"accept": "accepted", "reject": "rejected"}[status]
        assert [r["payload"] for r in request.reports] == [o.body["payload"] for o in outs]
    conn = sqlite3.connect(f"file:{http_run['db']}?mode=ro", uri=True)
    try:
        assert state_hash(conn) == node.state_hash()
    finally:
        conn.close()
    answer = json.loads(bytes.fromhex(http_run["state"]["reports"][0]["payload"][2:]))
    assert answer["state_hash"] == node.state_hash()
    assert "streamable token DApp" in http_run["log"] and http_run["log"].count("streamable token DApp") == 2


def test_load_conservation_and_solvency_over_every_account_and_token(http_run):
    """Σ balances = what the portal took in − what the vouchers paid out, per token; no
    negatives; each account's committed funds = what its open streams still owe; and at
    a block past every stream's end all of it has been paid (committed = 0)."""
    finished = http_run["finished"]
    supply: dict[str, int] = {}
    for f in finished:
        if f["status"] != "accepted":
            continue
        if f["metadata"]["msg_sender"] == checksum(bytes.fromhex(PORTAL[2:])):
            dep = decode_deposit(bytes.fromhex(f["payload"][2:]), "v2")
            supply[checksum(dep.token)] = supply.get(checksum(dep.token), 0) + dep.amount
        for v in f["vouchers"]:
            _, (token, _, amount) = decode_output(Output("voucher", {k: v[k] for k in ("destination", "value", "payload")}))
            supply[token] -= amount
    engine = StreamableToken(http_run["db"])
    try:
        last_block = finished[-1]["metadata"]["block_number"]
        counts = check_invariants(engine, last_block, supply)
        assert counts["open_streams"] >= 1000, counts
        assert counts["tokens"] == 3 and counts["ledgers"] >= 600
        end = max(s.end_block for t in engine.tokens() for a in engine.accounts_of(t) for s in all_streams(engine, a))
        later = check_invariants(engine, end + 1, supply)
        assert later["open_streams"] == 0
    finally:
        engine.close()
    FIGURES.update(load_tokens=counts["tokens"], load_ledgers=counts["ledgers"], load_streams=counts["streams"],
                   load_open_streams=counts["open_streams"], vouchers=sum(len(f["vouchers"]) for f in finished))
