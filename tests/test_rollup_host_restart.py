"""`make run` survives its own restart: the local host keeps its chain beside the DApp's
database, goes on from it, and refuses to start on a database that does not match.

* In process: a host restarted on its chain file has the same inputs, outputs, output
  indices and block; an input queued or in flight when it stopped is queued again; a
  torn last line is ignored; a chain made under another configuration is refused.
* Through `python -m rollup_host up` with the real dapp.py: the README round trip, a
  stop, a start and the round trip again; then a database without its chain (and the
  chain without its database) is refused in one line that names the fix.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from rollup_host import HostClient, start_in_thread
from rollup_host.chain_file import ChainMismatch
from tests.test_rollup_host import ALICE, BOB, TOKEN, FakeDApp, echo

pytestmark = pytest.mark.integration


REPO_ROOT = Path(__file__).resolve().parent.parent
ONE_TOKEN = 10**18


def host_on(chain: Path, **options):
    server, url = start_in_thread(chain_file=str(chain), finish_timeout=0.2, wait_timeout=30, **options)
    return server, url, HostClient(url, timeout=40)


def test_restarted_host_goes_on_from_its_chain_file(tmp_path):
    chain = tmp_path / "dapp.sqlite.chain.jsonl"
    server, url, client = host_on(chain)
    dapp = FakeDApp(url, lambda d, r: echo(d, r) if r["data"]["payload"] != "0xbad0" else "reject").start()
    try:
        client.advance(ALICE, "0x01")
        client.advance(BOB, "0xbad0")
        client.mine(9)
        client.advance(ALICE, "0x02")
        dapp.stop()  # its long-poll ends within finish_timeout, then it asks for nothing more
        queued = client.advance(BOB, "0x03", wait=False)  # nobody takes it before the stop
        before = client.outputs()
        before_status = client.status()
    finally:
        server.stop()
    assert queued["input_index"] == 3 and [e["status"] for e in before] == ["accepted", "rejected", "accepted"]

    server, url, client = host_on(chain)
    try:
        assert client.outputs() == before  # inputs, metadata, outputs and their indices
        status = client.status()
        assert (status["block_number"], status["processed_input_count"], status["queued"]) == (10, 3, 1)
        assert status["output_count"] == before_status["output_count"] == 2
        FakeDApp(url, echo).start()
        client.mine(5)
        later = client.advance(ALICE, "0x04")
        assert (later["input_index"], later["block_number"]) == (4, 15)
        assert later["notices"] == [{"index": 3, "payload": "0x04"}]  # the v2 index goes on
        requeued = client.outputs()[3]
        assert (requeued["input_index"], requeued["payload"], requeued["notices"]) == (3, "0x03", [
            {"index": 2, "payload": "0x03"}])
    finally:
        server.stop()


def test_an_input_in_flight_at_the_stop_is_delivered_again(tmp_path):
    chain = tmp_path / "c.jsonl"
    server, url, client = host_on(chain)
    try:
        client.advance(ALICE, "0x0a", wait=False)
        taken = requests.post(url + "/finish", json={"status": "accept"}).json()  # a DApp takes it...
        requests.post(url + "/notice", json={"payload": "0xff"})  # ...posts an output and dies
        assert taken["data"]["metadata"]["input_index"] == 0
    finally:
        server.stop()
    server, url, client = host_on(chain)
    try:
        assert client.status()["queued"] == 1 and client.outputs() == []
        again = requests.post(url + "/finish", json={"status": "accept"}, headers={"X-Rollup-Restart": "1"}).json()
        assert again == taken
    finally:
        server.stop()


def test_a_torn_last_line_is_ignored_and_cut_off(tmp_path):
    chain = tmp_path / "c.jsonl"
    server, url, client = host_on(chain)
    try:
        client.mine(3)
        client.advance(ALICE, "0x01", wait=False)
    finally:
        server.stop()
    with open(chain, "a") as fh:
        fh.write('{"block": 9')  # a crash mid-write
    server, url, client = host_on(chain)
    try:
        assert client.status()["block_number"] == 4 and client.status()["queued"] == 1
        client.mine(1)
    finally:
        server.stop()
    lines = chain.read_text().splitlines()
    assert [json.loads(line) for line in lines[-2:]][-1] == {"block": 5}  # on a line of its own


def test_a_chain_made_under_another_configuration_is_refused(tmp_path):
    chain = tmp_path / "c.jsonl"
    server, _, _ = host_on(chain)
    server.stop()
    with pytest.raises(ChainMismatch, match=r"made with portal 0x.*, rollups v2 \(now v1\); start over with `make reset`"):
        host_on(chain, rollups="v1")


# --- python -m rollup_host up, with the real dapp.py --------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_up(db: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rollup_host", "up", "--port", str(port), "--db", str(db)],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_host(client: HostClient, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.block()
            return
        except requests.ConnectionError:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)


def stop_up(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    return out


def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rollup_host", "--url", url, *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def round_trip(url: str) -> list[str]:
    """The README's round trip as typed; returns Bob's balances read at block +40 and +999."""
    stream = {"op": "open_stream", "token": TOKEN, "receiver": BOB, "amount": str(10 * ONE_TOKEN), "duration": 100}
    withdraw = {"op": "withdraw", "token": TOKEN, "amount": str(4 * ONE_TOKEN)}
    assert cli(url, "deposit", "--token", TOKEN, "--from", ALICE, "--amount", "100", "--decimals", "18").returncode == 0
    opened = cli(url, "send", "--from", ALICE, json.dumps(stream))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    start = int(opened.stdout.split("(block ")[1].split(",")[0])
    assert cli(url, "mine", "40").returncode == 0
    balances = []
    for block in (start + 40, start + 999):
        read = cli(url, "--json", "inspect", f"balance/{TOKEN}/{BOB}/{block}")
        report = json.loads(bytes.fromhex(json.loads(read.stdout)["reports"][0]["payload"][2:]))
        balances.append(report["balance"])
    sent = cli(url, "send", "--from", BOB, json.dumps(withdraw))
    assert sent.returncode == 0 and f"transfer({BOB.lower()}" in sent.stdout.lower(), sent.stdout + sent.stderr
    return balances


def test_make_run_survives_its_own_restart_and_refuses_a_mismatch(tmp_path):
    db, port = tmp_path / "dapp.sqlite", free_port()
    url = f"http://127.0.0.1:{port}"
    client = HostClient(url, timeout=60)
    proc = start_up(db, port)
    try:
        wait_for_host(client, proc)
        first = round_trip(url)
        assert first == [str(4 * ONE_TOKEN), str(10 * ONE_TOKEN)]
        blocks = client.block()
    finally:
        stop_up(proc) if proc.poll() is None else None
    proc = start_up(db, port)
    try:
        wait_for_host(client, proc)
        assert client.block() == blocks and len(client.outputs()) == 3
        # the chain went on at block 41: at 81 the first stream has paid 8 (4 withdrawn) and the
        # second 4; by 1040 both have paid all 10
        assert round_trip(url) == [str(8 * ONE_TOKEN), str(16 * ONE_TOKEN)]
        assert len(client.outputs()) == 6
    finally:
        out = stop_up(proc)
    assert "resuming the chain kept in" in out and "3 inputs processed" in out

    chain = Path(f"{db}.chain.jsonl")
    for missing in (chain, db):
        hidden = tmp_path / "hidden"
        os.rename(missing, hidden)
        refused = subprocess.run([sys.executable, "-m", "rollup_host", "up", "--port", str(port), "--db", str(db)],
                                 cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
        os.rename(hidden, missing)
        assert refused.returncode == 2, refused.stderr
        [line] = refused.stderr.splitlines()
        assert line.startswith("error: ") and "start over with `make reset`" in line, line
