"""The DApp on the Cartesi machine's architecture: riscv64 Linux, Python 3.13.

``make riscv-test`` builds an emulated riscv64 Python 3.13 (Debian trixie under
qemu-user, riscv/setup.sh) and runs this file natively with ``RISCV_PYTHON`` set to it:
the host, the client and the reference run stay native, ``dapp.py`` runs emulated, as a
Cartesi node's host side talks to the machine. Without ``RISCV_PYTHON`` it skips.

* the interpreter is riscv64 Python 3.13 and the machine image's modules import;
* the README's round trip gives the README's answers with the DApp emulated;
* one recorded input log (10,000 mixed inputs and the malformed-input corpus) through the
  HTTP loop, ``dapp.py`` native and emulated: the same status, notices, vouchers and
  reports for every input, the same inspect answers, the same state hash.

Waits are bounded by counts of processed inputs, with limits sized for emulation on a
loaded 2-core machine (10-15x slower than native), never by sleeping and hoping.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from streamable_token.store import state_hash
from fuzz.harness import log_digest, metadata, mixed_log
from fuzz.rig import drained, host_record, output_indices_are_dense, wait_until
from rollup_host import HostClient, start_in_thread
from rollup_host.child import stop

ROOT = Path(__file__).resolve().parent.parent
RISCV_PYTHON = os.environ.get("RISCV_PYTHON")
pytestmark = [
    pytest.mark.riscv,
    pytest.mark.skipif(not RISCV_PYTHON, reason="RISCV_PYTHON unset: `make riscv-test` builds the "
                                                "emulated riscv64 Python 3.13 and runs these"),
]
LOG_INPUTS = 10_000
LOG_SHA256 = "100801a4949694a5abd9e8ddf877cb4354f70e0bbd3a442c645d3522163374a0"  # as tests/test_reliability_replay.py
CORPUS = ROOT / "tests" / "corpus"
WAIT = 900  # seconds, a bound, not an expectation: the emulated loop takes under a minute here

T = "0x1111111111111111111111111111111111111111"
ALICE = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
BOB = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"


def emulated(code: str) -> str:
    out = subprocess.run([RISCV_PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def start_dapp(python: str, url: str, db: Path) -> subprocess.Popen:
    log = open(str(db) + ".log", "ab")
    return subprocess.Popen([python, str(ROOT / "dapp.py"), "--db", str(db)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "ROLLUP_HTTP_SERVER_URL": url})


def test_the_interpreter_is_the_cartesi_machines():
    facts = json.loads(emulated("import json, platform, sqlite3, sys; print(json.dumps("
                                "[platform.machine(), list(sys.version_info[:2]), sqlite3.sqlite_version]))"))
    print(f"\nemulated: machine {facts[0]}, Python {facts[1][0]}.{facts[1][1]}, SQLite {facts[2]}")
    assert facts[0] == "riscv64" and facts[1] == [3, 13]


def test_the_machine_image_modules_import_and_compute():
    """What the Dockerfile's machine stage copies (dapp.py, db, streamable_token) and
    its requirements, pycryptodome's C (built for riscv64 here) included: an EIP-55
    checksum runs keccak through it."""
    out = emulated("import dapp, db.checkpoint, streamable_token.rollup.router, streamable_token.rollup.inspect\n"
                   "import eth_abi, eth_utils, requests\n"
                   "from Crypto.Hash import keccak\n"
                   "from streamable_token.addresses import checksum\n"
                   "print(keccak.__file__.endswith('.py'), checksum(bytes.fromhex('5aaeb6053f3e94c9b9a09f33669435e7ef1beaed')))")
    assert out.split() == ["True", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]


def cli(url: str, *args: str) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-m", "rollup_host", "--url", url, *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=WAIT)
    return out.returncode, out.stdout


def test_readme_round_trip_with_the_dapp_emulated(tmp_path):
    """The README's commands, typed against the local host (native) with dapp.py emulated."""
    server, url = start_in_thread(port=0, wait_timeout=float(WAIT))
    dapp = start_dapp(RISCV_PYTHON, url, tmp_path / "dapp.sqlite")
    try:
        # ready once it has answered one request: the CLI's own wait (60 s) is then ample
        assert server.host.wait(server.host.enqueue_inspect(b"state-hash"), timeout=WAIT)
        code, out = cli(url, "deposit", "--token", T, "--from", ALICE, "--amount", "100000000000000000000")
        assert code == 0 and "input #0 accepted" in out, out
        code, out = cli(url, "send", "--from", ALICE, '{"op":"open_stream","token":"' + T + '","receiver":"' + BOB
                        + '","amount":"10000000000000000000","duration":100}')
        assert code == 0 and '"rate": "100000000000000000"' in out and '"end_block": 101' in out, out
        assert cli(url, "mine", "40") == (0, "41\n")
        code, out = cli(url, "inspect", f"balance/{T}/{BOB}/41")
        assert code == 0 and json.loads(out[out.index("{"):])["balance"] == "4000000000000000000", out
        code, out = cli(url, "inspect", f"balance/{T}/{BOB}/1000")
        assert code == 0 and json.loads(out[out.index("{"):])["balance"] == "10000000000000000000", out
        code, out = cli(url, "send", "--from", BOB, '{"op":"withdraw","token":"' + T + '","amount":"4000000000000000000"}')
        assert code == 0 and f"transfer({BOB}, 4000000000000000000)" in out, out
        code, out = cli(url, "send", "--from", BOB, '{"op":"withdraw","token":"' + T + '","amount":"1"}')
        assert code == 1 and "InsufficientFunds" in out, out  # nothing left: refused, exit 1
        code, out = cli(url, "outputs")
        assert code == 0 and out.count("accepted") == 3 and out.count("rejected") == 1, out
    finally:
        stop(dapp)
        server.stop()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> list[dict]:
    """The seeded mixed log of tests/test_reliability_replay.py (deposits, streams opened,
    cancelled and updated, transfers, withdrawals, batches, ~10 % hostile inputs, inspects),
    then every malformed advance and inspect of tests/corpus (where versions differed:
    deep nesting, the json module's messages), written to a file and read back."""
    log = mixed_log(n=LOG_INPUTS)
    assert log_digest(log) == LOG_SHA256, "the seeded log changed"
    block = max(e["block"] for e in log if e["kind"] == "advance")
    for case in sorted((CORPUS / "advance").iterdir()):
        log.append({"kind": "advance", "sender": ALICE, "block": block, "payload": "0x" + case.read_bytes().hex()})
    for case in sorted((CORPUS / "inspect").iterdir()):
        log.append({"kind": "inspect", "payload": "0x" + case.read_bytes().hex()})
    path = tmp_path_factory.mktemp("log") / "inputs.jsonl"
    path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in log))
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_log(python: str, entries: list[dict], db: Path) -> dict:
    """Every entry queued in a fresh local host, then drained by ``python dapp.py``."""
    server, url = start_in_thread(port=0, finish_timeout=0.5)
    host = server.host
    inspects = []
    for e in entries:
        payload = bytes.fromhex(e["payload"][2:])
        if e["kind"] == "inspect":
            inspects.append(host.enqueue_inspect(payload))
        else:
            host.enqueue_advance(payload, sender=e["sender"], block=e["block"])
    advances = sum(e["kind"] == "advance" for e in entries)
    dapp = start_dapp(python, url, db)
    try:
        wait_until(lambda: host.status()["processed_input_count"] == advances and drained(host), WAIT,
                   f"{advances} inputs through {python}", poll=0.05)
        answer = HostClient(url).inspect("state-hash")
    finally:
        stop(dapp)
        server.stop()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        hashed = state_hash(conn)
    finally:
        conn.close()
    return {"finished": host.outputs(), "inspects": [(r.status, [x["payload"] for x in r.reports]) for r in inspects],
            "state_hash": hashed, "answer": answer["reports"][0]["payload"]}


