"""End to end on a local chain: wallet -> ERC20Portal -> DApp stream -> voucher -> wallet.

Real pieces only: anvil, the compiled Cartesi Rollups v2 contracts (InputBox,
ERC20Portal, Authority, Application), the test ERC-20, the local rollup host, ``dapp.py``
as a subprocess, and ``l1.bridge`` playing the node (inputs in, claims, vouchers out).

Anvil mines one block per transaction, so the block an input lands in is the next one:
the test knows the block number the DApp will see before sending, and checks it after.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from l1.anvil import Anvil
from l1.bridge import Bridge
from l1.contracts import at, encode_call
from l1.deploy import deploy_all, write_deployment
from l1.errors import Reverted
from l1.testing import ensure_node_deps
from rollup_host.child import stop

pytestmark = pytest.mark.l1


REPO = Path(__file__).resolve().parent.parent
EPOCH = 4                 # blocks per epoch: claims name an epoch's last block
MINTED = 12_345           # Alice's L1 tokens
DEPOSIT = 10_000          # what she moves into the DApp
AMOUNT, DURATION = 1_000, 7   # the stream to Bob: rate 142 per block, remainder 6


def streamed(block, start, amount=AMOUNT, duration=DURATION):
    """The stream rule: rate * clamp(block - start, 0, duration), + remainder at the end."""
    rate = amount // duration
    out = rate * min(max(block - start, 0), duration)
    return out + amount % duration if block >= start + duration else out


class Stack:
    """anvil + contracts + rollup host + dapp.py + bridge, and the people using them."""

    def __init__(self, tmp):
        from rollup_host import HostClient, start_in_thread

        self.anvil = Anvil()
        self.rpc = self.anvil.rpc
        self.dep = deploy_all(self.rpc, epoch_length=EPOCH)
        self.deployment_path = tmp / "deployment.json"
        write_deployment(self.dep, self.deployment_path)
        self.server, self.host_url = start_in_thread(
            port=0, rollups="v2", app=self.dep["application"], chain_id=self.dep["chain_id"],
            portal=self.dep["erc20_portal"], wait_timeout=30.0, epoch_length=EPOCH,
            input_box=self.dep["input_box"])
        self.host = HostClient(self.host_url, timeout=30.0)
        env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=self.host_url,
                   DAPP_DB=str(tmp / "dapp.sqlite"), ROLLUPS_VERSION="v2",
                   DAPP_DEPLOYMENT=str(self.deployment_path))
        env.pop("PORTAL_ADDRESS", None)
        env.pop("APP_ADDRESS", None)
        self.dapp_log = tmp / "dapp.log"
        with open(self.dapp_log, "w") as log:
            self.dapp = subprocess.Popen([sys.executable, str(REPO / "dapp.py")], cwd=REPO,
                                         env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self.bridge = Bridge(self.rpc, self.dep, self.host_url)
        accounts = self.rpc.accounts()
        self.alice, self.bob, self.carol, self.dave = accounts[1:5]
        self.token = at(self.rpc, "TestToken", self.dep["token"])
        self.portal = at(self.rpc, "ERC20Portal", self.dep["erc20_portal"])
        self.input_box = at(self.rpc, "InputBox", self.dep["input_box"])
        self.app = at(self.rpc, "Application", self.dep["application"])

    def close(self):
        stop(self.dapp)
        self.host.close()
        self.server.stop()
        self.anvil.stop()

    # -- helpers -------------------------------------------------------------------
    def next_block(self):
        """The block the next transaction will be mined in (anvil automine)."""
        return self.rpc.block_number() + 1

    def send_op(self, sender, op):
        """``InputBox.addInput(app, json)`` from ``sender``; feed it; return the result."""
        receipt = self.input_box.transact("addInput", self.app.address,
                                          json.dumps(op).encode(), sender=sender)
        (processed,) = self.bridge.step()
        assert processed.block_number == int(receipt["blockNumber"], 16)
        return processed

    def inspect(self, route):
        answer = self.host.inspect(route)
        assert answer["reports"], f"no report for {route}: {answer}"
        return json.loads(bytes.fromhex(answer["reports"][-1]["payload"][2:]))

    def balance(self, account, block=None):
        route = f"balance/{self.dep['token']}/{account}"
        report = self.inspect(route if block is None else f"{route}/{block}")
        out = {k: int(report[k]) for k in ("balance", "available", "committed")}
        out["block"] = report["block"]
        return out

    def check_backing(self):
        """What the DApp holds of the token is what the Application holds on L1."""
        held = int(self.inspect(f"token/{self.dep['token']}")["total_supply"])
        assert held == self.l1_balance(self.app.address)

    def l1_balance(self, account):
        return self.token.call("balanceOf", account)

    def dapp_output(self):
        return self.dapp_log.read_text() if self.dapp_log.exists() else ""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ensure_node_deps()
    s = Stack(tmp_path_factory.mktemp("l1"))
    try:
        yield s
    finally:
        s.close()


def test_tokens_round_trip_through_a_stream(stack):
    s = stack
    token = s.dep["token"]

    # 1. Alice deposits through the real ERC20Portal: the DApp credits her.
    s.token.transact("mint", s.alice, MINTED, sender=s.alice)
    s.token.transact("approve", s.portal.address, DEPOSIT, sender=s.alice)
    s.portal.transact("depositERC20Tokens", token, s.app.address, DEPOSIT, b"",
                      sender=s.alice)
    (deposit,) = s.bridge.step()
    assert deposit.status == "accepted", s.dapp_output()
    assert deposit.msg_sender == s.portal.address
    assert s.l1_balance(s.app.address) == DEPOSIT       # v2: the app contract holds them
    assert s.balance(s.alice)["balance"] == DEPOSIT
    s.check_backing()

    # 2. She opens a stream to Bob starting two blocks after it lands.
    start = s.next_block() + 2
    opened = s.send_op(s.alice, {"op": "open_stream", "token": token, "receiver": s.bob,
                                 "amount": str(AMOUNT), "duration": DURATION,
                                 "start_block": start})
    assert opened.status == "accepted", s.dapp_output()

    # 3. Mid-stream, Bob asks for one more than has streamed: refused. Then exactly
    #    what has streamed by the block his withdrawal lands in: accepted, one voucher.
    s.rpc.mine(start + 2 - s.rpc.block_number())
    w = s.next_block()
    too_much = s.send_op(s.bob, {"op": "withdraw", "token": token,
                                 "amount": str(streamed(w, start) + 1)})
    assert too_much.block_number == w and too_much.status == "rejected"
    w = s.next_block()
    first = streamed(w, start)
    assert 0 < first < AMOUNT
    took = s.send_op(s.bob, {"op": "withdraw", "token": token, "amount": str(first)})
    assert took.block_number == w and took.status == "accepted", s.dapp_output()
    vouchers = [s.bridge.outputs[i] for i in took.outputs
                if s.bridge.outputs[i].kind == "voucher"]
    assert len(vouchers) == 1
    voucher = vouchers[0]
    assert voucher.destination == to_checksum_address(token) and voucher.value == 0
    assert voucher.payload == encode_call("transfer(address,uint256)", s.bob, first)
    assert s.balance(s.bob, w)["balance"] == 0
    assert s.balance(s.alice, w) == {"balance": DEPOSIT - first,
                                     "available": DEPOSIT - AMOUNT,
                                     "committed": AMOUNT - first, "block": w}

    # 4. Claim, execute on the Application: Bob's L1 balance rises by exactly that.
    claim = s.bridge.claim()
    assert claim is not None and claim.n_outputs > voucher.index
    assert claim.last_block % EPOCH == EPOCH - 1
    bob_before = s.l1_balance(s.bob)
    s.bridge.execute(voucher.index, sender=s.bob)
    assert s.l1_balance(s.bob) == bob_before + first
    assert s.bridge.was_executed(voucher.index)
    # The same voucher again: refused on chain (the transaction is mined and fails).
    with pytest.raises(Reverted) as exc:
        s.bridge.execute(voucher.index, sender=s.bob, gas=1_000_000)
    assert exc.value.error == "OutputNotReexecutable"
    assert int(exc.value.receipt["status"], 16) == 0
    assert s.l1_balance(s.bob) == bob_before + first
    s.check_backing()

    # 5. After the stream ends, Bob takes the rest and Alice withdraws all she has left.
    end = start + DURATION
    if s.rpc.block_number() < end:
        s.rpc.mine(end - s.rpc.block_number())
    rest = s.send_op(s.bob, {"op": "withdraw", "token": token,
                             "amount": str(AMOUNT - first)})
    assert rest.status == "accepted", s.dapp_output()
    greedy = s.send_op(s.alice, {"op": "withdraw", "token": token,
                                 "amount": str(DEPOSIT - AMOUNT + 1)})
    assert greedy.status == "rejected"
    back = s.send_op(s.alice, {"op": "withdraw", "token": token,
                               "amount": str(DEPOSIT - AMOUNT)})
    assert back.status == "accepted", s.dapp_output()
    for who in (s.alice, s.bob):
        assert s.balance(who)["balance"] == 0

    # 6. A second claim (a later epoch); anyone may execute the remaining vouchers.
    second = s.bridge.claim()
    assert second.last_block > claim.last_block
    executed = s.bridge.execute_pending(sender=s.carol)
    assert len(executed) == 2
    assert s.l1_balance(s.bob) == bob_before + AMOUNT
    assert s.l1_balance(s.alice) == MINTED - AMOUNT
    assert s.l1_balance(s.app.address) == 0
    assert s.token.call("totalSupply") == MINTED
    s.check_backing()
    # Every output, old ones included, proves against the latest accepted root.
    for out in s.bridge.outputs:
        s.bridge.validate(out.index)


def test_forged_deposit_from_a_wallet_is_rejected(stack):
    s = stack
    token = s.dep["token"]
    before = s.inspect("state-hash")["state_hash"]
    # The exact bytes the portal would send for a 1,000,000 deposit by Dave, sent by Dave.
    forged = (bytes.fromhex(token[2:]) + bytes.fromhex(s.dave[2:])
              + (1_000_000).to_bytes(32, "big"))
    s.input_box.transact("addInput", s.app.address, forged, sender=s.dave)
    (fed,) = s.bridge.step()
    assert fed.status == "rejected" and fed.outputs == []
    assert s.balance(s.dave)["balance"] == 0
    assert s.inspect("state-hash")["state_hash"] == before
