"""Server faults: the rollup server answers 500, times out, drops the connection or sends
garbage, before or after doing what it was asked. The real ``dapp.main`` loop runs
against the local host through a fault-injecting proxy (fuzz/rig.py); it must log, back
off and carry on, and in the end the host must hold exactly what a clean replay of the
same inputs gives: nothing lost, nothing applied or emitted twice."""
from __future__ import annotations

import re
import sqlite3
from collections import Counter

import pytest

from streamable_token.store import state_hash
from fuzz.harness import ALICE, BOB, PORTAL, TOKEN, Node, address, op
from fuzz.rig import (
    FAULTS, GARBAGE_BEFORE, DappThread, FaultProxy, LogRecords, Plan, drained, host_record, output_indices_are_dense,
    wait_until,
)
from streamable_token.rollup.codec import encode_deposit
from rollup_host import start_in_thread

pytestmark = pytest.mark.integration


# The DApp's HTTP timeout here (the host's long-poll must be shorter) and how long a
# timeout fault keeps it waiting. A request the DApp gave up on may still reach the host
# later (a proxy thread stalled by a loaded machine): the calls name the delivery they
# answer, so a late one gets 409 and changes nothing (rollup_host/README.md, "Every call
# names the delivery it answers"; tests/test_rollup_host_stale.py places such late requests).
CLIENT_TIMEOUT = 0.5
HOLD = 0.6
FAULTS_INJECTED = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\nserver faults injected: {sum(FAULTS_INJECTED.values())} {dict(FAULTS_INJECTED)}")


def db_state_hash(path: str) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return state_hash(conn)
    finally:
        conn.close()


def workload(rounds: int) -> list[tuple]:
    """Rounds of deposit, transfer, stream, withdraw (a voucher), a refused input (a report)
    and an inspect: every kind of output, many times over."""
    users = [address(f"faults-{i}") for i in range(4)]
    items: list[tuple] = []
    for r in range(rounds):
        me, other = users[r % 4], users[(r + 1) % 4]
        block = 10 + r
        items += [
            ("advance", PORTAL, encode_deposit(TOKEN, me, 10**6 + r), block),
            ("advance", me, op("transfer", token=TOKEN, receiver=other, amount=1000 + r), block),
            ("advance", me, op("open_stream", token=TOKEN, receiver=other, amount=5000, duration=50), block),
            ("advance", me, op("withdraw", token=TOKEN, amount=700 + r), block),
            ("advance", me, op("withdraw", token=TOKEN, amount=10**30), block),
            ("inspect", f"balance/{TOKEN}/{other}".encode()),
        ]
    return items


def run_through(tmp_path, items: list[tuple], plan: Plan) -> dict:
    """Feed ``items`` to a local host, with dapp.main behind a FaultProxy; return what the
    host recorded, the DApp's database hash, the proxy and the DApp's log messages."""
    server, url = start_in_thread(finish_timeout=0.05)
    host = server.host
    proxy = FaultProxy(url, plan, hold=HOLD)
    db = str(tmp_path / "dapp.sqlite")
    inspects = []
    with LogRecords("dapp") as logs:
        dapp = DappThread(db, proxy.url, timeout=CLIENT_TIMEOUT, max_backoff=0.2).start()
        try:
            for item in items:
                if item[0] == "inspect":
                    inspects.append(host.enqueue_inspect(item[1]))
                else:
                    host.enqueue_advance(item[2], sender=item[1], block=item[3])
            advances = sum(1 for i in items if i[0] == "advance")
            wait_until(lambda: host.status()["processed_input_count"] == advances and drained(host), 180,
                       "the DApp to process every input")
        finally:
            dapp.stop()
            proxy.stop()
            server.stop()
    FAULTS_INJECTED.update(f for _, _, f in proxy.injected)
    return {"finished": host.outputs(), "inspects": inspects, "db_hash": db_state_hash(db), "proxy": proxy,
            "warnings": logs.messages(), "records": logs.records}


