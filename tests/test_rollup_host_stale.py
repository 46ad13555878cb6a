"""A call that reaches the local host late never drops, adds or steals outputs.

A DApp gives up on a call (its timeout passed) and asks again; the first call may still
reach the host later, through a stalled proxy. Here a stalled proxy is a raw socket that
has sent all of a request but its last bytes: the host holds it in part and acts on it only
when the rest arrives, at a point the test chooses by what has happened (requests seen,
answers read), never by sleeping.

Every delivery of a request by ``/finish`` is an attempt with an id (``X-Rollup-Attempt``),
and the DApp echoes it on the calls that answer that delivery (rollup_host/attempts.py):
a late restart starts a new attempt, so the holder's next call gets 409 and it does the
input again from the start; a late output or ``/finish`` of an older attempt gets 409 and
changes nothing; a late copy of the DApp's own restart (same ``X-Rollup-Request``) is a
duplicate and changes nothing. Without the ids (before), each of these lost outputs.

Then the same through the real ``dapp.main`` loop behind a proxy that stalls a request and
delivers it late by count (fuzz/rig.py): the DApp's own late restart is harmless, and a
late restart from elsewhere makes the DApp get 409, roll back and restart; either way the
host ends with exactly what a clean replay of the inputs gives.
"""
from __future__ import annotations

import http.client
import json
import select
import socket
from typing import Any, Optional

import pytest
import requests

from fuzz.harness import ALICE, BOB, PORTAL, TOKEN, op
from fuzz.rig import STALL, DappThread, FaultProxy, LogRecords, Plan, drained, wait_until
from rollup_host import HostClient, start_in_thread
from streamable_token.rollup.codec import encode_deposit
from tests.test_reliability_faults import assert_same_as_clean_replay, db_state_hash

pytestmark = pytest.mark.integration

ATTEMPT, REQUEST, RESTART = "X-Rollup-Attempt", "X-Rollup-Request", "X-Rollup-Restart"
VALUE = "0x" + "00" * 31 + "05"
OUTPUTS = [("/notice", {"payload": "0x01"}),
           ("/voucher", {"destination": TOKEN, "value": VALUE, "payload": "0xabcd"}),
           ("/notice", {"payload": "0x02"}),
           ("/report", {"payload": "0x03"})]


@pytest.fixture
def host():
    server, url = start_in_thread(finish_timeout=0.2, wait_timeout=10)
    client = HostClient(url, timeout=15)
    yield server, url, client
    client.close()
    server.stop()


class Stalled:
    """A request that reached the host all but its last bytes, as through a stalled proxy:
    the host acts on it only once ``arrive`` sends the rest."""

    def __init__(self, url: str, path: str, body: dict[str, Any], headers: dict[str, Optional[str]]) -> None:
        data = json.dumps(body).encode()
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if v is not None)
        self.request = (f"POST {path} HTTP/1.1\r\nHost: x\r\n{lines}Content-Type: application/json\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n").encode() + data
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.sendall(self.request[:-3])

    def arrive(self) -> tuple[int, dict[str, Any] | None, Optional[str]]:
        """Send the rest; return the host's answer (status, JSON body, attempt header)."""
        self.sock.sendall(self.request[-3:])
        return read_answer(self.sock)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, Any] | None, Optional[str]]:
    resp = http.client.HTTPResponse(sock, method="POST")
    resp.begin()
    content = resp.read()
    return resp.status, json.loads(content) if content else None, resp.getheader(ATTEMPT)


class Dapp:
    """Plays dapp.py's calls: echoes the attempt of the delivery it answers, if the host
    gave one (a host without attempts gets the plain calls)."""

    def __init__(self, url: str) -> None:
        self.url, self.session, self.attempt = url, requests.Session(), None

    def _headers(self) -> dict[str, str]:
        return {} if self.attempt is None else {ATTEMPT: self.attempt}

    def take(self, request_id: Optional[str] = None) -> dict[str, Any]:
        """A restart ``/finish``: the input in flight (or the next one), delivered anew."""
        headers = {RESTART: "1", **({} if request_id is None else {REQUEST: request_id})}
        answer = self.session.post(self.url + "/finish", json={"status": "accept"}, headers=headers)
        assert answer.status_code == 200, answer.text
        self.attempt = answer.headers.get(ATTEMPT)
        return answer.json()

    def post(self, path: str, body: dict[str, Any]) -> int:
        return self.session.post(self.url + path, json=body, headers=self._headers()).status_code

    def finish(self, status: str = "accept") -> requests.Response:
        answer = self.session.post(self.url + "/finish", json={"status": status}, headers=self._headers())
        if answer.status_code == 200:
            self.attempt = answer.headers.get(ATTEMPT)
        return answer


