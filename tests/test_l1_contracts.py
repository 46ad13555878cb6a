"""The L1 pieces against the real Rollups v2 contracts on anvil (no DApp needed).

The Merkle root and proofs of ``l1.merkle`` are checked by the Application itself:
a claim with our root is accepted by the Authority, then ``validateOutput`` /
``executeOutput`` accept our proofs and refuse altered ones.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eth_abi import encode as abi_encode

from l1 import NODE_MODULES, codec, merkle
from l1.anvil import Anvil
from l1.bridge import Bridge
from l1.contracts import ROLLUPS_OUT, at, encode_call
from l1.deploy import OFFICIAL_ADDRESSES, deploy_all
from l1.errors import ClaimError, Reverted
from l1.testing import ensure_node_deps

pytestmark = pytest.mark.l1


EPOCH = 4


@pytest.fixture(scope="module")
def anvil():
    ensure_node_deps()
    with Anvil() as node:
        yield node


@pytest.fixture
def chain(anvil):
    """A fresh deployment, plus handles on the contracts and four accounts."""
    dep = deploy_all(anvil.rpc, epoch_length=EPOCH)
    rpc = anvil.rpc
    accounts = rpc.accounts()

    class Chain:
        pass

    c = Chain()
    c.rpc, c.dep = rpc, dep
    c.owner, c.alice, c.bob, c.carol = accounts[0], accounts[1], accounts[2], accounts[3]
    c.input_box = at(rpc, "InputBox", dep["input_box"])
    c.portal = at(rpc, "ERC20Portal", dep["erc20_portal"])
    c.authority = at(rpc, "Authority", dep["authority"])
    c.app = at(rpc, "Application", dep["application"])
    c.token = at(rpc, "TestToken", dep["token"])
    return c


def artifact_ids(name):
    return json.loads((ROLLUPS_OUT / f"{name}.sol" / f"{name}.json").read_text())[
        "methodIdentifiers"]


def test_selectors_match_the_artifacts(anvil):
    outputs = artifact_ids("Outputs")
    assert outputs[codec.NOTICE_SIG] == codec.NOTICE.hex()
    assert outputs[codec.VOUCHER_SIG] == codec.VOUCHER.hex()
    assert outputs[codec.DELEGATE_CALL_VOUCHER_SIG] == codec.DELEGATE_CALL_VOUCHER.hex()
    assert artifact_ids("Inputs")[codec.EVM_ADVANCE_SIG] == codec.EVM_ADVANCE.hex()
    assert "InputBox(address)" in artifact_ids("DataAvailability")


def test_deployment_is_wired(chain):
    dep = chain.dep
    assert chain.app.call("getOutputsMerkleRootValidator").lower() == dep["authority"].lower()
    assert chain.app.call("getDataAvailability") == encode_call("InputBox(address)",
                                                                 dep["input_box"])
    assert chain.portal.call("getInputBox").lower() == dep["input_box"].lower()
    assert chain.authority.call("getEpochLength") == EPOCH
    assert chain.authority.call("owner").lower() == chain.owner.lower()
    assert dep["chain_id"] == 31337 and dep["rollups_version"] == "2.2.0"


def test_contracts_sit_where_the_official_clients_look(chain, anvil):
    # Default: the addresses built into the pinned Cartesi CLI (2.0.0-alpha.2).
    assert chain.dep["addresses"] == "cli"
    assert (chain.dep["input_box"], chain.dep["erc20_portal"]) == (
        "0x593E5BCf894D6829Dd26D0810DA7F064406aebB6", "0xB0e28881FF7ee9CD5B1229d570540d74bce23D39")
    cli = (NODE_MODULES / "@cartesi/cli/dist/contracts.js").read_text()
    for address in OFFICIAL_ADDRESSES["cli"]:
        assert f"'{address}'" in cli
    # The portal sends to that InputBox, and the InputBox answers there.
    assert chain.portal.call("getInputBox") == chain.dep["input_box"].lower()
    assert chain.input_box.call("getNumberOfInputs", chain.app.address) == 0
    # The other choices: @cartesi/viem's Rollups 2.2 addresses, or where deployed.
    viem = "".join(p.read_text() for p in (NODE_MODULES / "@cartesi/viem/dist").glob("*.js"))
    other = deploy_all(anvil.rpc, epoch_length=EPOCH, addresses="rollups-2.2")
    assert (other["input_box"], other["erc20_portal"]) == OFFICIAL_ADDRESSES["rollups-2.2"]
    assert all(f'"{a}"' in viem for a in OFFICIAL_ADDRESSES["rollups-2.2"])
    assert at(anvil.rpc, "ERC20Portal", other["erc20_portal"]).call("getInputBox") == \
        other["input_box"].lower()
    fresh = deploy_all(anvil.rpc, epoch_length=EPOCH, addresses="fresh")
    assert fresh["input_box"] not in OFFICIAL_ADDRESSES["cli"] + OFFICIAL_ADDRESSES["rollups-2.2"]
    with pytest.raises(ValueError, match="addresses must be one of"):
        deploy_all(anvil.rpc, addresses="mainnet")


def test_input_added_carries_evm_advance_metadata(chain):
    receipt = chain.input_box.transact("addInput", chain.app.address, b"hello",
                                       sender=chain.alice)
    block = chain.rpc.get_block(int(receipt["blockNumber"], 16))
    (args, _), = chain.input_box.events("InputAdded", int(block["number"], 16))
    adv = codec.decode_evm_advance(args["input"])
    assert adv.payload == b"hello" and adv.index == 0 and args["index"] == 0
    assert adv.msg_sender.lower() == chain.alice.lower()
    assert adv.app_contract == chain.app.address
    assert adv.chain_id == 31337
    assert adv.block_number == int(block["number"], 16)
    assert adv.block_timestamp == int(block["timestamp"], 16)
    assert adv.prev_randao == int(block["mixHash"], 16)


def submit(chain, root, last_block=None):
    """Claim ``root`` for the epoch ending at/after the current block; return it."""
    current = chain.rpc.block_number()
    end = last_block if last_block is not None else current - current % EPOCH + EPOCH - 1
    if chain.rpc.block_number() < end:
        chain.rpc.mine(end - chain.rpc.block_number())
    chain.authority.transact("submitClaim", chain.app.address, end, root,
                             sender=chain.owner)
    return end


def test_authority_epoch_rules(chain):
    current = chain.rpc.block_number()
    end = current - current % EPOCH + EPOCH - 1
    with pytest.raises(Reverted) as exc:
        chain.authority.call("submitClaim", chain.app.address, end - 1, b"\1" * 32,
                             sender=chain.owner)
    assert exc.value.error == "NotEpochFinalBlock"
    with pytest.raises(Reverted) as exc:
        chain.authority.call("submitClaim", chain.app.address, end + EPOCH, b"\1" * 32,
                             sender=chain.owner)
    assert exc.value.error == "NotPastBlock"
    with pytest.raises(Reverted) as exc:
        chain.authority.call("submitClaim", chain.app.address, end, b"\1" * 32,
                             sender=chain.alice)
    assert exc.value.error == "OwnableUnauthorizedAccount"
    submit(chain, b"\1" * 32, end)
    with pytest.raises(Reverted) as exc:
        chain.authority.transact("submitClaim", chain.app.address, end, b"\2" * 32,
                                 sender=chain.owner)
    assert exc.value.error == "NotFirstClaim"


def test_our_root_and_proofs_satisfy_the_application(chain):
    # Tokens held by the application, and a hand-made voucher paying Bob 123 of them.
    chain.token.transact("mint", chain.app.address, 1000, sender=chain.owner)
    transfer = encode_call("transfer(address,uint256)", chain.bob, 123)
    outputs = [codec.encode_notice(b"first"),
               codec.encode_voucher(chain.token.address, 0, transfer),
               codec.encode_notice(b"third")]
    tree = merkle.OutputsTree()
    for out in outputs:
        tree.append(out)
    submit(chain, tree.root())
    assert chain.authority.call("isOutputsMerkleRootValid", chain.app.address, tree.root())

    for i, out in enumerate(outputs):
        proof = tree.proof(i)
        chain.app.call("validateOutput", out, proof)           # no revert: valid
        chain.app.call("validateOutputHash", merkle.output_hash(out), proof)
        # The contract's own root from our proof is our root: a wrong leaf names it.
        with pytest.raises(Reverted) as exc:
            chain.app.call("validateOutput", out + b"\0", proof)
        assert exc.value.error == "InvalidOutputsMerkleRoot"
    index, sibs = tree.proof(1)
    with pytest.raises(Reverted) as exc:
        chain.app.call("validateOutput", outputs[1], (2, sibs))
    assert exc.value.error == "InvalidOutputsMerkleRoot"
    assert exc.value.error_args[0] == merkle.root_from_proof(
        merkle.output_hash(outputs[1]), 2, sibs)
    with pytest.raises(Reverted) as exc:
        chain.app.call("validateOutput", outputs[1], (1, sibs[:-1]))
    assert exc.value.error == "InvalidOutputHashesSiblingsArrayLength"

    # Execute the voucher: Bob is paid; twice is refused on chain; notices never run.
    chain.app.transact("executeOutput", outputs[1], tree.proof(1), sender=chain.carol)
    assert chain.token.call("balanceOf", chain.bob) == 123
    assert chain.token.call("balanceOf", chain.app.address) == 877
    assert chain.app.call("wasOutputExecuted", 1)
    with pytest.raises(Reverted) as exc:
        chain.app.transact("executeOutput", outputs[1], tree.proof(1), sender=chain.carol,
                           gas=500_000)
    assert exc.value.error == "OutputNotReexecutable"
    assert int(exc.value.receipt["status"], 16) == 0   # mined, and failed
    with pytest.raises(Reverted) as exc:
        chain.app.call("executeOutput", outputs[0], tree.proof(0))
    assert exc.value.error == "OutputNotExecutable"
    assert chain.token.call("balanceOf", chain.bob) == 123


class FakeHost:
    """A stand-in for the rollup host's ``/dev`` API: each advance's payload is JSON
    ``{"notices": [hex...], "vouchers": [[dest, value, hex]...], "reject": bool}``."""

    def __init__(self):
        self.finished = []
        self.seen = []
        self.claims = []
        self.executed = []
        self.next_output = 0
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(host.finished)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/dev/claim":
                    host.claims.append(body)
                    self._send({})
                    return
                if self.path == "/dev/executed":
                    host.executed.append(body)
                    self._send({})
                    return
                self._send(host.advance(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def advance(self, body):
        self.seen.append(body)
        req = json.loads(bytes.fromhex(body["payload"][2:]))
        answer = {"input_index": body["metadata"]["input_index"], "notices": [],
                  "vouchers": [], "reports": []}
        if req.get("reject"):
            answer["status"] = "rejected"
        else:
            answer["status"] = "accepted"
            for payload in req.get("notices", []):
                answer["notices"].append({"index": self.next_output, "payload": payload})
                self.next_output += 1
            for dest, value, payload in req.get("vouchers", []):
                answer["vouchers"].append({"index": self.next_output, "destination": dest,
                                           "value": "0x%064x" % value, "payload": payload})
                self.next_output += 1
        self.finished.append(answer)
        return answer

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_host():
    host = FakeHost()
    yield host
    host.close()


def add_input(chain, sender, obj):
    chain.input_box.transact("addInput", chain.app.address, json.dumps(obj).encode(),
                             sender=sender)


def test_bridge_feeds_claims_and_executes(chain, fake_host):
    chain.token.transact("mint", chain.app.address, 500, sender=chain.owner)
    pay = lambda to, n: "0x" + encode_call("transfer(address,uint256)", to, n).hex()
    bridge = Bridge(chain.rpc, chain.dep, fake_host.url)
    with pytest.raises(ClaimError):
        bridge.proof(0)

    add_input(chain, chain.alice, {"notices": ["0x01"],
                                   "vouchers": [[chain.token.address, 0, pay(chain.bob, 7)]]})
    add_input(chain, chain.bob, {"reject": True, "notices": ["0x02"]})
    done = bridge.step()
    assert [(p.index, p.status, p.outputs) for p in done] == [
        (0, "accepted", [0, 1]), (1, "rejected", [])]
    meta = fake_host.seen[0]["metadata"]
    assert meta["msg_sender"].lower() == chain.alice.lower()
    assert meta["app_contract"] == chain.app.address and meta["input_index"] == 0
    assert len(meta["prev_randao"]) == 66

    claim = bridge.claim()
    assert claim.last_block % EPOCH == EPOCH - 1 and claim.n_outputs == 2
    assert chain.authority.call("isOutputsMerkleRootValid", chain.app.address, claim.root)
    # The host hears of the claim (its node JSON-RPC then serves proofs), and of the
    # InputAdded events behind each input.
    assert fake_host.claims == [{"last_block": claim.last_block,
                                 "outputs_merkle_root": "0x" + claim.root.hex(),
                                 "output_count": 2, "transaction_hash": claim.tx_hash}]
    assert fake_host.seen[0]["transaction_hash"].startswith("0x")
    assert fake_host.seen[1]["log_index"] >= 0
    assert bridge.claim() is None                      # nothing new to claim
    bridge.validate(0)
    receipt = bridge.execute(1, sender=chain.carol)
    assert chain.token.call("balanceOf", chain.bob) == 7
    with pytest.raises(Reverted) as exc:
        bridge.execute(1)
    assert exc.value.error == "OutputNotReexecutable"
    # The execution reaches the host (whoever sent it), once.
    assert bridge.report_executions() == [1]
    assert fake_host.executed == [{"output_index": 1,
                                   "transaction_hash": receipt["transactionHash"]}]
    assert bridge.report_executions() == []

    # A second epoch: a new voucher, a new claim; old proofs move to the new root.
    add_input(chain, chain.alice, {"vouchers": [[chain.token.address, 0, pay(chain.carol, 9)]]})
    second = bridge.claim()
    assert second.last_block > claim.last_block and second.n_outputs == 3
    assert bridge.execute_pending() == [2]
    assert chain.token.call("balanceOf", chain.carol) == 9
    bridge.validate(1)

    # A bridge restarted against the same host feeds nothing twice, adopts the claims
    # on chain (no second claim for a claimed epoch) and still proves old outputs.
    again = Bridge(chain.rpc, chain.dep, fake_host.url)
    fed = len(fake_host.seen)
    assert [p.index for p in again.step()] == [0, 1, 2]
    assert len(fake_host.seen) == fed and again.tree.root() == bridge.tree.root()
    assert again.claim() is None
    assert [(c.last_block, c.root, c.n_outputs) for c in again.claims] == [
        (c.last_block, c.root, c.n_outputs) for c in bridge.claims]
    again.validate(0)
    assert again.execute_pending() == []
    # Fresh bridge, nothing stepped yet: proofs still come from the adopted claims.
    assert Bridge(chain.rpc, chain.dep, fake_host.url).proof(2) == bridge.proof(2)


def test_committed_token_build_matches_its_source(anvil):
    from l1.compile import OUTPUT, compile_test_token

    fresh = compile_test_token()
    committed = json.loads(OUTPUT.read_text())
    assert fresh["bytecode"] == committed["bytecode"]
    assert fresh["abi"] == committed["abi"]


def test_portal_deposit_payload_is_packed(chain):
    chain.token.transact("mint", chain.alice, 50, sender=chain.owner)
    chain.token.transact("approve", chain.portal.address, 50, sender=chain.alice)
    chain.portal.transact("depositERC20Tokens", chain.token.address, chain.app.address, 50,
                          b"\xee", sender=chain.alice)
    (args, _), = chain.input_box.events("InputAdded", chain.dep["deploy_block"])
    adv = codec.decode_evm_advance(args["input"])
    assert adv.msg_sender == chain.portal.address
    assert adv.payload == (bytes.fromhex(chain.token.address[2:])
                           + bytes.fromhex(chain.alice[2:]) + abi_encode(["uint256"], [50])
                           + b"\xee")
    assert chain.token.call("balanceOf", chain.app.address) == 50