def assert_same_as_clean_replay(run: dict) -> Node:
    finished = run["finished"]
    node = Node()
    expected, inspect_answers = [], []
    pending = sorted(run["inspects"], key=lambda r: r.processed_input_count)
    for item in finished:  # replay, answering each inspect where the host answered it
        while pending and pending[0].processed_input_count == len(expected):
            inspect_answers.append(node.inspect(pending.pop(0).payload))
        result = node.advance_raw(item["metadata"], item["payload"])
        expected.append({"status": {"accept": "accepted", "reject": "rejected"}[result.status],
                         "notices": [o.body["payload"] for o in result.outputs if o.kind == "notice" and result.status == "accept"],
                         "vouchers": [dict(o.body) for o in result.outputs if o.kind == "voucher" and result.status == "accept"],
                         "reports": [o.body["payload"] for o in result.outputs if o.kind == "report"]})
    inspect_answers += [node.inspect(r.payload) for r in pending]
    got = [host_record(f) for f in finished]
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"input {i}: host has {g}, a clean replay gives {e}"
    assert len(got) == len(expected)
    assert output_indices_are_dense(finished)
    for request, answer in zip(sorted(run["inspects"], key=lambda r: r.processed_input_count), inspect_answers):
        assert request.status == {"accept": "accepted", "reject": "rejected"}[answer.status]
        assert [r["payload"] for r in request.reports] == [o.body["payload"] for o in answer.outputs]
    assert run["db_hash"] == node.state_hash()
    return node


def test_every_fault_on_every_route_loses_nothing(tmp_path):
    items = workload(rounds=16)
    plan = Plan(every={"/finish": 7, "/notice": 5, "/voucher": 2, "/report": 3})
    run = run_through(tmp_path, items, plan)
    injected = run["proxy"].injected
    pairs = {(path, fault) for path, _, fault in injected}
    for path in ("/finish", "/notice", "/voucher", "/report"):
        for fault in FAULTS + ((GARBAGE_BEFORE,) if path == "/finish" else ()):
            assert (path, fault) in pairs, f"{fault} never hit {path}: {Counter(injected)}"
    node = assert_same_as_clean_replay(run)
    statuses = Counter(f["status"] for f in run["finished"])
    assert statuses == {"accepted": 16 * 4, "rejected": 16}, statuses
    assert node.balance(TOKEN, address("faults-1")).balance > 0
    # the DApp said what went wrong, every time (a 200 with a garbage body to an output is
    # a success by the API), and never logged a traceback
    noticeable = [i for i in injected if not (i[2] == "garbage_after" and i[0] != "/finish")]
    assert len(run["warnings"]) >= len(noticeable), (len(run["warnings"]), len(noticeable))
    assert not [r for r in run["records"] if r.levelno >= 40], [r.getMessage() for r in run["records"] if r.levelno >= 40]


def test_random_faults_lose_nothing(tmp_path):
    items = workload(rounds=10)
    run = run_through(tmp_path, items, Plan(rate=0.15, seed=1234))
    assert len(run["proxy"].injected) >= 20
    assert_same_as_clean_replay(run)


def test_finish_failures_back_off_exponentially(tmp_path):
    """Six failed /finish in a row: the delays double up to the cap, then the input that
    was waiting is processed once."""
    script = {("/finish", n): kind for n, kind in
              zip(range(2, 8), ("500_before", "close_before", "500_after", GARBAGE_BEFORE, "garbage_after", "500_before"))}
    items = [("advance", PORTAL, encode_deposit(TOKEN, ALICE, 100), 5),
             ("advance", ALICE, op("transfer", token=TOKEN, receiver=BOB, amount=40), 5)]
    run = run_through(tmp_path, items, Plan(script=script))
    delays = [float(m) for m in re.findall(r"retrying in ([0-9.]+) s", "\n".join(run["warnings"]))]
    doubling = [0.05, 0.1, 0.2, 0.2, 0.2, 0.2]
    assert any(delays[i:i + 6] == doubling for i in range(len(delays))), run["warnings"]
    node = assert_same_as_clean_replay(run)
    assert node.balance(TOKEN, BOB).balance == 40


@pytest.mark.parametrize("path", ["/notice", "/voucher", "/report"])
@pytest.mark.parametrize("fault", ["500_before", "close_after", "timeout_after"])
def test_output_fault_redelivers_the_input_instead_of_rejecting_it(tmp_path, path, fault):
    """The input whose output could not be posted is neither rejected (lost) nor kept
    half-posted: it is rolled back and delivered again, and then accepted once."""
    items = [("advance", PORTAL, encode_deposit(TOKEN, ALICE, 1000), 5),
             ("advance", ALICE, op("withdraw", token=TOKEN, amount=300), 5),
             ("advance", ALICE, op("withdraw", token=TOKEN, amount=10**9), 5)]
    run = run_through(tmp_path, items, Plan(script={(path, 1): fault}))
    assert run["proxy"].injected == [(path, 1, fault)]
    assert_same_as_clean_replay(run)
    assert [f["status"] for f in run["finished"]] == ["accepted", "accepted", "rejected"]
    assert len(run["finished"][1]["vouchers"]) == 1