def kept(entry: dict[str, Any]) -> list[Any]:
    """An input's outputs as the host keeps them, in the order they were posted."""
    return ([("/notice", n["payload"]) for n in entry["notices"]]
            + [("/voucher", v["destination"].lower(), v["payload"]) for v in entry["vouchers"]]
            + [("/report", r["payload"]) for r in entry["reports"]])


FULL_SET = [("/notice", "0x01"), ("/notice", "0x02"), ("/voucher", TOKEN.lower(), "0xabcd"), ("/report", "0x03")]


def test_a_late_restart_cannot_finish_an_input_with_part_of_its_outputs(host):
    """The old failure: a restart the DApp gave up on arrives after it took the input again
    and posted outputs; the host dropped them and the DApp's accept finished the input
    with none. Now the late restart is a new attempt and the DApp's accept gets 409: it
    does the input again, and the input ends with exactly its outputs."""
    server, url, client = host
    client.advance(ALICE, "0x01", wait=False)
    stale = Stalled(url, "/finish", {"status": "accept"}, {RESTART: "1"})
    dapp = Dapp(url)
    assert dapp.take()["data"]["metadata"]["input_index"] == 0
    assert [dapp.post(path, body) for path, body in OUTPUTS] == [201] * 4
    late = stale.arrive()  # the late restart reaches the host, after the outputs
    first = dapp.finish("accept")
    if first.status_code == 409:  # as dapp.py: roll back, ask for the input again, redo it
        assert dapp.take()["data"]["metadata"]["input_index"] == 0
        assert [dapp.post(path, body) for path, body in OUTPUTS] == [201] * 4
        assert dapp.finish("accept").status_code == 202
    [entry] = client.outputs()
    assert entry["status"] == "accepted" and kept(entry) == FULL_SET
    # How it went: the late restart was a new delivery, which made the accept stale.
    assert late[0] == 200 and late[2] not in (None, dapp.attempt)
    assert first.status_code == 409 and "stale /finish" in first.json()["error"]
    assert [n["index"] for n in entry["notices"]] + [v["index"] for v in entry["vouchers"]] == [0, 2, 1]


def test_a_late_copy_of_the_dapps_own_restart_changes_nothing(host):
    """The DApp's restart stalls, it sends it again (same request id) and goes on; the
    first send arrives later: a duplicate, answered with the same delivery, nothing dropped."""
    server, url, client = host
    client.advance(ALICE, "0x01", wait=False)
    stale = Stalled(url, "/finish", {"status": "accept"}, {RESTART: "1", REQUEST: "dapp-7.1"})
    dapp = Dapp(url)
    dapp.take(request_id="dapp-7.1")
    assert [dapp.post(path, body) for path, body in OUTPUTS] == [201] * 4
    late = stale.arrive()
    done = dapp.finish("accept")
    [entry] = client.outputs()
    assert entry["status"] == "accepted" and kept(entry) == FULL_SET
    assert late[0] == 200 and late[2] == dapp.attempt is not None  # the same delivery, again
    assert done.status_code == 202


def test_a_late_finish_cannot_finish_the_next_input(host):
    """The DApp's accept stalls; it restarts, finishes the input again and starts on the
    next one; then the old accept arrives: before, it finished the next input with the
    outputs posted so far. Now it answers an attempt long gone: 409, nothing finished."""
    server, url, client = host
    client.advance(ALICE, "0x10", wait=False)
    client.advance(BOB, "0x11", wait=False)
    dapp = Dapp(url)
    dapp.take()
    assert dapp.post("/notice", {"payload": "0x10"}) == 201
    stale = Stalled(url, "/finish", {"status": "accept"}, {ATTEMPT: dapp.attempt})
    assert dapp.take()["data"]["metadata"]["input_index"] == 0  # it gave up on that /finish
    assert dapp.post("/notice", {"payload": "0x10"}) == 201
    assert dapp.finish("accept").json()["data"]["metadata"]["input_index"] == 1
    codes = [dapp.post("/notice", {"payload": "0xa1"})]
    late = stale.arrive()
    codes.append(dapp.post("/notice", {"payload": "0xa2"}))
    codes.append(dapp.finish("accept").status_code)
    assert [kept(e) for e in client.outputs()] == [[("/notice", "0x10")],
                                                   [("/notice", "0xa1"), ("/notice", "0xa2")]]
    assert late[0] == 409 and "stale /finish" in late[1]["error"]
    assert codes == [201, 201, 202]


