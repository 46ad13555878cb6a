"""The local host speaks the Rollups node v2 client API: JSON-RPC at ``POST /rpc`` and
node inspect at ``POST /inspect/<application>``, over real HTTP.

A scripted DApp (``FakeDApp`` from test_rollup_host) plays ``dapp.py``: each advance's
payload is JSON ``{"notices": [hex], "vouchers": [[dest, value, hex]], "reports": [hex],
"status": "accept"|"reject"|"exception"}``; an inspect reports its payload back and
rejects ``b"reject"``, raises on ``b"exception"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_utils import keccak, to_checksum_address

from l1 import codec as l1codec
from l1.merkle import LOG2_MAX_OUTPUTS, OutputsTree, root_from_proof
from rollup_host import HostRequestError
from rollup_host.__main__ import main as cli_main
from rollup_host.rpc import NodeApi
from rollup_host.rpc_params import NODE_VERSION
from tests.test_rollup_host import FakeDApp, make_host  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


APP = "0xab7528bb862fB57E8A2BCd567a2e929a0Be56a5e"
ALICE = to_checksum_address("0x" + "a1" * 20)
BOB = to_checksum_address("0x" + "b0" * 20)
TOKEN = to_checksum_address("0x" + "70" * 20)
METHODS = ["cartesi_listApplications", "cartesi_getApplication", "cartesi_listInputs",
           "cartesi_getInput", "cartesi_getProcessedInputCount", "cartesi_listOutputs",
           "cartesi_getOutput", "cartesi_listReports", "cartesi_getReport",
           "cartesi_listEpochs", "cartesi_getEpoch", "cartesi_getLastAcceptedEpochIndex",
           "cartesi_getChainId", "cartesi_getNodeVersion"]


def scripted(dapp: FakeDApp, request: dict[str, Any]) -> str | None:
    payload = bytes.fromhex(request["data"]["payload"][2:])
    if request["request_type"] == "inspect_state":
        dapp.post("/report", {"payload": request["data"]["payload"]})
        if payload == b"exception":
            dapp.post("/exception", {"payload": "0x" + b"inspect broke".hex()})
            return None
        return "reject" if payload == b"reject" else "accept"
    script = json.loads(payload)
    for hexed in script.get("notices", []):
        dapp.post("/notice", {"payload": hexed})
    for dest, value, hexed in script.get("vouchers", []):
        dapp.post("/voucher", {"destination": dest, "value": "0x%064x" % value,
                               "payload": hexed})
    for hexed in script.get("reports", []):
        dapp.post("/report", {"payload": hexed})
    if script.get("status") == "exception":
        dapp.post("/exception", {"payload": "0x" + b"broke".hex()})
        return None
    return script.get("status", "accept")


class Node:
    """A host with the scripted DApp, and helpers to call its node API."""

    def __init__(self, make_host, dapp: bool = True, **options: Any) -> None:
        options.setdefault("epoch_length", 4)
        self.server, self.url, self.client = make_host(**options)
        if dapp:
            make_host.dapp(self.url, scripted)
        self.session = requests.Session()

    def raw(self, body: Any) -> requests.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.session.post(self.url + "/rpc", data=data,
                                 headers={"Content-Type": "application/json"})

    def call(self, method: str, params: Any = None, rid: Any = 1) -> dict[str, Any]:
        answer = self.raw({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        assert answer.status_code == 200
        body = answer.json()
        assert body["jsonrpc"] == "2.0" and body["id"] == rid
        return body

    def result(self, method: str, params: Any = None) -> Any:
        body = self.call(method, params)
        assert "error" not in body, body
        return body["result"]

    def error(self, method: str, params: Any = None) -> tuple[int, str]:
        body = self.call(method, params)
        assert "result" not in body, body
        return body["error"]["code"], body["error"]["message"]

    def advance(self, sender: str, block: int | None = None, **script: Any) -> dict[str, Any]:
        return self.client.advance(sender, script, block=block)


def note(text: str) -> str:
    return "0x" + text.encode().hex()


def transfer(to: str, amount: int) -> str:
    return "0xa9059cbb" + (bytes(12) + bytes.fromhex(to[2:])).hex() + amount.to_bytes(32, "big").hex()


@pytest.fixture
def node(make_host):
    return Node(make_host)


# ---------------------------------------------------------------- inputs


def test_inputs_carry_raw_and_decoded_data_and_statuses(node):
    node.advance(ALICE, block=5, notices=[note("a")])
    node.advance(BOB, block=9, status="reject", reports=[note("no")])
    listed = node.result("cartesi_listInputs", {"application": "streamable-token"})
    assert listed["pagination"] == {"total_count": 2, "limit": 50, "offset": 0}
    first, second = listed["data"]
    assert [first["status"], second["status"]] == ["ACCEPTED", "REJECTED"]
    assert first["index"] == "0x0" and second["index"] == "0x1"
    assert first["block_number"] == "0x5" and second["epoch_index"] == "0x2"  # 9 // 4
    # raw_data is the EvmAdvance the InputBox would emit, decoded_data its fields.
    adv = l1codec.decode_evm_advance(bytes.fromhex(first["raw_data"][2:]))
    assert (adv.chain_id, adv.app_contract, adv.msg_sender, adv.block_number) == (
        31337, APP, ALICE, 5)
    assert adv.payload == json.dumps({"notices": [note("a")]}, separators=(",", ":")).encode()
    decoded = first["decoded_data"]
    assert decoded == {
        "chain_id": "0x7a69", "application_contract": APP, "sender": ALICE,
        "block_number": "0x5", "block_timestamp": hex(1_700_000_000 + 12 * 5),
        "prev_randao": hex(int.from_bytes(keccak((5).to_bytes(32, "big")), "big")),
        "index": "0x0", "payload": "0x" + adv.payload.hex()}
    # Both names of the L1 reference: the spec's/viem's and @cartesi/rpc's.
    assert first["transaction_reference"] == first["transaction_hash"]
    assert len(first["transaction_hash"]) == 66 and first["log_index"] == "0x0"
    assert first["created_at"] == "2023-11-14T22:14:20Z"  # block 5's timestamp, no clock
    assert node.result("cartesi_getInput", ["streamable-token", "0x1"])["data"] == second
    assert node.result("cartesi_getProcessedInputCount", [APP.lower()]) == {"data": "0x2"}
    # Filters: by epoch and by sender (any letter case).
    by_epoch = node.result("cartesi_listInputs", {"application": APP, "epoch_index": "0x1"})
    assert [i["index"] for i in by_epoch["data"]] == ["0x0"]
    by_sender = node.result("cartesi_listInputs", {"application": APP, "sender": BOB.lower()})
    assert [i["index"] for i in by_sender["data"]] == ["0x1"]


def test_a_queued_input_has_status_none(make_host):
    node = Node(make_host, dapp=False)
    response = node.session.post(node.url + "/dev/advance",
                                 json={"sender": ALICE, "payload": "0x01", "wait": False})
    assert response.status_code == 202
    got = node.result("cartesi_getInput", {"application": APP, "input_index": "0x0"})["data"]
    assert got["status"] == "NONE" and got["decoded_data"]["payload"] == "0x01"
    assert node.result("cartesi_getProcessedInputCount", [APP]) == {"data": "0x0"}
    epochs = node.result("cartesi_listEpochs", [APP])["data"]
    assert [e["status"] for e in epochs] == ["OPEN"]


def test_pagination_limit_offset_descending(node):
    for i in range(7):
        node.advance(ALICE, reports=[note(str(i))])
    page = node.result("cartesi_listReports", {"application": APP, "limit": 3, "offset": 2})
    assert [r["raw_data"] for r in page["data"]] == [note("2"), note("3"), note("4")]
    assert page["pagination"] == {"total_count": 7, "limit": 3, "offset": 2}
    down = node.result("cartesi_listReports", [APP, None, None, 2, 0, True])
    assert [r["index"] for r in down["data"]] == ["0x6", "0x5"]
    past = node.result("cartesi_listInputs", {"application": APP, "offset": 50})
    assert past["data"] == [] and past["pagination"]["total_count"] == 7
    assert node.result("cartesi_listInputs", {"application": APP, "limit": 0})[
        "pagination"]["limit"] == 50
    assert node.result("cartesi_listInputs", {"application": APP, "limit": 10 ** 6})[
        "pagination"]["limit"] == 10_000
    assert node.result("cartesi_getReport", {"application": APP, "report_index": "0x4"})[
        "data"]["raw_data"] == note("4")


# ---------------------------------------------------------------- outputs


def test_outputs_raw_decoded_and_proofs_after_the_claim(node):
    pay = transfer(BOB, 7)
    node.advance(ALICE, block=1, notices=[note("n0")], vouchers=[[TOKEN, 0, pay]])
    node.advance(ALICE, block=2, status="reject", notices=[note("dropped")])
    node.advance(BOB, block=6, vouchers=[[TOKEN, 5, "0x"]])
    outputs = node.result("cartesi_listOutputs", {"application": "streamable-token"})
    assert outputs["pagination"]["total_count"] == 3
    notice, voucher, later = outputs["data"]
    assert notice["raw_data"] == "0x" + l1codec.encode_notice(bytes.fromhex("6e30")).hex()
    assert notice["decoded_data"] == {"type": "Notice", "payload": note("n0")}
    assert voucher["raw_data"] == "0x" + l1codec.encode_voucher(TOKEN, 0, bytes.fromhex(pay[2:])).hex()
    assert voucher["decoded_data"] == {"type": "Voucher", "destination": TOKEN, "value": "0x0",
                                       "payload": pay}
    assert later["decoded_data"]["value"] == "0x5" and later["input_index"] == "0x2"
    assert later["epoch_index"] == "0x1"
    # Not claimed yet: no hash, no siblings (viem's executeOutput then refuses).
    assert all(o["hash"] is None and o["output_hashes_siblings"] is None
               for o in outputs["data"])
    # Filters: input, epoch, type (selector) and voucher destination.
    assert [o["index"] for o in node.result("cartesi_listOutputs", {
        "application": APP, "output_type": "0x" + l1codec.VOUCHER.hex()})["data"]] == ["0x1", "0x2"]
    assert [o["index"] for o in node.result("cartesi_listOutputs", {
        "application": APP, "input_index": "0x0", "voucher_address": TOKEN.lower()})[
            "data"]] == ["0x1"]
    assert [o["index"] for o in node.result("cartesi_listOutputs", {
        "application": APP, "epoch_index": "0x1"})["data"]] == ["0x2"]

    # The bridge claims epoch 0 (blocks 0..3) with the tree it built: 2 outputs.
    tree = OutputsTree()
    for o in outputs["data"]:
        tree.append(bytes.fromhex(o["raw_data"][2:]))
    bad = node.session.post(node.url + "/dev/claim", json={
        "last_block": 3, "outputs_merkle_root": "0x" + tree.root(3).hex(), "output_count": 2})
    assert bad.status_code == 400 and "outputs_merkle_root" in bad.json()["error"]
    wrong_epoch = node.session.post(node.url + "/dev/claim", json={
        "last_block": 4, "outputs_merkle_root": "0x" + tree.root(2).hex(), "output_count": 2})
    assert wrong_epoch.status_code == 400 and "epoch-length" in wrong_epoch.json()["error"]
    assert node.error("cartesi_getLastAcceptedEpochIndex", [APP])[0] == -32001
    claimed = node.session.post(node.url + "/dev/claim", json={
        "last_block": 3, "outputs_merkle_root": "0x" + tree.root(2).hex(), "output_count": 2,
        "transaction_hash": "0x" + "ab" * 32})
    assert claimed.status_code == 200 and claimed.json()["epoch_index"] == 0

    got = node.result("cartesi_getOutput", {"application": APP, "output_index": "0x1"})["data"]
    assert got["hash"] == "0x" + keccak(bytes.fromhex(got["raw_data"][2:])).hex()
    siblings = [bytes.fromhex(s[2:]) for s in got["output_hashes_siblings"]]
    assert len(siblings) == LOG2_MAX_OUTPUTS
    assert root_from_proof(bytes.fromhex(got["hash"][2:]), 1, siblings) == tree.root(2)
    assert siblings == tree.proof(1, 2)[1]
    unclaimed = node.result("cartesi_getOutput", [APP, "0x2"])["data"]
    assert unclaimed["hash"] is None and unclaimed["output_hashes_siblings"] is None

    epochs = node.result("cartesi_listEpochs", {"application": APP})["data"]
    assert [(e["index"], e["status"]) for e in epochs] == [("0x0", "CLAIM_ACCEPTED"),
                                                           ("0x1", "OPEN")]
    assert epochs[0]["outputs_merkle_root"] == "0x" + tree.root(2).hex()
    assert epochs[0]["claim_transaction_hash"] == "0x" + "ab" * 32
    assert (epochs[0]["first_block"], epochs[0]["last_block"]) == ("0x0", "0x3")
    assert (epochs[0]["input_index_lower_bound"], epochs[0]["input_index_upper_bound"]) == (
        "0x0", "0x2")
    assert node.result("cartesi_getLastAcceptedEpochIndex", {"application": APP}) == {
        "data": "0x0"}
    assert node.result("cartesi_getEpoch", [APP, "0x1"])["data"] == epochs[1]
    assert node.result("cartesi_listEpochs", {"application": APP, "status": "OPEN"})[
        "data"] == [epochs[1]]
    # The same claim again is fine (a restarted bridge re-reports it).
    again = node.session.post(node.url + "/dev/claim", json={
        "last_block": 3, "outputs_merkle_root": "0x" + tree.root(2).hex(), "output_count": 2})
    assert again.status_code == 200


# ---------------------------------------------------------------- application


def test_application_by_name_or_address_with_every_field_viem_converts(node):
    node.advance(ALICE)
    listed = node.result("cartesi_listApplications", {})
    assert listed["pagination"] == {"total_count": 1, "limit": 50, "offset": 0}
    (app,) = listed["data"]
    for ident in ("streamable-token", APP, APP.lower(), APP.upper().replace("0X", "0x")):
        assert node.result("cartesi_getApplication", {"application": ident})["data"] == app
    assert app["name"] == "streamable-token" and app["iapplication_address"] == APP
    assert app["status"] == "OK" and app["enabled"] is True and app["reason"] is None
    assert app["processed_inputs"] == "0x1" and app["epoch_length"] == "0x4"
    assert app["iinputbox_address"] == "0x593E5BCf894D6829Dd26D0810DA7F064406aebB6"
    assert app["data_availability"] == "0x" + (keccak(text="InputBox(address)")[:4] + bytes(12)
                                               + bytes.fromhex(app["iinputbox_address"][2:])).hex()
    # Every integer viem runs through hexToBigInt is a hex string.
    for key in ("epoch_length", "claim_staging_period", "iinputbox_block",
                "last_epoch_check_block", "last_input_check_block", "last_output_check_block",
                "last_tournament_check_block", "last_foreclose_check_block",
                "last_accounts_drive_proved_check_block", "last_withdrawal_check_block",
                "processed_inputs", "foreclose_block", "accounts_drive_proved_block"):
        assert app[key].startswith("0x"), key
    for key in ("log2_leaves_per_account", "log2_max_num_of_accounts",
                "accounts_drive_start_index"):
        assert app["withdrawal_config"][key] == "0x0"
    params = app["execution_parameters"]
    assert params["snapshot_policy"] == "NONE" and params["max_concurrent_inspects"] == 1
    assert node.result("cartesi_getChainId") == {"data": "0x7a69"}
    assert node.result("cartesi_getNodeVersion", []) == {"data": NODE_VERSION}


def test_name_is_settable_and_app_comes_from_a_deployment(make_host, tmp_path):
    node = Node(make_host, name="my-dapp", app=BOB)
    assert node.result("cartesi_getApplication", ["my-dapp"])["data"]["iapplication_address"] == BOB
    assert node.error("cartesi_getApplication", ["streamable-token"]) == (
        -32001, "Application not found")
    # serve --deployment reads the addresses make l1-up wrote; a bad file is refused.
    bad = tmp_path / "deployment.json"
    bad.write_text(json.dumps({"application": APP}))
    assert cli_main(["serve", "--port", "0", "--deployment", str(bad)]) == 2
    assert cli_main(["serve", "--port", "0", "--name", "Bad Name"]) == 2


# ---------------------------------------------------------------- errors


def test_errors_are_the_spec_codes(node):
    node.advance(ALICE, notices=[note("x")])
    assert node.error("cartesi_getInput", {"application": "unknown-app", "input_index": "0x0"})[0] == -32001
    assert node.error("cartesi_getInput", {"application": "0x" + "11" * 20,
                                           "input_index": "0x0"})[0] == -32001
    assert node.error("cartesi_getInput", {"application": APP, "input_index": "0x9"}) == (
        -32001, "Input not found")
    assert node.error("cartesi_getOutput", [APP, "0x5"]) == (-32001, "Output not found")
    assert node.error("cartesi_getReport", [APP, "0x0"]) == (-32001, "Report not found")
    assert node.error("cartesi_getEpoch", [APP, "0x7"]) == (-32001, "Epoch not found")
    for params in ({"application": "A!"}, {"application": 5}, {}, ["ab"]):
        code, message = node.error("cartesi_getApplication", params)
        assert code == -32602 and "application" in message
    for index in ("1", "0x", "0x01", "0xg", 1, "0x" + "f" * 17):
        code, message = node.error("cartesi_getInput", {"application": APP, "input_index": index})
        assert code == -32602 and "input index" in message, (index, message)
    assert node.error("cartesi_getInput", {"application": APP})[0] == -32602
    for params in ({"application": APP, "limit": -1}, {"application": APP, "limit": "5"},
                   {"application": APP, "descending": "yes"},
                   {"application": APP, "sender": "0x12"},
                   {"application": APP, "status": "DONE"},
                   [APP, None, None, 1, 0, False, "extra"], "text"):
        method = "cartesi_listEpochs" if "status" in str(params) else "cartesi_listInputs"
        assert node.error(method, params)[0] == -32602, params
    assert node.error("cartesi_listOutputs", {"application": APP, "output_type": "Voucher"})[0] == -32602
    assert node.error("cartesi_sendInput", {})[0] == -32601
    assert node.raw(b"{not json").json()["error"]["code"] == -32700
    assert node.raw(b"[" * 100_000).json()["error"]["code"] == -32700      # too deep
    assert node.raw(b'{"jsonrpc":"2.0","id":NaN,"method":"x"}').json()["error"]["code"] == -32700
    assert node.raw(b"\xff\xfe{").json()["error"]["code"] == -32700
    assert node.raw({"id": 1, "method": "cartesi_getChainId"}).json()["error"]["code"] == -32600
    assert node.raw({"jsonrpc": "2.0", "id": [1], "method": "x"}).json()["error"]["code"] == -32600
    assert node.raw([]).json()["error"]["code"] == -32600
    batch = node.raw([{"jsonrpc": "2.0", "id": 1, "method": "cartesi_getChainId"},
                      {"jsonrpc": "2.0", "id": "b", "method": "cartesi_getNodeVersion"}]).json()
    assert [a["id"] for a in batch] == [1, "b"] and batch[0]["result"] == {"data": "0x7a69"}
    assert node.raw(b" " * (1 << 20) + b"{}").status_code == 413
    # Unknown names are ignored, as the node's decoder does (viem sends camelCase twins).
    assert node.result("cartesi_listInputs", {"application": APP, "epochIndex": "1"})[
        "pagination"]["total_count"] == 1


def test_cors_for_a_browser_frontend(node):
    preflight = node.session.options(node.url + "/rpc", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" in node.session.options(
        node.url + "/inspect/streamable-token").headers
    for private in ("/dev/advance", "/finish", "/notice"):
        refused = node.session.options(node.url + private, headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in refused.headers, private
    answer = node.raw({"jsonrpc": "2.0", "id": 1, "method": "cartesi_getChainId"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    inspect = node.session.post(node.url + "/inspect/streamable-token", data=b"x")
    assert inspect.headers["Access-Control-Allow-Origin"] == "*"
    missing = node.session.post(node.url + "/inspect/nobody-here", data=b"x")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"


def test_discover_lists_every_method(node):
    names = {m["name"] for m in node.result("rpc.discover")["methods"]}
    assert set(METHODS) <= names


def test_v1_host_has_no_node_rpc(make_host):
    server, url, client = make_host(rollups="v1")
    response = requests.post(url + "/rpc", json={"jsonrpc": "2.0", "id": 1,
                                                 "method": "cartesi_getChainId"})
    assert response.status_code == 404 and "v2" in response.json()["error"]


# ---------------------------------------------------------------- node inspect


def test_node_inspect_answers_like_the_node(node):
    node.advance(ALICE)
    for ident in ("streamable-token", APP, APP.lower()):
        answer = node.session.post(f"{node.url}/inspect/{ident}", data=b"balance/x")
        assert answer.status_code == 200
        assert answer.json() == {"status": "Accepted", "reports": [{"payload": note("balance/x")}],
                                 "processed_input_count": 1}
    rejected = node.session.post(node.url + "/inspect/streamable-token", data=b"reject").json()
    assert rejected["status"] == "Rejected" and "exception" not in rejected
    broke = node.session.post(node.url + "/inspect/streamable-token", data=b"exception").json()
    assert broke["status"] == "Exception" and broke["exception"] == note("inspect broke")
    assert broke["reports"] == [{"payload": note("exception")}]
    # An exception in an inspect does not stop the application.
    assert node.advance(ALICE)["status"] == "accepted"
    unknown = node.session.post(node.url + "/inspect/someone-else", data=b"x")
    assert unknown.status_code == 404 and "streamable-token" in unknown.json()["error"]
    huge = node.session.post(node.url + "/inspect/streamable-token", data=b"x" * ((2 << 20) + 1))
    assert huge.status_code == 413
    exact = node.session.post(node.url + "/inspect/streamable-token", data=b"y" * (2 << 20))
    assert exact.status_code == 200 and exact.json()["status"] == "Accepted"


def test_after_an_exception_the_application_is_halted_and_says_so(node, capfd):
    node.advance(ALICE, notices=[note("ok")])
    broke = node.advance(ALICE, status="exception", notices=[note("lost")], reports=[note("why")])
    assert broke["status"] == "exception" and broke["exception_payload"] == note("broke")
    inputs = node.result("cartesi_listInputs", [APP])["data"]
    assert [i["status"] for i in inputs] == ["ACCEPTED", "EXCEPTION"]
    # A later input is recorded but never processed; inspects are refused.
    with pytest.raises(HostRequestError) as later:
        node.advance(BOB, notices=[note("never")])
    assert later.value.status_code == 503 and "halted" in later.value.message
    assert node.result("cartesi_getInput", [APP, "0x2"])["data"]["status"] == "NONE"
    app = node.result("cartesi_getApplication", [APP])["data"]
    assert app["status"] == "FAILED" and app["enabled"] is False
    assert "exception on input 1" in app["reason"]
    assert node.result("cartesi_getProcessedInputCount", [APP]) == {"data": "0x2"}
    # The exception's report stays; its notices never count.
    assert [r["raw_data"] for r in node.result("cartesi_listReports", [APP])["data"]] == [note("why")]
    assert node.result("cartesi_listOutputs", [APP])["pagination"]["total_count"] == 1
    inspect = node.session.post(node.url + "/inspect/streamable-token", data=b"x")
    assert inspect.status_code == 503 and "halted" in inspect.json()["error"]
    assert "application is halted" in capfd.readouterr().err


def test_node_api_is_usable_without_http():
    class Host:
        from rollup_host import HostConfig
        config = HostConfig(epoch_length=4)

        def node_snapshot(self):
            return [], [], 1, None

    api = NodeApi(Host())
    status, body = api.handle(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "cartesi_listInputs",
                                          "params": ["streamable-token"]}).encode())
    assert status == 200 and json.loads(body)["result"]["data"] == []


# ---------------------------------------------------------------- official clients


@pytest.mark.l1
def test_both_official_clients_read_every_method(node):
    """@cartesi/viem converts every field it knows (a missing one throws) and
    @cartesi/rpc reads the same answers; both pinned in package.json."""
    import shutil
    import subprocess

    from l1.testing import ensure_node_deps

    ensure_node_deps()
    if shutil.which("node") is None:
        pytest.skip("node not found: this check needs Node.js")
    node.advance(ALICE, block=1, notices=[note("n")], vouchers=[[TOKEN, 3, transfer(BOB, 1)]])
    node.advance(BOB, block=2, status="reject", reports=[note("refused")])
    node.advance(BOB, block=5, notices=[note("later")])
    outputs = node.result("cartesi_listOutputs", [APP])["data"]
    tree = OutputsTree()
    for o in outputs:
        tree.append(bytes.fromhex(o["raw_data"][2:]))
    assert node.session.post(node.url + "/dev/claim", json={
        "last_block": 3, "outputs_merkle_root": "0x" + tree.root(2).hex(),
        "output_count": 2}).status_code == 200
    script = Path(__file__).resolve().parent / "js" / "every_method.mjs"
    done = subprocess.run(["node", str(script), node.url, "streamable-token"],
                          cwd=script.parent.parent.parent, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    v, r = got["viem"], got["rpc"]
    assert v["getApplication"]["applicationAddress"] == APP
    assert v["getApplication"]["dataAvailability"] == {
        "type": "InputBox", "inputBoxAddress": "0x593E5BCf894D6829Dd26D0810DA7F064406aebB6"}
    assert v["listApplications"]["pagination"] == {"limit": 50, "offset": 0, "totalCount": 1}
    assert v["getChainId"] == 31337 and v["getNodeVersion"] == NODE_VERSION
    assert [i["index"] for i in v["listInputs"]["data"]] == ["1", "0"]
    assert v["listInputs"]["pagination"]["totalCount"] == 3
    assert v["getInput"]["decodedData"]["sender"] == ALICE
    assert v["getInput"]["status"] == "ACCEPTED" and v["getProcessedInputCount"] == "3"
    assert [o["index"] for o in v["listOutputs"]["data"]] == ["1"]
    assert v["listOutputs"]["data"][0]["decodedData"] == {
        "type": "Voucher", "payload": transfer(BOB, 1), "destination": TOKEN, "value": "3"}
    assert v["getOutput"]["decodedData"] == {"type": "Notice", "payload": note("n")}
    assert len(v["getOutput"]["outputHashesSiblings"]) == LOG2_MAX_OUTPUTS
    assert [x["rawData"] for x in v["listReports"]["data"]] == [note("refused")]
    assert v["getReport"]["inputIndex"] == "1"
    assert [(e["index"], e["status"]) for e in v["listEpochs"]["data"]] == [
        ("0", "CLAIM_ACCEPTED"), ("1", "OPEN")]
    assert v["getEpoch"]["outputsMerkleRoot"] == "0x" + tree.root(2).hex()
    assert v["getLastAcceptedEpochIndex"] == "0"
    assert v["missingInput"] == "Requested resource not found."  # viem knows -32001
    assert r["listInputs"]["pagination"]["total_count"] == 3
    assert r["listInputs"]["data"][0]["transaction_hash"] == r["listInputs"]["data"][0][
        "transaction_reference"]
    assert r["getOutput"]["data"]["hash"] == "0x" + tree.leaves[0].hex()
    assert r["getProcessedInputCount"] == {"data": "0x3"}
    assert r["missingApplication"]["code"] == -32001


def test_a_kept_chain_keeps_the_halt_and_the_l1_references(make_host, tmp_path):
    chain = str(tmp_path / "chain")
    node = Node(make_host, chain_file=chain)
    reference = {"transaction_hash": "0x" + "cd" * 32, "log_index": 3}
    fed = node.session.post(node.url + "/dev/advance", json={
        "sender": ALICE, "payload": note(json.dumps({"notices": [note("x")]})), **reference})
    assert fed.status_code == 200 and fed.json()["status"] == "accepted"
    assert node.advance(ALICE, status="exception")["status"] == "exception"
    node.server.stop()
    # A node keeps a failed application failed: so does a host restarted on its chain.
    again = Node(make_host, dapp=False, chain_file=chain)
    app = again.result("cartesi_getApplication", [APP])["data"]
    assert app["status"] == "FAILED" and "exception on input 1" in app["reason"]
    first = again.result("cartesi_getInput", [APP, "0x0"])["data"]
    assert (first["transaction_hash"], first["log_index"]) == ("0x" + "cd" * 32, "0x3")
    bad = again.session.post(again.url + "/dev/advance", json={
        "sender": ALICE, "payload": "0x", "transaction_hash": "0x12", "log_index": 0})
    assert bad.status_code == 400 and "transaction_hash" in bad.json()["error"]


def test_serve_options_from_a_deployment_file(tmp_path):
    from rollup_host.__main__ import _host_options, build_parser
    from rollup_host import HostConfig

    dep = tmp_path / "deployment.json"
    dep.write_text(json.dumps({
        "application": BOB.lower(), "erc20_portal": TOKEN, "input_box": ALICE,
        "authority": APP, "chain_id": 1337, "epoch_length": 7, "deploy_block": 3,
        "template_hash": "0x" + "AB" * 32, "token": TOKEN, "rpc_url": "http://x"}))
    args = build_parser().parse_args(["serve", "--deployment", str(dep), "--name", "my-dapp"])
    config = HostConfig(**_host_options(args))
    assert (config.app, config.portal, config.input_box, config.consensus) == (BOB, TOKEN, ALICE, APP)
    assert (config.chain_id, config.epoch_length, config.input_box_block) == (1337, 7, 3)
    assert config.template_hash == "0x" + "ab" * 32 and config.name == "my-dapp"
    # Flags name another application, portal or epoch length: they win.
    args = build_parser().parse_args(["serve", "--deployment", str(dep), "--app", APP,
                                      "--portal", ALICE, "--epoch-length", "5"])
    config = HostConfig(**_host_options(args))
    assert (config.app, config.portal, config.epoch_length) == (APP, ALICE, 5)
    dep.write_text(json.dumps({"application": APP, "erc20_portal": TOKEN, "input_box": ALICE,
                               "chain_id": "31337"}))
    with pytest.raises(ValueError, match="chain_id must be an integer"):
        _host_options(build_parser().parse_args(["serve", "--deployment", str(dep)]))
    with pytest.raises(ValueError, match="epoch_length must be an integer >= 1"):
        HostConfig(epoch_length=0)


def test_an_execution_reported_by_the_bridge_shows_on_the_output(node):
    node.advance(ALICE, notices=[note("n")], vouchers=[[TOKEN, 0, transfer(BOB, 1)]])
    tx = "0x" + "EF" * 32
    for body, field in (({"output_index": 0, "transaction_hash": tx}, "output_index"),  # a notice
                        ({"output_index": 2, "transaction_hash": tx}, "output_index"),  # none
                        ({"output_index": 1, "transaction_hash": "0x12"}, "transaction_hash"),
                        ({"output_index": "1", "transaction_hash": tx}, "output_index")):
        refused = node.session.post(node.url + "/dev/executed", json=body)
        assert refused.status_code == 400 and field in refused.json()["error"], body
    assert node.result("cartesi_getOutput", [APP, "0x1"])["data"]["execution_transaction_hash"] is None
    ok = node.session.post(node.url + "/dev/executed", json={"output_index": 1, "transaction_hash": tx})
    assert ok.status_code == 200
    assert node.result("cartesi_getOutput", [APP, "0x1"])["data"][
        "execution_transaction_hash"] == tx.lower()
