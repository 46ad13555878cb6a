"""Tests for the local rollup host (``rollup_host``).

Each test starts a host on an ephemeral port and plays the DApp's side over HTTP with
its own ``requests.Session``, exactly as ``dapp.py`` would: long-poll ``/finish``,
post outputs, finish with a status.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from rollup_host import HostClient, HostRequestError, start_in_thread
from rollup_host.__main__ import build_parser, main as cli_main, parse_amount
from rollup_host.codec import (
    InvalidField,
    decode_payload,
    decode_transfer,
    from_hex,
    parse_uint256,
)
from rollup_host.selftest import measure
from rollup_host.handler import read_headers

pytestmark = pytest.mark.integration


REPO_ROOT = Path(__file__).resolve().parent.parent

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20
TOKEN = "0x" + "70" * 20
PORTAL_V2 = "0xc700D6aDd016eECd59d989C028214Eaa0fCC0051"
PORTAL_V1 = "0x9C21AEb2093C32DDbC53eEF24B873BDCd1aDa1DB"
ZERO_VALUE = "0x" + "00" * 32


def hexs(data: bytes) -> str:
    return "0x" + data.hex()


def transfer_call(to: str, amount: int) -> str:
    return hexs(bytes.fromhex("a9059cbb") + abi_encode(["address", "uint256"], [to, amount]))


# ------------------------------------------------------------------ fixtures


class FakeDApp:
    """Plays ``dapp.py``: long-polls ``/finish`` and hands each request to ``handle``.

    ``handle(dapp, request)`` may post outputs through ``dapp.post`` and returns the
    status for the next ``/finish`` (default ``"accept"``).
    """

    def __init__(self, url: str, handle: Callable[[FakeDApp, dict[str, Any]], str | None]):
        self.url = url
        self.handle = handle
        self.seen: list[dict[str, Any]] = []
        self.answers: list[tuple[str, int, Any]] = []
        self.errors: list[BaseException] = []
        self.session = requests.Session()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        response = self.session.post(self.url + path, json=body)
        self.answers.append((path, response.status_code,
                             response.json() if response.content else None))
        return response

    def _run(self) -> None:
        status = "accept"
        while not self._stop.is_set():
            try:
                response = self.session.post(self.url + "/finish", json={"status": status})
            except requests.ConnectionError:
                return
            if response.status_code != 200:
                status = "accept"
                continue
            request = response.json()
            self.seen.append(request)
            try:
                status = self.handle(self, request) or "accept"
            except BaseException as exc:  # surfaced by the fixture
                self.errors.append(exc)
                status = "reject"

    def start(self) -> FakeDApp:
        self._thread.start()
        return self

    def stop(self, join: bool = True) -> None:
        self._stop.set()
        if join:
            self._thread.join(timeout=5)


@pytest.fixture
def make_host():
    """Factory: ``make_host(**options) -> (server, url, client)``; all stopped after."""
    started: list[Any] = []
    dapps: list[FakeDApp] = []

    def factory(**options: Any):
        options.setdefault("finish_timeout", 0.2)
        options.setdefault("wait_timeout", 10.0)
        server, url = start_in_thread(**options)
        client = HostClient(url, timeout=15)
        started.append((server, client))
        return server, url, client

    def run_dapp(url: str, handle) -> FakeDApp:
        dapp = FakeDApp(url, handle).start()
        dapps.append(dapp)
        return dapp

    factory.dapp = run_dapp
    yield factory
    for dapp in dapps:
        dapp.stop(join=False)
    for server, client in started:  # closing the host ends the DApps' long-polls
        client.close()
        server.stop()
    for dapp in dapps:
        dapp.stop()
        assert not dapp.errors, dapp.errors


def echo(dapp: FakeDApp, request: dict[str, Any]) -> str:
    """Accept everything; echo advances as notices and inspects as reports."""
    payload = request["data"]["payload"]
    if request["request_type"] == "advance_state":
        dapp.post("/notice", {"payload": payload})
    else:
        dapp.post("/report", {"payload": payload})
    return "accept"


# ------------------------------------------------------------- rollup side


def test_advance_delivers_v2_metadata_and_keeps_outputs(make_host):
    server, url, client = make_host()

    def handle(dapp: FakeDApp, request: dict[str, Any]) -> str:
        dapp.post("/notice", {"payload": "0x7b7d"})
        dapp.post("/voucher", {"destination": TOKEN, "value": ZERO_VALUE,
                               "payload": transfer_call(BOB, 5)})
        dapp.post("/report", {"payload": "0x01"})
        return "accept"

    dapp = make_host.dapp(url, handle)
    result = client.advance(ALICE.upper().replace("0X", "0x"), {"op": "x"})

    request = dapp.seen[0]
    assert request["request_type"] == "advance_state"
    assert request["data"]["payload"] == hexs(b'{"op":"x"}')
    metadata = request["data"]["metadata"]
    assert list(metadata) == ["chain_id", "app_contract", "msg_sender", "block_number",
                              "block_timestamp", "prev_randao", "input_index"]
    assert metadata["chain_id"] == 31337
    assert metadata["app_contract"] == "0xab7528bb862fB57E8A2BCd567a2e929a0Be56a5e"
    assert metadata["msg_sender"] == to_checksum_address(ALICE)
    assert metadata["block_number"] == 1
    assert metadata["block_timestamp"] == 1_700_000_000 + 12
    assert metadata["prev_randao"] == hexs(keccak((1).to_bytes(32, "big")))
    assert metadata["input_index"] == 0

    assert [a[:2] for a in dapp.answers] == [("/notice", 201), ("/voucher", 201),
                                             ("/report", 201)]
    assert dapp.answers[0][2] == {"index": 0} and dapp.answers[1][2] == {"index": 1}
    assert result["status"] == "accepted"
    assert result["input_index"] == 0
    assert result["block_number"] == 1
    assert result["notices"] == [{"index": 0, "payload": "0x7b7d"}]
    assert result["vouchers"] == [{"index": 1, "destination": to_checksum_address(TOKEN),
                                   "value": ZERO_VALUE, "payload": transfer_call(BOB, 5)}]
    assert result["reports"] == [{"payload": "0x01"}]


def test_reject_discards_notices_and_vouchers_but_keeps_reports(make_host):
    server, url, client = make_host()

    def handle(dapp: FakeDApp, request: dict[str, Any]) -> str:
        dapp.post("/notice", {"payload": request["data"]["payload"]})
        dapp.post("/voucher", {"destination": TOKEN, "value": ZERO_VALUE, "payload": "0x"})
        dapp.post("/report", {"payload": "0xee"})
        return "reject" if request["data"]["payload"] == "0xbad0" else "accept"

    dapp = make_host.dapp(url, handle)
    first = client.advance(ALICE, "0x01")
    rejected = client.advance(ALICE, "0xbad0")
    third = client.advance(ALICE, "0x03")

    assert first["status"] == "accepted"
    assert [o["index"] for o in first["notices"] + first["vouchers"]] == [0, 1]
    assert rejected["status"] == "rejected"
    assert rejected["notices"] == [] and rejected["vouchers"] == []
    assert rejected["reports"] == [{"payload": "0xee"}]
    # The rejected input was told index 2 while in flight, but it never counted.
    assert dapp.answers[3][2] == {"index": 2}
    assert third["status"] == "accepted"
    assert [o["index"] for o in third["notices"] + third["vouchers"]] == [2, 3]
    assert [r["input_index"] for r in (first, rejected, third)] == [0, 1, 2]

    listed = client.outputs()
    assert [e["status"] for e in listed] == ["accepted", "rejected", "accepted"]
    assert listed[2]["notices"] == third["notices"]
    assert listed[2]["vouchers"] == third["vouchers"]
    assert listed[1]["payload"] == "0xbad0"
    assert [e["input_index"] for e in client.outputs(from_=1)] == [1, 2]


def test_exception_rejects_input_and_keeps_reports(make_host):
    server, url, client = make_host()

    def handle(dapp: FakeDApp, request: dict[str, Any]) -> None:
        dapp.post("/notice", {"payload": "0x01"})
        dapp.post("/report", {"payload": "0x02"})
        dapp.post("/exception", {"payload": hexs(b"boom")})
        # The input is over: further outputs have nothing to attach to.
        assert dapp.post("/notice", {"payload": "0x03"}).status_code == 400

    make_host.dapp(url, handle)
    result = client.advance(ALICE, "0x")
    assert result["status"] == "exception"
    assert result["notices"] == []
    assert result["reports"] == [{"payload": "0x02"}]
    assert result["exception_payload"] == hexs(b"boom")
    # As a node does, the host then stops processing the application, and says so:
    # a later input is recorded (index 1) but stays queued; inspects are refused.
    with pytest.raises(HostRequestError) as halted:
        client.advance(ALICE, "0x")
    assert halted.value.status_code == 503
    assert "exception on input 0" in halted.value.message and "halted" in halted.value.message
    assert client.status()["queued"] == 1 and "halted" in client.status()["halted"]
    with pytest.raises(HostRequestError) as refused:
        client.inspect("token")
    assert refused.value.status_code == 503
    assert [e["input_index"] for e in client.outputs()] == [0]


def test_finish_answers_202_when_no_input_arrives(make_host):
    server, url, client = make_host(finish_timeout=0.3)
    session = requests.Session()
    start = time.monotonic()
    response = session.post(url + "/finish", json={"status": "accept"})
    elapsed = time.monotonic() - start
    assert response.status_code == 202
    assert response.content == b""
    assert 0.25 <= elapsed < 30  # waited for the long-poll, and did not hang
    # The same connection is still usable (keep-alive, body fully consumed).
    assert session.get(url + "/dev/block").json() == {"block_number": 1}


def test_a_stopped_host_closes_a_polling_connection_instead_of_answering_it_forever(make_host):
    """A client that long-polls in a loop on one keep-alive connection (as a DApp does)
    gets its connection closed once the host stops, not an endless run of instant 202s
    (which kept a test process's threads spinning long after the test that left them)."""
    server, url, client = make_host(finish_timeout=0.2)
    session = requests.Session()
    assert session.post(url + "/finish", json={"status": "accept"}).status_code == 202
    server.stop()
    answers = []
    with pytest.raises(requests.ConnectionError):
        for _ in range(3):
            answers.append(session.post(url + "/finish", json={"status": "accept"}).status_code)
    assert answers in ([], [202])  # the request already on its way may still be answered


def test_restart_header_redelivers_the_same_request_without_its_outputs(make_host):
    server, url, client = make_host()
    client.mine(4)
    queued = client.advance(BOB, "0xc0ffee", wait=False)
    assert queued["status"] == "queued" and queued["input_index"] == 0

    before_crash = requests.Session()
    first = before_crash.post(url + "/finish", json={"status": "accept"}).json()
    assert before_crash.post(url + "/notice", json={"payload": "0xaa"}).json() == {"index": 0}
    before_crash.post(url + "/report", json={"payload": "0xbb"})
    before_crash.close()  # the DApp process dies here

    after_restart = requests.Session()
    headers = {"X-Rollup-Restart": "1"}
    again = after_restart.post(url + "/finish", json={"status": "reject"}, headers=headers)
    assert again.status_code == 200
    assert again.json() == first
    assert first["data"]["metadata"]["input_index"] == 0
    assert first["data"]["metadata"]["block_number"] == 5
    assert after_restart.post(url + "/notice", json={"payload": "0xcc"}).json() == {"index": 0}
    assert after_restart.post(url + "/finish", json={"status": "accept"}).status_code == 202

    [entry] = client.outputs()
    assert entry["status"] == "accepted"
    assert entry["notices"] == [{"index": 0, "payload": "0xcc"}]
    assert entry["reports"] == []


def wait_for_long_polls(client: HostClient, count: int) -> None:
    """Until ``count`` /finish calls are waiting in the host (it counts them)."""
    deadline = time.monotonic() + 30
    while client.status()["long_polls"] != count:
        assert time.monotonic() < deadline, client.status()
        time.sleep(0.005)


def test_dapp_dying_during_long_poll_does_not_take_the_next_input(make_host):
    server, url, client = make_host(finish_timeout=30)  # the dead long-poll outlives any stall
    port = int(url.rsplit(":", 1)[1])
    body = b'{"status":"accept"}'
    with socket.create_connection(("127.0.0.1", port)) as dead:
        dead.sendall(b"POST /finish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        wait_for_long_polls(client, 1)  # the host is now long-polling for this connection
    client.advance(ALICE, "0x01", wait=False)
    wait_for_long_polls(client, 0)  # the long-poll woke for the input and let it be
    status = client.status()
    assert status["queued"] == 1 and status["in_flight"] is None
    make_host.dapp(url, echo)
    assert client.advance(ALICE, "0x02")["input_index"] == 1
    assert [e["input_index"] for e in client.outputs()] == [0, 1]


def test_restart_header_with_nothing_in_flight_just_waits(make_host):
    server, url, client = make_host(finish_timeout=0.1)
    response = requests.post(url + "/finish", data=b"not json",
                             headers={"X-Rollup-Restart": "1"})
    assert response.status_code == 202  # status ignored, not a 400
    assert client.outputs() == []


def test_requests_are_served_in_fifo_order(make_host):
    server, url, client = make_host()
    client.advance(ALICE, "0x01", wait=False)
    inspect_result: dict[str, Any] = {}
    inspector = threading.Thread(
        target=lambda: inspect_result.update(HostClient(url).inspect("state-hash")))
    inspector.start()
    deadline = time.monotonic() + 5
    while client.status()["queued"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    client.advance(BOB, "0x02", wait=False)
    client.deposit(TOKEN, ALICE, 7, wait=False)

    dapp = make_host.dapp(url, echo)
    inspector.join(timeout=30)
    assert not inspector.is_alive()
    last = client.advance(ALICE, "0x04")

    kinds = [(r["request_type"], r["data"].get("metadata", {}).get("input_index"))
             for r in dapp.seen]
    assert kinds == [("advance_state", 0), ("inspect_state", None), ("advance_state", 1),
                     ("advance_state", 2), ("advance_state", 3)]
    assert inspect_result["processed_input_count"] == 1
    assert inspect_result["reports"] == [{"payload": hexs(b"state-hash")}]
    assert last["input_index"] == 3


def test_concurrent_clients_get_distinct_consistent_results(make_host):
    server, url, client = make_host()
    make_host.dapp(url, echo)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with HostClient(url) as own:
            for i in range(10):
                payload = bytes([n, i])
                result = own.advance(ALICE, payload)
                assert result["notices"][0]["payload"] == hexs(payload)
                with lock:
                    results.append(result)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 40
    assert sorted(r["input_index"] for r in results) == list(range(40))
    assert sorted(r["notices"][0]["index"] for r in results) == list(range(40))
    assert [e["input_index"] for e in client.outputs()] == list(range(40))


# ---------------------------------------------------------------- inspects


def test_inspect_via_get_path_post_body_and_dev_route(make_host):
    server, url, client = make_host()
    dapp = make_host.dapp(url, echo)
    client.advance(ALICE, "0x01")

    path = f"balance/{TOKEN}/{ALICE}"
    got = requests.get(f"{url}/inspect/{path}").json()
    assert got["status"] == "accepted"
    assert got["processed_input_count"] == 1
    assert got["reports"] == [{"payload": hexs(path.encode())}]

    # URL-decoded path bytes, query string included (streams/<a>?role=...).
    got = requests.get(f"{url}/inspect/streams/{ALICE}%20x?role=sender&limit=2").json()
    assert decode_payload(got["reports"][0]["payload"]) == f"streams/{ALICE} x?role=sender&limit=2"

    body = json.dumps({"route": "balance", "token": TOKEN}).encode()
    got = requests.post(url + "/inspect", data=body).json()
    assert from_hex(got["reports"][0]["payload"]) == body
    got = requests.post(url + "/inspect/" + "0xab7528bb862fB57E8A2BCd567a2e929a0Be56a5e",
                        data=b"token/x").json()  # v2 node style
    assert from_hex(got["reports"][0]["payload"]) == b"token/x"

    got = client.inspect({"route": "token"})
    assert decode_payload(got["reports"][0]["payload"]) == {"route": "token"}
    assert [r["request_type"] for r in dapp.seen].count("inspect_state") == 5
    assert client.outputs() and len(client.outputs()) == 1  # inspects are not inputs


def test_inspect_allows_only_reports_and_can_be_rejected(make_host):
    server, url, client = make_host()

    def handle(dapp: FakeDApp, request: dict[str, Any]) -> str:
        assert request["request_type"] == "inspect_state"
        dapp.post("/notice", {"payload": "0x01"})
        dapp.post("/voucher", {"destination": TOKEN, "value": ZERO_VALUE, "payload": "0x"})
        dapp.post("/report", {"payload": "0x02"})
        return "reject"

    dapp = make_host.dapp(url, handle)
    result = client.inspect("anything")
    assert [a[1] for a in dapp.answers] == [400, 400, 201]
    assert result["status"] == "rejected"
    assert result["reports"] == [{"payload": "0x02"}]
    assert result["processed_input_count"] == 0


def test_inspect_times_out_with_504_and_is_withdrawn(make_host):
    server, url, client = make_host()
    response = requests.post(url + "/dev/inspect", json={"payload": "0x", "timeout": 0.1})
    assert response.status_code == 504
    assert client.status()["queued"] == 0


# ----------------------------------------------------------------- deposits


@pytest.mark.parametrize("rollups", ["v2", "v1"])
def test_deposit_payload_is_the_exact_portal_encoding(make_host, rollups):
    server, url, client = make_host(rollups=rollups)
    dapp = make_host.dapp(url, echo)
    amount = 2**200 + 12345
    result = requests.post(url + "/dev/deposit", json={
        "token": TOKEN.upper().replace("0X", "0x"), "sender": ALICE,
        "amount": str(amount), "exec_layer_data": hexs(b'{"memo":1}')}).json()

    body = (bytes.fromhex("70" * 20) + bytes.fromhex("a1" * 20)
            + amount.to_bytes(32, "big") + b'{"memo":1}')
    expected = (b"\x01" + body) if rollups == "v1" else body
    request = dapp.seen[0]
    assert from_hex(request["data"]["payload"]) == expected
    assert result["status"] == "accepted"
    assert result["msg_sender"] == (PORTAL_V1 if rollups == "v1" else PORTAL_V2)
    metadata = request["data"]["metadata"]
    if rollups == "v1":
        assert list(metadata) == ["msg_sender", "epoch_index", "input_index",
                                  "block_number", "timestamp"]
        assert metadata["timestamp"] == 1_700_000_000 + 12
    else:
        assert metadata["msg_sender"] == PORTAL_V2


def test_deposit_uses_configured_portal_and_client_helper(make_host):
    portal = "0x" + "5e" * 20
    server, url, client = make_host(portal=portal)
    dapp = make_host.dapp(url, echo)
    result = client.deposit(TOKEN, BOB, "1000", exec_layer_data=b"")
    assert result["msg_sender"] == to_checksum_address(portal)
    assert from_hex(dapp.seen[0]["data"]["payload"]) == (
        bytes.fromhex("70" * 20) + bytes.fromhex("b0" * 20) + (1000).to_bytes(32, "big"))


# ----------------------------------------------------------- blocks, metadata


def test_mine_block_and_explicit_block_numbers(make_host):
    server, url, client = make_host(block=7)
    dapp = make_host.dapp(url, echo)
    assert client.block() == 7
    assert client.mine(3) == 10
    assert client.advance(ALICE, "0x")["block_number"] == 10
    assert client.advance(ALICE, "0x", block=25)["block_number"] == 25
    assert client.block() == 25
    with pytest.raises(HostRequestError) as err:
        client.advance(ALICE, "0x", block=24)
    assert err.value.status_code == 400
    assert dapp.seen[-1]["data"]["metadata"]["block_timestamp"] == 1_700_000_000 + 12 * 25
    assert client.mine(0) == 25


def test_verbatim_metadata_is_passed_through(make_host):
    server, url, client = make_host()
    dapp = make_host.dapp(url, echo)
    metadata = {"chain_id": 1, "app_contract": "0x" + "cd" * 20, "msg_sender": BOB,
                "block_number": 99, "block_timestamp": 123, "prev_randao": "0x" + "00" * 32,
                "input_index": 0}
    result = client.advance_raw(metadata, "0x1234")
    assert dapp.seen[0]["data"]["metadata"] == metadata
    assert result["block_number"] == 99 and result["status"] == "accepted"
    assert client.block() == 99
    with pytest.raises(HostRequestError) as err:
        client.advance_raw(dict(metadata, input_index=5), "0x")
    assert err.value.status_code == 400


def test_v1_vouchers_and_per_kind_indices(make_host):
    server, url, client = make_host(rollups="v1")

    def handle(dapp: FakeDApp, request: dict[str, Any]) -> str:
        dapp.post("/notice", {"payload": "0x01"})
        dapp.post("/voucher", {"destination": TOKEN, "payload": "0x02"})
        dapp.post("/notice", {"payload": "0x03"})
        return "accept"

    make_host.dapp(url, handle)
    result = client.advance(ALICE, "0x")
    assert [n["index"] for n in result["notices"]] == [0, 1]
    assert result["vouchers"] == [{"index": 0, "destination": to_checksum_address(TOKEN),
                                   "payload": "0x02"}]


# --------------------------------------------------------------- validation


def test_bad_bodies_and_out_of_place_outputs_get_400(make_host):
    server, url, client = make_host()
    s = requests.Session()

    def code(method: str, path: str, **kwargs: Any) -> int:
        return s.request(method, url + path, **kwargs).status_code

    # Outputs with no request in flight.
    assert code("POST", "/notice", json={"payload": "0x"}) == 400
    assert code("POST", "/report", json={"payload": "0x"}) == 400
    assert code("POST", "/exception", json={"payload": "0x"}) == 400
    # Developer side.
    assert code("POST", "/dev/advance", json={"sender": ALICE, "payload": "abcd"}) == 400
    assert code("POST", "/dev/advance", json={"sender": ALICE, "payload": "0xabc"}) == 400
    assert code("POST", "/dev/advance", json={"sender": ALICE, "payload": "0xzz"}) == 400
    assert code("POST", "/dev/advance", json={"sender": "0x1234", "payload": "0x"}) == 400
    assert code("POST", "/dev/advance", json={"payload": "0x"}) == 400
    assert code("POST", "/dev/advance", data=b"{not json") == 400
    assert code("POST", "/dev/advance", json=[1, 2]) == 400
    assert code("POST", "/dev/deposit", json={"token": TOKEN, "sender": ALICE,
                                              "amount": "-1"}) == 400
    assert code("POST", "/dev/deposit", json={"token": TOKEN, "sender": ALICE,
                                              "amount": str(2**256)}) == 400
    assert code("POST", "/dev/mine", json={"blocks": -1}) == 400
    assert code("GET", "/dev/outputs?from=x") == 400
    assert code("POST", "/nowhere", json={}) == 404
    assert code("POST", "/finish", json={"status": "maybe"}) == 400
    assert client.status()["queued"] == 0  # nothing was enqueued by a bad body

    # Outputs while an advance is in flight: bad shapes still refused.
    client.advance(ALICE, "0x", wait=False)
    assert s.post(url + "/finish", json={"status": "accept"}).status_code == 200
    assert code("POST", "/notice", json={"payload": "0x1"}) == 400
    assert code("POST", "/notice", json={}) == 400
    assert code("POST", "/report", json={"payload": 5}) == 400
    assert code("POST", "/voucher", json={"destination": TOKEN, "payload": "0x"}) == 400
    assert code("POST", "/voucher", json={"destination": TOKEN, "value": "0x01",
                                          "payload": "0x"}) == 400
    assert code("POST", "/voucher", json={"destination": "0x12", "value": ZERO_VALUE,
                                          "payload": "0x"}) == 400
    assert s.post(url + "/notice", json={"payload": "0xAB"}).json() == {"index": 0}
    assert s.post(url + "/finish", json={"status": "accept"}).status_code == 202
    [entry] = client.outputs()
    assert entry["notices"] == [{"index": 0, "payload": "0xab"}]
    assert entry["vouchers"] == [] and entry["reports"] == []


def test_a_dapp_call_gets_the_same_answer_read_from_the_buffer_or_line_by_line(make_host):
    """A call sent in one segment is read whole from the buffer; the same call with its
    body a moment later, or with a folded header line, goes through the stdlib's reading.
    Each pair must be answered alike (output indices count on, as both are kept)."""
    from streamable_token.rollup.http_client import read_response

    server, url, client = make_host()
    port = int(url.rsplit(":", 1)[1])
    client.advance(ALICE, "0x", wait=False)

    def call(sock: socket.socket, path: bytes, body: bytes, how: str, extra: bytes = b"") -> tuple:
        head = (b"POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (path, extra, len(body)))
        if how == "split":
            sock.sendall(head)
            time.sleep(0.05)  # the host reads the head before the body is there
            sock.sendall(body)
        elif how == "folded":
            sock.sendall(head.replace(b"Host: x\r\n", b"Host: x\r\n y\r\n") + body)
        else:
            sock.sendall(head + body)
        status, content, closing = read_response(sock)
        return status, json.loads(content) if content else None, closing

    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert call(sock, b"/finish", b'{"status":"accept"}', "whole")[0] == 200
        answers = {how: [call(sock, path, body, how) for path, body in (
            (b"/notice", b'{"payload":"0x01"}'),
            (b"/notice", b'{"payload":"0xzz"}'),
            (b"/notice", b"{not json"),
            (b"/voucher", b'{"payload":"0x"}'),
            (b"/report", b'{"payload":"0x02"}'),
        )] for how in ("whole", "split", "folded")}
        assert [a[0] for a in answers["whole"]] == [201, 400, 400, 400, 201]
        assert answers["whole"][0][1] == {"index": 0}
        assert answers["split"][0][1] == {"index": 1} and answers["folded"][0][1] == {"index": 2}
        for how in ("split", "folded"):
            assert answers[how][1:] == answers["whole"][1:]
        assert call(sock, b"/finish", b'{"status":"accept"}', "whole", b"Connection: close\r\n")[0] == 202
        assert sock.recv(1) == b""  # the host closed the connection after answering
    [entry] = client.outputs()
    assert [n["index"] for n in entry["notices"]] == [0, 1, 2]
    assert len(entry["reports"]) == 3


# ---------------------------------------------------------------------- CLI


def test_cli_send_deposit_inspect_outputs(make_host, capsys):
    server, url, client = make_host()

    def handle(dapp: FakeDApp, request: dict[str, Any]) -> str:
        payload = from_hex(request["data"]["payload"])
        if request["request_type"] == "inspect_state":
            dapp.post("/report", {"payload": hexs(b'{"balance":"42"}')})
            return "accept"
        if payload == b'{"op":"withdraw"}':
            dapp.post("/voucher", {"destination": TOKEN, "value": ZERO_VALUE,
                                   "payload": transfer_call(ALICE, 500)})
            dapp.post("/notice", {"payload": hexs(b'{"event":"withdrawn"}')})
            return "accept"
        if payload == b"bad":
            dapp.post("/report", {"payload": hexs(b'{"error":"nope"}')})
            return "reject"
        return "accept"

    make_host.dapp(url, handle)
    assert cli_main(["--url", url, "send", "--from", ALICE, '{"op":"withdraw"}']) == 0
    out = capsys.readouterr().out
    assert "input #0 accepted" in out
    assert f"transfer({to_checksum_address(ALICE)}, 500)" in out
    assert '{"event": "withdrawn"}' in out

    assert cli_main(["send", "--url", url, "--from", ALICE, "--hex", hexs(b"bad")]) == 1
    out = capsys.readouterr().out
    assert "rejected" in out and '{"error": "nope"}' in out

    assert cli_main(["--url", url, "deposit", "--token", TOKEN, "--from", BOB,
                     "--amount", "1000", "--data", '{"x":1}']) == 0
    assert "input #2 accepted" in capsys.readouterr().out

    assert cli_main(["--url", url, "inspect", f"balance/{TOKEN}/{ALICE}"]) == 0
    assert '"balance": "42"' in capsys.readouterr().out

    assert cli_main(["--url", url, "mine", "4"]) == 0
    assert capsys.readouterr().out.strip() == "5"
    assert cli_main(["--url", url, "block"]) == 0
    assert capsys.readouterr().out.strip() == "5"

    assert cli_main(["--url", url, "--json", "outputs", "--from-input", "1"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["input_index"] for e in listed] == [1, 2]
    assert from_hex(listed[1]["payload"])[-7:] == b'{"x":1}'

    assert cli_main(["--url", url, "send", "--from", "nobody", "{}"]) == 2


def test_cli_reports_unreachable_host(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli_main(["--url", f"http://127.0.0.1:{port}", "block"]) == 2
    assert "no rollup host" in capsys.readouterr().err


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_every_command_and_option_has_a_help_line():
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {c.dest for c in sub._choices_actions} == set(_subcommands(parser))
    assert all(c.help for c in sub._choices_actions)
    for name, command in [("", parser)] + sorted(_subcommands(parser).items()):
        assert command.description, name
        for action in command._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    epilog = _subcommands(parser)["send"].epilog
    for op_name in ("transfer", "open_stream", "cancel_stream", "update_stream", "withdraw", "batch"):
        assert f'"op":"{op_name}"' in epilog
    assert "python -m rollup_host send --from" in epilog


def test_dapp_help_names_each_flag_default_and_environment_variable():
    out = subprocess.run([sys.executable, "dapp.py", "--help"], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    out = " ".join(out.split())  # argparse wraps lines at the terminal's width
    for variable in ("DAPP_DB", "ROLLUP_HTTP_SERVER_URL", "ROLLUPS_VERSION", "DAPP_DEPLOYMENT", "PORTAL_ADDRESS",
                     "APP_ADDRESS"):
        assert f"env {variable}" in out, variable
    assert "default db/dapp.sqlite" in out and "default http://127.0.0.1:5004" in out


def test_amounts_in_base_units_or_with_decimals():
    assert parse_amount("1000", None) == 1000
    assert parse_amount("1.5", 18) == 1_500_000_000_000_000_000
    assert parse_amount("100", 18) == 100 * 10**18
    assert parse_amount("0.000000000000000001", 18) == 1
    assert parse_amount("7", 0) == 7
    for text, decimals in (("1.5", None), ("1.5", 0), ("0.0000001", 6), ("1e18", None), ("-1", None), ("", None),
                           ("1.", 18), (".5", 18), ("1,5", 18), ("1.2.3", 18), (" 1", None), ("\uff11", None)):
        with pytest.raises(ValueError) as err:
            parse_amount(text, decimals)
        assert str(err.value).startswith("--amount: "), (text, str(err.value))


def test_cli_bad_amount_is_one_line_naming_the_flag(make_host, capsys):
    server, url, client = make_host()
    assert cli_main(["--url", url, "deposit", "--token", TOKEN, "--from", BOB, "--amount", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --amount: '1.5' has a fraction"), err
    assert client.status()["queued"] == 0 and client.outputs() == []  # nothing was sent
    make_host.dapp(url, echo)
    assert cli_main(["--url", url, "deposit", "--token", TOKEN, "--from", BOB, "--amount", "1.5",
                     "--decimals", "18"]) == 0
    [deposit] = client.outputs()
    assert int.from_bytes(from_hex(deposit["payload"])[40:72], "big") == 1_500_000_000_000_000_000


DUMMY_DAPP = textwrap.dedent("""
    import json, os, sys, requests
    url = os.environ["ROLLUP_HTTP_SERVER_URL"]
    s = requests.Session()
    headers = {"X-Rollup-Restart": "1"}
    while True:
        r = s.post(url + "/finish", json={"status": "accept"}, headers=headers)
        headers = {}
        if r.status_code != 200:
            continue
        s.post(url + "/report", json={"payload": "0x" + json.dumps(sys.argv[1:]).encode().hex()})
""")


def test_up_runs_host_and_dapp_and_stops_both_on_sigint(tmp_path):
    script = tmp_path / "dummy_dapp.py"
    script.write_text(DUMMY_DAPP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollup_host", "up", "--port", str(port), "--dapp", str(script),
         "--db", str(tmp_path / "x.sqlite"), "--rollups", "v2", "--finish-timeout", "0.5"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        client = HostClient(f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.block()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
                time.sleep(0.05)
        result = client.advance(ALICE, "0x")
        argv = decode_payload(result["reports"][0]["payload"])
        assert argv == ["--db", str(tmp_path / "x.sqlite"), "--rollups", "v2"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(requests.ConnectionError):
            HostClient(f"http://127.0.0.1:{port}").block()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# -------------------------------------------------------------------- codec


def test_codec_helpers_refuse_malformed_values():
    assert from_hex("0x") == b""
    assert from_hex("0xAbCd") == b"\xab\xcd"
    # whitespace that bytes.fromhex would skip, non-ASCII digits, signs: all refused
    for bad in ("", "0x0", "abcd", "0xg0", None, 12, "0X00", b"0x00", "0x 00", "0x00 ", " 0x00", "0x0\t0",
                "0x00\n", "0x\uff10\uff10", "0x\u0660\u0660", "0x+0", "0x-0"):
        with pytest.raises(InvalidField):
            from_hex(bad)
    assert parse_uint256("0") == 0 and parse_uint256(str(2**256 - 1)) == 2**256 - 1
    for bad in ("-1", "1.5", "1e3", "", " 1", True, str(2**256), "١"):
        with pytest.raises(InvalidField):
            parse_uint256(bad)
    assert decode_transfer(transfer_call(BOB, 9)) == (to_checksum_address(BOB), 9)
    assert decode_transfer("0xa9059cbb") is None
    assert decode_transfer(hexs(b"\x00" * 68)) is None
    assert decode_payload(hexs(b'{"a":[1]}')) == {"a": [1]}
    assert decode_payload(hexs(b"plain")) == "plain"
    assert decode_payload("0xff") == "0xff"


# ------------------------------------------------------------ header parsing


HEADER_BLOCKS = [
    b"Host: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n",
    b"Host: x\nX-Rollup-Restart:1\n\n",  # bare LF, no blank after the colon
    b"A:   \t spaced  \r\nB:\r\nC: tail  \r\n\r\n",  # leading blanks go, trailing stay
    b"Folded: one\r\n two\r\nNext: x\r\n\r\n",  # obsolete folding: the email parser
    b"Name : x\r\nOk: y\r\n\r\n",  # blank before the colon: not a header to it
    b"X: a\rb\r\nY: z\r\n\r\n",  # a stray CR splits the line for it
    b"From someone\r\nA: b\r\n\r\n",
    b"Latin: caf\xe9\r\nDup: 1\r\nDup: 2\r\n\r\n",
    b"no colon here\r\nA: b\r\n\r\n",
    b"A: b\r\n",  # EOF instead of the blank line
    b"\r\n",
]


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_read_headers_matches_the_stdlib_parser(block):
    """The host's fast header path gives what ``http.client.parse_headers`` gives."""
    import http.client
    import io

    ours = read_headers(io.BytesIO(block + b"BODY"), http.client.HTTPMessage)
    stdlib = http.client.parse_headers(io.BytesIO(block + b"BODY"))
    assert ours.items() == stdlib.items()
    for name in {name for name, _ in stdlib.items()} | {"Content-Length", "absent"}:
        for spelling in (name, name.lower(), name.upper()):
            assert ours.get(spelling) == stdlib.get(spelling)
            assert ours.get(spelling, "-") == stdlib.get(spelling, "-")


def test_read_headers_refuses_what_the_stdlib_refuses():
    import http.client
    import io

    with pytest.raises(http.client.LineTooLong):
        read_headers(io.BytesIO(b"A: " + b"x" * 70000 + b"\r\n\r\n"), http.client.HTTPMessage)
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        read_headers(io.BytesIO(b"A: b\r\n" * 101 + b"\r\n"), http.client.HTTPMessage)


# --------------------------------------------------------------- benchmark


def test_round_trip_time_of_200_advances():
    """Prints timing (see with ``-s``); fails only if an input is not accepted."""
    figures = measure(200)
    print(f"\n200 advances: {figures['advance_ms']:.3f} ms each; "
          f"bare round trip: {figures['round_trip_ms']:.3f} ms")
    assert figures["advance_ms"] > 0 and figures["round_trip_ms"] > 0
