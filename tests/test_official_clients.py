"""End to end with the official Cartesi clients only on the user's side.

anvil with the Rollups v2 contracts at the addresses the pinned ``@cartesi/cli``
(2.0.0-alpha.2) has built in; the local rollup host; ``dapp.py``; ``l1.bridge`` playing
the node (InputBox -> host, claims). The user: ``cartesi send erc20`` (after an ERC-20
``approve`` with viem), ``cartesi send generic`` to open a stream and withdraw, and
``l1/client.mjs`` (``@cartesi/viem`` 2.0.0-alpha.31) to wait for the inputs
(``waitForInput``), list outputs and reports, read balances through node inspect, and
execute the voucher with the proof from ``cartesi_getOutput`` once the epoch is claimed.

Nothing waits on luck: every wait polls for its condition with a generous deadline, and
amounts are read after the stream has ended, so no block lands "just in time".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from l1.anvil import Anvil
from l1.bridge import Bridge
from l1.contracts import at, encode_call
from l1.deploy import OFFICIAL_ADDRESSES, deploy_all, write_deployment
from l1.testing import ensure_node_deps
from rollup_host import start_in_thread
from rollup_host.child import stop
from rollup_host.deployment import deployment_options

pytestmark = pytest.mark.l1


REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "node_modules" / "@cartesi" / "cli" / "bin" / "run.js"
CLIENT = REPO / "l1" / "client.mjs"
MNEMONIC = "test test test test test test test test test test test junk"
EPOCH = 4
TOKEN_UNIT = 10 ** 18            # `cartesi send erc20 --amount` counts whole tokens (18 decimals)
DEPOSIT = 100 * TOKEN_UNIT
STREAM = 10 * TOKEN_UNIT
DURATION = 5                     # rate 2 tokens per block
ALICE_INDEX, BOB_INDEX = 1, 2    # accounts of anvil's test mnemonic
TIMEOUT = 180                    # seconds, for any one command (a slow, shared machine)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ensure_node_deps()
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found: the official-client test needs Node.js")
    tmp = tmp_path_factory.mktemp("official")
    s = Stack(tmp, node)
    try:
        yield s
    finally:
        s.close()


class Stack:
    def __init__(self, tmp: Path, node: str) -> None:
        self.node = node
        self.anvil = Anvil()
        self.rpc = self.anvil.rpc
        self.dep = deploy_all(self.rpc, epoch_length=EPOCH)
        self.deployment = tmp / "deployment.json"
        write_deployment(self.dep, self.deployment)
        options = deployment_options(str(self.deployment))  # as `serve --deployment` reads it
        self.server, self.host_url = start_in_thread(port=0, rollups="v2", wait_timeout=60.0,
                                                     **options)
        env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=self.host_url, ROLLUPS_VERSION="v2",
                   DAPP_DB=str(tmp / "dapp.sqlite"), DAPP_DEPLOYMENT=str(self.deployment))
        env.pop("PORTAL_ADDRESS", None)
        env.pop("APP_ADDRESS", None)
        self.log = tmp / "dapp.log"
        with open(self.log, "w") as log:
            self.dapp = subprocess.Popen([sys.executable, str(REPO / "dapp.py")], cwd=REPO,
                                         env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        # The bridge runs beside the user, as a node would: it feeds inputs and claims
        # each epoch once the chain has passed its end (it never mines).
        self.bridge = Bridge(self.rpc, self.dep, self.host_url)
        self.bridge_log: list[str] = []
        self.bridge_errors: list[BaseException] = []
        self.stop_bridge = threading.Event()
        self.thread = threading.Thread(target=self._run_bridge, daemon=True)
        self.thread.start()
        accounts = self.rpc.accounts()
        self.alice = to_checksum_address(accounts[ALICE_INDEX])
        self.bob = to_checksum_address(accounts[BOB_INDEX])
        self.token = at(self.rpc, "TestToken", self.dep["token"])

    def _run_bridge(self) -> None:
        try:
            self.bridge.run(interval=0.05, claim=True, execute=False, stop=self.stop_bridge,
                            log=self.bridge_log.append)
        except BaseException as exc:  # surfaced by the test
            self.bridge_errors.append(exc)

    def close(self) -> None:
        self.stop_bridge.set()
        self.thread.join(timeout=10)
        stop(self.dapp)
        self.server.stop()
        self.anvil.stop()

    def cartesi(self, account: int, *args: str) -> str:
        """The official CLI, non-interactive: every choice given as a flag."""
        command = [self.node, str(CLI), "send", *args, "--dapp", self.dep["application"],
                   "-c", "31337", "-r", self.anvil.url, "--mnemonic-passphrase", MNEMONIC,
                   "--mnemonic-index", str(account)]
        return self._run(command, both=True)  # ora prints its status on stderr

    def client(self, *args: str, account: int = 0) -> dict:
        """``l1/client.mjs`` (@cartesi/viem); its one line of JSON, parsed."""
        command = [self.node, str(CLIENT), *args, "--node", self.host_url, "--rpc",
                   self.anvil.url, "--account", str(account), "--timeout", str(TIMEOUT - 30)]
        return json.loads(self._run(command))

    def _run(self, command: list[str], both: bool = False) -> str:
        env = dict(os.environ, NO_COLOR="1", CI="true")
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        assert done.returncode == 0, (f"{command[1:3]} failed ({done.returncode}):\n"
                                      f"{done.stdout}\n{done.stderr}\nbridge: {self.bridge_log}"
                                      f"\ndapp: {self.log.read_text()}")
        assert not self.bridge_errors, self.bridge_errors
        return done.stdout + done.stderr if both else done.stdout

    def balance(self, account: str, block: int) -> int:
        answer = self.client("inspect", f"balance/{self.dep['token']}/{account}/{block}")
        assert answer["status"] == "Accepted", answer
        return int(answer["decoded"][-1]["balance"])


def test_official_clients_deposit_stream_withdraw_and_execute(stack):
    s = stack
    token = s.dep["token"]
    assert (s.dep["input_box"], s.dep["erc20_portal"]) == OFFICIAL_ADDRESSES["cli"]
    s.token.transact("mint", s.alice, DEPOSIT, sender=s.alice)   # the test token's faucet

    # 1. Alice approves the portal (viem), then deposits with `cartesi send erc20`.
    approved = s.client("approve", "--token", token, "--spender", s.dep["erc20_portal"],
                        "--amount", str(DEPOSIT), account=ALICE_INDEX)
    assert int(approved["approved"]) == DEPOSIT
    out = s.cartesi(ALICE_INDEX, "erc20", "--token", token, "--amount", str(DEPOSIT // TOKEN_UNIT))
    assert "Input sent" in out, out
    assert s.token.call("balanceOf", s.dep["application"]) == DEPOSIT

    # 2. She opens a stream to Bob with `cartesi send generic`.
    op = {"op": "open_stream", "token": token, "receiver": s.bob, "amount": str(STREAM),
          "duration": DURATION}
    s.cartesi(ALICE_INDEX, "generic", "--input", json.dumps(op), "--input-encoding", "string")
    seen = s.client("wait", "--input", "1")
    assert [i["status"] for i in seen["inputs"]] == ["ACCEPTED", "ACCEPTED"]
    deposit, opened = seen["inputs"]
    assert deposit["sender"] == s.dep["erc20_portal"] and opened["sender"] == s.alice
    start = int(opened["blockNumber"])
    assert [o["decoded"]["event"] for o in seen["outputs"]] == ["deposit", "stream_opened"]

    # 3. Blocks pass on L1; node inspect reads Bob's balance as it streams.
    s.rpc.mine(DURATION + 1)
    assert s.balance(s.bob, start + 2) == 2 * STREAM // DURATION
    assert s.balance(s.bob, start + DURATION) == STREAM
    assert s.balance(s.alice, start + DURATION) == DEPOSIT - STREAM

    # 4. Bob asks for one wei more than streamed (rejected: a report), then all of it.
    too_much = {"op": "withdraw", "token": token, "amount": str(STREAM + 1)}
    s.cartesi(BOB_INDEX, "generic", "--input", json.dumps(too_much), "--input-encoding", "string")
    withdraw = {"op": "withdraw", "token": token, "amount": str(STREAM)}
    s.cartesi(BOB_INDEX, "generic", "--input", json.dumps(withdraw), "--input-encoding", "string")
    seen = s.client("wait", "--input", "3")
    assert [i["status"] for i in seen["inputs"]] == ["ACCEPTED", "ACCEPTED", "REJECTED",
                                                     "ACCEPTED"]
    assert [r["inputIndex"] for r in seen["reports"]] == ["2"]
    assert seen["reports"][0]["payload"]["error"]["type"] == "InsufficientFunds"
    (voucher,) = [o for o in seen["outputs"] if o["type"] == "Voucher"]
    assert voucher["inputIndex"] == "3" and voucher["destination"] == token
    assert voucher["payload"] == "0x" + encode_call("transfer(address,uint256)", s.bob,
                                                    STREAM).hex()
    assert voucher["proven"] is False                 # no claim yet

    # 5. The chain passes the epoch's end; the bridge claims; Bob executes the voucher
    #    with the proof cartesi_getOutput serves (client.mjs polls until it appears).
    s.rpc.mine(2 * EPOCH)
    bob_before = s.token.call("balanceOf", s.bob)
    done = s.client("execute", "--output", voucher["index"], account=BOB_INDEX)
    assert done["executed"] == voucher["index"] and done["application"] == s.dep["application"]
    assert s.token.call("balanceOf", s.bob) == bob_before + STREAM
    # ... which Bob reads as the walkthrough's step 6 does (client.mjs balance).
    shown = s.client("balance", "--token", s.dep["token"], account=BOB_INDEX)
    assert shown["balance"] == str(bob_before + STREAM) and shown["account"] == s.bob and shown["decimals"] == 18
    assert s.token.call("balanceOf", s.dep["application"]) == DEPOSIT - STREAM
    assert any("claim for block" in line for line in s.bridge_log), s.bridge_log
    # The bridge reports the execution: the node API then names its transaction.
    deadline = time.monotonic() + TIMEOUT
    while (seen := s.client("output", "--output", voucher["index"]))["executionTransactionHash"] is None:
        assert time.monotonic() < deadline, f"execution never reported: {s.bridge_log}"
        time.sleep(0.2)
    assert seen["executionTransactionHash"] == done["transactionHash"] and seen["proven"]
    # A second execution is refused by the contract's own error name, and moves nothing.
    command = [s.node, str(CLIENT), "execute", "--output", voucher["index"], "--node", s.host_url, "--rpc",
               s.anvil.url, "--account", str(BOB_INDEX), "--timeout", "60"]
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=TIMEOUT, env=dict(os.environ, NO_COLOR="1"))
    assert again.returncode != 0 and "OutputNotReexecutable" in again.stderr, (again.stdout, again.stderr)
    assert s.token.call("balanceOf", s.bob) == bob_before + STREAM