def test_a_late_output_does_not_join_the_next_delivery(host):
    """The DApp's notice stalls; it rolls back and restarts, posts the notice again; the
    old one arrives: before, the input got it twice. Now: 409, nothing kept."""
    server, url, client = host
    client.advance(ALICE, "0x20", wait=False)
    dapp = Dapp(url)
    dapp.take()
    stale = Stalled(url, "/notice", {"payload": "0x20"}, {ATTEMPT: dapp.attempt})
    dapp.take()
    assert dapp.post("/notice", {"payload": "0x20"}) == 201
    late = stale.arrive()
    assert dapp.finish("accept").status_code == 202
    [entry] = client.outputs()
    assert kept(entry) == [("/notice", "0x20")]
    assert late[0] == 409 and "stale /notice" in late[1]["error"]


def test_stale_outputs_and_exceptions_change_nothing_and_calls_without_ids_work_as_before(host):
    server, url, client = host
    s = requests.Session()
    for payload in ("0x30", "0x31"):
        client.advance(ALICE, payload, wait=False)
    taken = s.post(url + "/finish", json={"status": "accept"})  # no ids: as a Cartesi node is called
    old = taken.headers[ATTEMPT]
    again = s.post(url + "/finish", json={"status": "accept"}, headers={RESTART: "1"})
    new = again.headers[ATTEMPT]
    assert again.json() == taken.json() and new != old  # a restart is a new delivery
    for path, body in OUTPUTS[:3] + [("/exception", {"payload": "0x"})]:
        stale = s.post(url + path, json=body, headers={ATTEMPT: old})
        assert stale.status_code == 409 and f"answers attempt {old}" in stale.json()["error"]
    assert s.post(url + "/notice", json={"payload": "0x30"}).status_code == 201  # no id: taken
    assert s.post(url + "/notice", json={"payload": "0x31"}, headers={ATTEMPT: new}).status_code == 201
    assert s.post(url + "/finish", json={"status": "accept"}, headers={ATTEMPT: old}).status_code == 409
    assert client.status()["halted"] is None and client.outputs() == []
    nxt = s.post(url + "/finish", json={"status": "accept"}, headers={ATTEMPT: new})
    assert nxt.json()["data"]["payload"] == "0x31"
    assert kept(client.outputs()[0]) == [("/notice", "0x30"), ("/notice", "0x31")]
    # a duplicate restart once its delivery is over takes nothing
    dup = s.post(url + "/finish", json={}, headers={RESTART: "1", REQUEST: "r-1"})
    assert dup.status_code == 200 and dup.json()["data"]["payload"] == "0x31"
    assert s.post(url + "/finish", json={"status": "reject"}, headers={ATTEMPT: dup.headers[ATTEMPT]}).status_code == 202
    client.advance(ALICE, "0x32", wait=False)
    late = s.post(url + "/finish", json={}, headers={RESTART: "1", REQUEST: "r-1"})
    assert late.status_code == 409 and "duplicate restart" in late.json()["error"]
    assert client.status()["queued"] == 1 and client.status()["in_flight"] is None


def test_a_waiting_finish_takes_nothing_while_another_request_is_in_flight():
    """Two long-polls wait (a DApp and a call it gave up on); two inputs arrive. One poll
    takes the first; the other must not take the second while the first is in flight
    (before, it did, and the holder's accept then finished the second input)."""
    server, url = start_in_thread(finish_timeout=2.0, wait_timeout=10)
    client = HostClient(url, timeout=15)
    try:
        host, port = url.removeprefix("http://").split(":")
        polls = [socket.create_connection((host, int(port))) for _ in range(2)]
        finish = b'POST /finish HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n\r\n{"status":"accept"}'
        for sock in polls:
            sock.sendall(finish)
        wait_until(lambda: client.status()["long_polls"] == 2, 30, "both long-polls")
        client.advance(ALICE, "0x40", wait=False)
        client.advance(ALICE, "0x41", wait=False)
        ready, _, _ = select.select(polls, [], [])
        holder = ready[0]
        status, first, _ = read_answer(holder)
        assert status == 200 and first["data"]["payload"] == "0x40"
        holder.sendall(finish)  # the holder accepts: the next input is its own
        status, second, _ = read_answer(holder)
        assert status == 200 and second["data"]["payload"] == "0x41"
        assert [e["payload"] for e in client.outputs()] == ["0x40"]
        other = polls[1 - polls.index(holder)]
        assert read_answer(other)[0] == 202  # its long-poll ended with nothing taken
    finally:
        client.close()
        server.stop()


# --- through dapp.py's loop ------------------------------------------------------------


