"""The L1 command lines as a user runs them: ``node l1/client.mjs`` (help per command, an
L1 ERC-20 balance) and ``python -m l1.bridge`` started before the host (it waits).

Real pieces: anvil with the deployed contracts, the rollup host, the commands as
subprocesses.
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l1.testing import ensure_node_deps

pytestmark = pytest.mark.l1


REPO = Path(__file__).resolve().parent.parent
CLIENT = REPO / "l1" / "client.mjs"
COMMANDS = ("wait", "inspect", "execute", "output", "approve", "mint", "balance", "block")


def node_client(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found: l1/client.mjs needs Node.js")
    return subprocess.run([node, str(CLIENT), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """anvil with the contracts deployed, and the deployment file."""
    ensure_node_deps()
    from l1.anvil import Anvil
    from l1.deploy import deploy_all, write_deployment

    tmp = tmp_path_factory.mktemp("l1cli")
    with Anvil() as anvil:
        dep = deploy_all(anvil.rpc, epoch_length=4)
        path = tmp / "deployment.json"
        write_deployment(dep, path)
        yield anvil, dep, path


# ------------------------------------------------------------------ client.mjs


def test_client_help_lists_every_command_and_each_command_has_its_own():
    ensure_node_deps()
    for args in (["--help"], ["help"], []):
        top = node_client(*args)
        assert top.returncode == 0 and top.stderr == "", (args, top.stderr)
        assert top.stdout.startswith("usage: node l1/client.mjs COMMAND")
        for command in COMMANDS:
            assert f"\n  {command}" in top.stdout, (command, top.stdout)
        for option in ("--rpc", "--node", "--app", "--account", "--timeout"):
            assert option in top.stdout
    for command in COMMANDS:
        one = node_client(command, "--help")
        assert one.returncode == 0 and one.stderr == "", (command, one.stderr)
        assert one.stdout.startswith(f"usage: node l1/client.mjs {command}"), one.stdout
    balance = node_client("balance", "--help").stdout
    assert "--token T" in balance and "--account A" in balance
    unknown = node_client("nope")
    assert unknown.returncode == 1 and "unknown command nope" in unknown.stderr and "balance" in unknown.stderr


def test_client_balance_reads_an_l1_erc20_balance(chain):
    anvil, dep, _ = chain
    from l1.contracts import at

    bob = anvil.rpc.accounts()[2]
    token = at(anvil.rpc, "TestToken", dep["token"])
    before = token.call("balanceOf", bob)
    token.transact("mint", bob, 1_500_000_000_000_000_001, sender=bob)
    out = node_client("balance", "--rpc", anvil.url, "--token", dep["token"], "--account", bob)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    total = before + 1_500_000_000_000_000_001
    assert answer["balance"] == str(total) and answer["decimals"] == 18
    assert answer["account"].lower() == bob.lower() and answer["symbol"] == "TST"
    whole, fraction = divmod(total, 10**18)
    assert answer["formatted"] == f"{whole}.{str(fraction).rjust(18, '0').rstrip('0')}"
    # An index in the test mnemonic reads that account (index 2 is anvil's third account).
    by_index = json.loads(node_client("balance", "--rpc", anvil.url, "--token", dep["token"],
                                      "--account", "2").stdout)
    assert by_index["balance"] == str(total)
    missing = node_client("balance", "--rpc", anvil.url)
    assert missing.returncode == 1 and "--token is required" in missing.stderr


# ---------------------------------------------------------------------- bridge


def test_bridge_started_before_the_host_waits_for_it(chain):
    anvil, dep, path = chain
    from rollup_host import start_in_thread

    port = free_port()
    host_url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "l1.bridge", "--deployment", str(path), "--host", host_url,
                             "--rpc", anvil.url, "--wait", "60", "--no-claim"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        first = proc.stdout.readline()
        assert first.startswith(f"waiting for the rollup host at {host_url}"), (first, proc.stderr)
        time.sleep(1.0)
        assert proc.poll() is None  # still waiting, not gone
        server, _ = start_in_thread(port=port, rollups="v2", app=dep["application"], chain_id=dep["chain_id"],
                                    portal=dep["erc20_portal"], input_box=dep["input_box"], epoch_length=4)
        second = proc.stdout.readline()
        assert second.startswith(f"bridge: feeding {host_url}"), second
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        if server is not None:
            server.stop()


def test_bridge_gives_up_after_its_wait_with_one_line(chain):
    anvil, _, path = chain
    host_url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "l1.bridge", "--deployment", str(path), "--host", host_url,
                           "--rpc", anvil.url, "--wait", "1"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and 1 <= time.monotonic() - started < 30
    assert proc.stderr == f"error: no answer from the rollup host at {host_url} (`python -m rollup_host up " \
                          "--deployment l1/deployment.json`) after 1 s (--wait)\n", proc.stderr


# ------------------------------------------------- --decimals auto (the token's own)

ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20


def host_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rollup_host", "--url", url, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_decimals_auto_reads_each_tokens_decimals_from_l1(chain, node):
    anvil, dep, _ = chain
    token, rpc = dep["token"], ["--rpc", anvil.url]
    done = host_cli(node.url, "deposit", "--token", token, "--from", ALICE, "--amount", "2.5",
                    "--decimals", "auto", *rpc)
    assert done.returncode == 0, done.stderr
    op = {"op": "transfer", "token": token, "receiver": BOB, "amount": "0.75"}
    done = host_cli(node.url, "send", "--from", ALICE, "--decimals", "auto", *rpc, json.dumps(op))
    assert done.returncode == 0 and "accepted" in done.stdout, done.stderr
    shown = host_cli(node.url, "inspect", "--decimals", "auto", *rpc, f"balance/{token}/{BOB}")
    assert '"balance": "750000000000000000",  # 0.75' in shown.stdout, shown.stdout + shown.stderr
    listed = host_cli(node.url, "inspect", "--decimals", "auto", *rpc, "tokens")
    assert '"deposited": "2500000000000000000",  # 2.5' in listed.stdout, listed.stdout + listed.stderr

    # No decimals() at that address, or no token in the op: refused in one line, nothing sent.
    no_code = "0x" + "12" * 20
    refused = host_cli(node.url, "send", "--from", ALICE, "--decimals", "auto", *rpc,
                       json.dumps({**op, "token": no_code}))
    assert refused.returncode == 2 and f"{no_code} answers no decimals()" in refused.stderr, refused.stderr
    refused = host_cli(node.url, "send", "--from", BOB, "--decimals", "auto", *rpc,
                       '{"op":"update_stream","stream_id":1,"amount":"1.5"}')
    assert refused.returncode == 2 and "names no token" in refused.stderr and "--decimals D" in refused.stderr
    unreachable = host_cli(node.url, "deposit", "--token", token, "--from", ALICE, "--amount", "1",
                           "--decimals", "auto", "--rpc", "http://127.0.0.1:1")
    assert unreachable.returncode == 2 and unreachable.stderr.count("\n") == 1
    assert "cannot read decimals()" in unreachable.stderr
    assert len(node.client.outputs()) == 2
