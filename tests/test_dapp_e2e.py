"""End to end over real HTTP: the local rollup host and the real dapp.py loop."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eth_abi import decode as abi_decode

from dapp import RollupClient
from streamable_token.rollup.codec import ERC20_TRANSFER_SELECTOR
from tests.conftest import LocalNode

pytestmark = pytest.mark.integration


TOKEN = "0x1111111111111111111111111111111111111111"
ALICE = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
BOB = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
CAROL = "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
E18 = 10**18


def payload_json(hex_payload: str) -> dict:
    return json.loads(bytes.fromhex(hex_payload[2:]))


def notices(result: dict) -> list[dict]:
    return [payload_json(n["payload"]) for n in result["notices"]]


def reports(result: dict) -> list[dict]:
    return [payload_json(r["payload"]) for r in result["reports"]]


def balance(node, account: str, block: int | None = None) -> dict:
    route = f"balance/{TOKEN}/{account}" + ("" if block is None else f"/{block}")
    answer = node.client.inspect(route)
    assert answer["status"] == "accepted", answer
    return payload_json(answer["reports"][0]["payload"])


def send(node, sender: str, op: dict) -> dict:
    return node.client.advance(sender, json.dumps(op).encode())


def test_full_round_trip_deposit_stream_inspect_cancel_withdraw(node):
    client = node.client
    start = client.block()
    dep = client.deposit(TOKEN, ALICE, 100 * E18)
    assert dep["status"] == "accepted"
    assert notices(dep) == [
        {"event": "deposit", "token": TOKEN, "account": ALICE, "amount": str(100 * E18), "block": start}
    ]

    opened = send(node, ALICE, {"op": "open_stream", "token": TOKEN.lower(), "receiver": BOB.lower(),
                                "amount": str(10 * E18 + 3), "duration": 10})
    assert opened["status"] == "accepted", reports(opened)
    stream = notices(opened)[0]
    assert stream["event"] == "stream_opened" and stream["id"] == 1
    assert (stream["rate"], stream["remainder"], stream["end_block"]) == (str(E18), "3", start + 10)

    # balances at several blocks, read-only, projected forward
    assert balance(node, BOB, start + 4)["balance"] == str(4 * E18)
    assert balance(node, BOB, start + 10)["balance"] == str(10 * E18 + 3)
    alice = balance(node, ALICE, start + 4)
    assert (alice["available"], alice["committed"]) == (str(90 * E18 - 3), str(6 * E18 + 3))

    client.mine(6)
    canceled = send(node, BOB, {"op": "cancel_stream", "stream_id": 1})
    assert canceled["status"] == "accepted"
    assert notices(canceled)[0] == {"event": "stream_canceled", "id": 1, "by": BOB, "streamed": str(6 * E18),
                                    "refunded": str(4 * E18 + 3), "block": start + 6}
    assert balance(node, ALICE)["balance"] == str(94 * E18)

    withdrawn = send(node, BOB, {"op": "withdraw", "token": TOKEN, "amount": str(6 * E18)})
    assert withdrawn["status"] == "accepted"
    (voucher,) = withdrawn["vouchers"]
    assert voucher["destination"] == TOKEN
    assert voucher["value"] == "0x" + "00" * 32
    calldata = bytes.fromhex(voucher["payload"][2:])
    assert calldata[:4] == ERC20_TRANSFER_SELECTOR
    to, amount = abi_decode(["address", "uint256"], calldata[4:])
    assert (to.lower(), amount) == (BOB.lower(), 6 * E18)
    assert balance(node, BOB)["balance"] == "0"

    token = payload_json(client.inspect(f"token/{TOKEN}")["reports"][0]["payload"])
    assert token == {"token": TOKEN, "deposited": str(100 * E18), "withdrawn": str(6 * E18),
                     "total_supply": str(94 * E18)}


def test_forged_deposit_from_a_wallet_is_refused(node):
    forged = bytes.fromhex(TOKEN[2:]) + bytes.fromhex(ALICE[2:]) + (10**30).to_bytes(32, "big")
    result = node.client.advance(ALICE, forged)
    assert result["status"] == "rejected"
    assert "portal" in reports(result)[0]["error"]["message"]
    assert balance(node, ALICE)["balance"] == "0"


def test_a_batch_with_one_bad_op_changes_nothing(node):
    node.client.deposit(TOKEN, ALICE, 1000)
    before = node.client.inspect("state-hash")["reports"]
    good = {"op": "open_stream", "token": TOKEN, "receiver": BOB, "amount": "100", "duration": 10}
    bad = {"op": "transfer", "token": TOKEN, "receiver": CAROL, "amount": "5000"}
    result = send(node, ALICE, {"op": "batch", "ops": [good, good, bad]})
    assert result["status"] == "rejected"
    assert reports(result)[0]["error"]["type"] == "InsufficientFunds"
    assert node.client.inspect("state-hash")["reports"] == before
    ok = send(node, ALICE, {"op": "batch", "ops": [good, good]})
    assert notices(ok)[-1] == {"event": "batch", "ops": 2, "stream_ids": [1, 2], "block": node.client.block()}


def test_deposit_with_an_attached_command_opens_a_stream(node):
    command = json.dumps({"op": "open_stream", "token": TOKEN, "receiver": BOB, "amount": "500", "duration": 5})
    result = node.client.deposit(TOKEN, ALICE, 1000, exec_layer_data=command.encode())
    assert [n["event"] for n in notices(result)] == ["deposit", "stream_opened"]
    # a failing attached command does not strand the deposit
    bad = json.dumps({"op": "withdraw", "token": TOKEN, "amount": "999999"})
    result = node.client.deposit(TOKEN, CAROL, 7, exec_layer_data=bad.encode())
    assert result["status"] == "accepted"
    assert reports(result)[0]["error"]["type"] == "InsufficientFunds"
    assert balance(node, CAROL)["balance"] == "7"


def test_loop_restarted_on_the_same_database_carries_on(node):
    node.client.deposit(TOKEN, ALICE, 1000)
    send(node, ALICE, {"op": "open_stream", "token": TOKEN, "receiver": BOB, "amount": "100", "duration": 10})
    node.client.mine(5)
    expected = balance(node, BOB)
    node.restart_dapp()
    assert balance(node, BOB) == expected
    result = send(node, ALICE, {"op": "transfer", "token": TOKEN, "receiver": CAROL, "amount": "1"})
    assert result["status"] == "accepted"
    assert balance(node, CAROL)["balance"] == "1"


def test_inspect_routes_and_bad_queries(node):
    node.client.deposit(TOKEN, ALICE, 1000)
    send(node, ALICE, {"op": "open_stream", "token": TOKEN, "receiver": BOB, "amount": "100", "duration": 10,
                       "start_block": node.client.block() + 5})
    page = payload_json(node.client.inspect(f"streams/{ALICE}?role=outgoing&limit=1")["reports"][0]["payload"])
    assert [s["id"] for s in page["streams"]] == [1] and page["next_after"] == 1
    stream = payload_json(node.client.inspect("stream/1")["reports"][0]["payload"])
    assert stream["status"] == "pending"
    # Mining adds no input, so a block-less read still answers at the last input's block;
    # asked at a block, the stream and the listing answer there.
    opened_at = stream["block"]
    node.client.mine(100)
    assert payload_json(node.client.inspect("stream/1")["reports"][0]["payload"])["block"] == opened_at
    for route in (f"stream/1/{opened_at + 10}", f"stream/1?block={opened_at + 10}"):
        mid = payload_json(node.client.inspect(route)["reports"][0]["payload"])
        assert (mid["status"], mid["streamed"], mid["block"]) == ("streaming", "50", opened_at + 10), route
    ended = payload_json(node.client.inspect(f"streams/{ALICE}/{opened_at + 100}")["reports"][0]["payload"])
    assert [(s["status"], s["streamed"]) for s in ended["streams"]] == [("settled", "100")]
    assert ended["block"] == opened_at + 100
    by_json = node.client.inspect(json.dumps({"route": "balance", "token": TOKEN, "account": BOB, "block": 10**6}))
    assert payload_json(by_json["reports"][0]["payload"])["balance"] == "100"
    for bad in ("balance/../etc", "stream/abc", "nothing/here", "balance/%00", "streams/x?role=1;DROP"):
        answer = node.client.inspect(bad)
        assert answer["status"] == "rejected", bad
        assert "error" in payload_json(answer["reports"][0]["payload"])


def test_v1_rollups_deposit_and_withdraw_voucher(tmp_path):
    node = LocalNode(tmp_path, rollups="v1")
    try:
        node.client.deposit(TOKEN, ALICE, 50)
        assert balance(node, ALICE)["balance"] == "50"
        result = send(node, ALICE, {"op": "withdraw", "token": TOKEN, "amount": "20"})
        assert result["status"] == "accepted"
        (voucher,) = result["vouchers"]
        assert "value" not in voucher or voucher["value"] in (None, "")
        assert abi_decode(["address", "uint256"], bytes.fromhex(voucher["payload"][10:]))[1] == 20
    finally:
        node.close()


class FlakyServer(BaseHTTPRequestHandler):
    """Answers /finish with 500, then garbage, then one advance; counts what it sees."""

    script: list = []
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append((self.path, body))
        status, answer = self.script.pop(0) if self.script else (202, b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_finish_retries_through_500_and_garbage_with_the_same_status():
    advance = {"request_type": "advance_state", "data": {"metadata": {}, "payload": "0x"}}
    FlakyServer.script = [(500, b"oops"), (200, b"{not json"), (200, b'{"request_type":"bogus"}'),
                          (200, json.dumps(advance).encode())]
    FlakyServer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = RollupClient(f"http://127.0.0.1:{server.server_port}", max_backoff=0.05)
        assert client.finish("reject", first=False) == advance
        assert [json.loads(b)["status"] for _, b in FlakyServer.seen] == ["reject"] * 4
    finally:
        server.shutdown()


def test_http_client_gives_up_on_a_server_that_never_answers():
    import socket
    import time

    from streamable_token.rollup.http_client import Connection, NoAnswer

    with socket.create_server(("127.0.0.1", 0)) as listener:
        conn = Connection(f"http://127.0.0.1:{listener.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(NoAnswer):
            conn.post("/finish", {"status": "accept"}, timeout=0.3)  # accepted by the backlog, never read
        waited = time.monotonic() - started
        peer, _ = listener.accept()
        peer.close()
    assert 0.25 < waited < 30, waited  # not before the timeout, and it did not hang
    assert conn._sock is None  # dropped: the next call starts on a fresh connection


# --- the DApp's HTTP client reads answers as http.client does ---------------------------

ANSWERS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 201\r\nContent-Length: 11\r\n\r\n{\"index\":0}",  # no reason phrase
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
    b"HTTP/1.0 200 OK\r\n\r\nread to the end",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA",
    b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 1\r\n\r\nz",
]
BROKEN_ANSWERS = [
    b"",
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
]


def _answer_via(reader, raw: bytes):
    import socket

    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(2)
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        return reader(ours)


def _stdlib(sock):
    import http.client

    resp = http.client.HTTPResponse(sock, method="POST")
    resp.begin()
    return resp.status, resp.read(), resp.will_close


def test_http_client_reads_answers_as_http_client_does():
    from streamable_token.rollup.http_client import read_response

    for raw in ANSWERS:
        assert _answer_via(read_response, raw) == _answer_via(_stdlib, raw), raw
    for raw in BROKEN_ANSWERS:
        kinds = []
        for reader in (read_response, _stdlib):
            try:
                _answer_via(reader, raw)
            except Exception as err:  # noqa: BLE001 (the class is what is compared)
                kinds.append(type(err).__name__)
        assert len(kinds) == 2 and kinds[0] == kinds[1], (raw, kinds)