def items() -> list[tuple]:
    """A deposit (a notice), a withdrawal (a voucher and a notice), a transfer (a notice)."""
    return [(PORTAL, encode_deposit(TOKEN, ALICE, 1000)),
            (ALICE, op("withdraw", token=TOKEN, amount=300)),
            (ALICE, op("transfer", token=TOKEN, receiver=BOB, amount=40))]


def run_dapp(tmp_path, plan: Plan, before: dict) -> dict:
    """The real ``dapp.main`` behind a FaultProxy, the inputs queued first so the proxy's
    counts fall on known calls; returns what ``assert_same_as_clean_replay`` reads."""
    server, url = start_in_thread(finish_timeout=0.05)
    host = server.host
    proxy = FaultProxy(url, plan)
    proxy.before.update({key: (lambda fn=fn: fn(proxy, url)) for key, fn in before.items()})
    db = str(tmp_path / "dapp.sqlite")
    for sender, payload in items():
        host.enqueue_advance(payload, sender=sender, block=5)
    with LogRecords("dapp") as logs:
        dapp = DappThread(db, proxy.url, timeout=2.0, max_backoff=0.2).start()
        try:
            wait_until(lambda: host.status()["processed_input_count"] == 3 and drained(host), 120,
                       "the DApp to process every input")
        finally:
            dapp.stop()
            proxy.stop()
            server.stop()
    return {"finished": host.outputs(), "inspects": [], "db_hash": db_state_hash(db), "proxy": proxy,
            "warnings": logs.messages(), "records": logs.records}


@pytest.mark.parametrize("when", [("/finish", 3), ("/notice", 2)], ids=["before-its-accept", "next-input"])
def test_the_dapps_own_late_restart_is_a_duplicate(tmp_path, when):
    """dapp.py's first call, a restart, stalls; it gives up and sends it again (the same
    request id), then works on; the stalled send reaches the host later, by count: while
    the delivery it got is in flight (before its accept) or after (during the next input).
    Either way it changes nothing."""
    run = run_dapp(tmp_path, Plan(script={("/finish", 1): STALL}),
                   {when: lambda proxy, url: proxy.release("/finish", 1)})
    assert_same_as_clean_replay(run)
    [(path, n, status, body)] = run["proxy"].late
    assert (path, n) == ("/finish", 1)
    assert status == (200 if when == ("/finish", 3) else 409), body
    assert not [m for m in run["warnings"] if "409" in m]  # the DApp never noticed


@pytest.mark.parametrize("when", [("/notice", 2), ("/finish", 3)], ids=["mid-input", "after-commit"])
def test_a_late_restart_from_elsewhere_makes_the_dapp_start_the_input_over(tmp_path, when):
    """A restart from elsewhere (a DApp process that died with it stalled in a proxy)
    reaches the host while dapp.py works on the withdrawal: after its voucher, or after it
    committed and before its accept. dapp.py's next call gets 409; it rolls back (or
    re-emits what it committed) and asks for the input again: the withdrawal ends with its
    voucher and its notice, once."""
    stale: dict = {}

    def arrive(proxy, url):
        stale["answer"] = stale["call"].arrive()

    def start(proxy, url):
        stale["call"] = Stalled(url, "/finish", {"status": "accept"}, {RESTART: "1"})

    # the stale restart is on its way before dapp.py starts; it arrives at ``when``
    run = run_dapp(tmp_path, Plan(), {("/finish", 1): start, when: arrive})
    node = assert_same_as_clean_replay(run)
    withdrawal = run["finished"][1]
    assert len(withdrawal["vouchers"]) == 1 and len(withdrawal["notices"]) == 1
    assert stale["answer"][0] == 200 and stale["answer"][1]["data"]["metadata"]["input_index"] == 1
    said = "notice not delivered: HTTP 409" if when[0] == "/notice" else "/finish failed (HTTP 409"
    assert [m for m in run["warnings"] if said in m and "stale" in m], run["warnings"]
    assert node.balance(TOKEN, BOB).balance == 40


def test_a_restart_refused_as_a_duplicate_is_followed_by_a_new_one(tmp_path):
    """dapp.py's first restart is carried out but its answer is lost; before it sends it
    again, a restart from elsewhere delivers the input anew. Its retry (the same request
    id) is then a duplicate of a delivery no longer the latest: 409. It must not send that
    id forever: it makes a new restart and goes on."""
    def restart_from_elsewhere(proxy, url):
        call = Stalled(url, "/finish", {"status": "accept"}, {RESTART: "1"})
        assert call.arrive()[0] == 200

    run = run_dapp(tmp_path, Plan(script={("/finish", 1): "close_after"}),
                   {("/finish", 2): restart_from_elsewhere})
    assert_same_as_clean_replay(run)
    assert [m for m in run["warnings"] if "duplicate restart" in m], run["warnings"]