def test_a_recorded_log_gives_the_same_outputs_and_state_native_and_emulated(recorded, tmp_path):
    native = run_log(sys.executable, recorded, tmp_path / "native.sqlite")
    riscv = run_log(RISCV_PYTHON, recorded, tmp_path / "riscv64.sqlite")
    advances = [e for e in recorded if e["kind"] == "advance"]
    for run in (native, riscv):
        assert len(run["finished"]) == len(advances)
        for i, (e, f) in enumerate(zip(advances, run["finished"])):
            assert f["metadata"] == metadata(e["sender"], i, e["block"]) and f["payload"] == e["payload"], i
        assert output_indices_are_dense(run["finished"])
    got, want = [host_record(f) for f in riscv["finished"]], [host_record(f) for f in native["finished"]]
    differ = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not differ, f"{len(differ)} inputs differ, first #{differ[0]}: riscv64 {got[differ[0]]} != native {want[differ[0]]}"
    assert riscv["inspects"] == native["inspects"]
    assert riscv["state_hash"] == native["state_hash"]
    assert riscv["answer"] == native["answer"]
    statuses = [r["status"] for r in want]
    kinds = {k for r in want for k in ("notices", "vouchers", "reports") if r[k]}
    assert kinds == {"notices", "vouchers", "reports"} and statuses.count("rejected") > 2_000
    print(f"\n{len(advances)} inputs ({statuses.count('accepted')} accepted, {statuses.count('rejected')} rejected, "
          f"{sum(len(r['vouchers']) for r in want)} vouchers) and {len(riscv['inspects'])} inspects: riscv64 == native, "
          f"state hash {native['state_hash'][:18]}")
