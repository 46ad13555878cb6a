"""Crash safety.

* An exception raised in the middle of an advance, after any number of its writes (or at
  an output, or at COMMIT) leaves no partial write: the input is rejected with an
  "internal error" report, the database is byte-identical, and the same input applies
  cleanly afterwards.
* dapp.py killed with SIGKILL during a stream of inputs (at exact points: mid-transaction
  after an output was posted, after COMMIT but before /finish; and at random moments),
  then restarted on the same database: the host ends up with exactly what a clean run
  gives, and the database has the same state hash.
"""
from __future__ import annotations

import random
import sqlite3
import time
from collections import Counter

import pytest

from streamable_token.store import state_hash
from fuzz.harness import ALICE, BOB, CAROL, PORTAL, TOKEN, TOKEN2, Node, metadata, mixed_log, op
from fuzz.rig import DappProcess, FaultProxy, Plan, drained, host_record, output_indices_are_dense, replay_host_inputs
from streamable_token.rollup.codec import encode_deposit
from streamable_token.rollup.router import Output
from rollup_host import HostClient, start_in_thread

pytestmark = pytest.mark.integration


KILLS = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\ncrashes injected: {sum(KILLS.values())} {dict(KILLS)}")


class InjectedFault(Exception):
    pass


class FaultyConnection:
    """Wraps the sqlite3 connection the engine and router use; raises ``exc`` at the
    ``fail_at``-th write statement (INSERT/UPDATE/DELETE/executemany) or at COMMIT."""

    WRITES = ("INSERT", "UPDATE", "DELETE")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.fail_at: int | None = None
        self.fail_on_commit = False
        self.exc: BaseException = InjectedFault("injected")
        self.writes = 0

    def _count(self, sql: str) -> None:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head == "COMMIT" and self.fail_on_commit:
            raise self.exc
        if head in self.WRITES:
            self.writes += 1
            if self.fail_at is not None and self.writes == self.fail_at:
                raise self.exc

    def execute(self, sql: str, *args):
        self._count(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args):
        self._count(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


def scene() -> tuple[Node, FaultyConnection]:
    node = Node()
    node.deposit(TOKEN, ALICE, 10**6, block=5)
    node.deposit(TOKEN2, BOB, 10**6, block=5)
    node.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=6000, duration=60)
    node.send(BOB, "open_stream", token=TOKEN2, receiver=CAROL, amount=900, duration=30, block=8)
    node.block = 20
    faulty = FaultyConnection(node.conn)
    node.engine.conn = node.router.conn = node.conn = faulty
    return node, faulty


INPUTS = {
    "deposit": (PORTAL, encode_deposit(TOKEN, CAROL, 500)),
    "deposit+command": (PORTAL, encode_deposit(TOKEN, CAROL, 500, op("open_stream", token=TOKEN, receiver=ALICE,
                                                                     amount=400, duration=4))),
    "transfer": (ALICE, op("transfer", token=TOKEN, receiver=CAROL, amount=1234)),
    "open_stream": (ALICE, op("open_stream", token=TOKEN, receiver=CAROL, amount=1000, duration=10, start_block=25)),
    "cancel": (BOB, op("cancel_stream", stream_id=1)),
    "update": (ALICE, op("update_stream", stream_id=1, amount=9000, end_block=200)),
    "withdraw": (BOB, op("withdraw", token=TOKEN, amount=100)),
    "batch": (BOB, op("batch", ops=[{"op": "withdraw", "token": TOKEN2, "amount": "10"},
                                    {"op": "transfer", "token": TOKEN, "receiver": CAROL, "amount": "50"},
                                    {"op": "cancel_stream", "stream_id": 2},
                                    {"op": "open_stream", "token": TOKEN2, "receiver": ALICE, "amount": "700",
                                     "duration": 7}])),
}


def clean_run(name: str) -> tuple[int, str, list[Output]]:
    node, faulty = scene()
    sender, payload = INPUTS[name]
    result = node.advance(sender, payload)
    assert result.status == "accept", result.decoded()
    return faulty.writes, node.dump(), result.outputs


@pytest.mark.parametrize("exc", [InjectedFault("boom"), sqlite3.OperationalError("disk I/O error"), MemoryError()],
                         ids=["exception", "sqlite-io-error", "memory-error"])
@pytest.mark.parametrize("name", list(INPUTS))
def test_exception_after_any_write_leaves_no_partial_write(name, exc):
    writes, clean_dump, clean_outputs = clean_run(name)
    assert writes >= 3  # the engine's rows and the router's meta rows
    sender, payload = INPUTS[name]
    for k in list(range(1, writes + 1)) + ["commit"]:
        node, faulty = scene()
        before, before_hash = node.dump(), node.state_hash()
        faulty.exc = exc
        if k == "commit":
            faulty.fail_on_commit = True
        else:
            faulty.fail_at = faulty.writes + k
        meta = metadata(sender, node.index, node.block)
        result = node.advance_raw(meta, payload)
        KILLS["exception_in_advance"] += 1
        assert result.status == "reject", (k, result.decoded())
        # a fault at COMMIT comes after the outputs were posted; the node drops the
        # notices and vouchers of a rejected input and keeps its reports
        assert [o.kind for o in result.outputs if o.kind == "report"] == ["report"]
        assert result.error["message"] == f"internal error: {type(exc).__name__}"
        assert node.state_hash() == before_hash and node.dump() == before, f"partial write left by a fault at {k}"
        faulty.fail_at, faulty.fail_on_commit = None, False
        again = node.advance_raw(meta, payload)  # delivered again, now without the fault
        assert again.status == "accept" and again.outputs == clean_outputs
        assert node.dump() == clean_dump


@pytest.mark.parametrize("name", ["deposit", "withdraw", "batch"])
def test_exception_at_any_output_leaves_no_partial_write(name):
    """The shell failing while posting the n-th output (a bug, not a transport error)."""
    _, clean_dump, clean_outputs = clean_run(name)
    sender, payload = INPUTS[name]
    for n in range(1, len(clean_outputs) + 1):
        node, _ = scene()
        before = node.dump()
        posted: list[Output] = []

        def emit(out: Output) -> None:
            if len(posted) == n - 1 and out.kind != "report":
                raise InjectedFault("shell bug")
            posted.append(out)

        meta = metadata(sender, node.index, node.block)
        status = node.router.advance(meta, "0x" + payload.hex(), emit)
        KILLS["exception_at_output"] += 1
        assert status == "reject" and posted[-1].kind == "report"
        assert node.dump() == before
        assert node.advance_raw(meta, payload).outputs == clean_outputs
        assert node.dump() == clean_dump


def test_interrupt_mid_advance_commits_nothing(tmp_path):
    """A BaseException (KeyboardInterrupt, SystemExit) is not caught: it leaves the
    transaction open and the process ends. Nothing of it is on disk."""
    path = str(tmp_path / "dapp.sqlite")
    node = Node(path)
    node.deposit(TOKEN, ALICE, 10**6, block=5)
    committed = state_hash(sqlite3.connect(path))
    faulty = FaultyConnection(node.conn)
    node.engine.conn = node.router.conn = faulty
    faulty.fail_at, faulty.exc = 2, KeyboardInterrupt()
    KILLS["interrupt"] += 1
    with pytest.raises(KeyboardInterrupt):
        node.advance(ALICE, op("transfer", token=TOKEN, receiver=BOB, amount=5))
    assert node.conn.in_transaction
    assert state_hash(sqlite3.connect(path)) == committed  # another reader sees nothing
    node.conn.close()  # what process exit does
    assert state_hash(sqlite3.connect(path)) == committed


# --- SIGKILL of dapp.py -------------------------------------------------------------------


def enqueue_log(host, log: list[dict]) -> list:
    inspects = []
    for entry in log:
        payload = bytes.fromhex(entry["payload"][2:])
        if entry["kind"] == "inspect":
            inspects.append(host.enqueue_inspect(payload))
        else:
            host.enqueue_advance(payload, sender=entry["sender"], block=entry["block"])
    return inspects


def check_against_clean_replay(finished: list[dict], db_path: str) -> Node:
    node, expected = replay_host_inputs(finished)
    got = [host_record(f) for f in finished]
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"input {i}: host has {g}, a clean run gives {e}"
    assert output_indices_are_dense(finished)
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        assert state_hash(conn) == node.state_hash()
    finally:
        conn.close()
    return node


def keep_alive(dapp: DappProcess, host, expected: int, timeout: float) -> None:
    """Restart dapp.py whenever it dies until the host has processed ``expected`` inputs.
    The kills come from the proxy, at request counts, so none depends on timing."""
    deadline = time.monotonic() + timeout
    while not (host.status()["processed_input_count"] == expected and drained(host)):
        assert time.monotonic() < deadline, f"stuck at {host.status()}\n{dapp.log()[-3000:]}"
        if not dapp.alive():
            dapp.start()
        time.sleep(0.005)


def test_sigkill_at_exact_points_then_restart(tmp_path):
    """Kills placed by the proxy before it forwards: a /finish (the input is committed but
    not finished), a notice or a voucher (mid-transaction, earlier outputs posted)."""
    log = mixed_log(n=260, users=8, tokens=2, seed=11)
    server, url = start_in_thread(finish_timeout=0.2)
    host = server.host
    db = str(tmp_path / "dapp.sqlite")
    holder: dict = {}
    kill_points = {("/finish", 30): "kill", ("/finish", 31): "kill", ("/notice", 60): "kill",
                   ("/voucher", 3): "kill", ("/finish", 120): "kill", ("/notice", 150): "kill",
                   ("/report", 5): "kill", ("/voucher", 9): "kill", ("/finish", 200): "kill"}
    proxy = FaultProxy(url, Plan(script=kill_points), on_kill=lambda: holder["dapp"].kill())
    dapp = holder["dapp"] = DappProcess(db, proxy.url, str(tmp_path / "dapp.log"))
    try:
        enqueue_log(host, log)
        advances = sum(1 for e in log if e["kind"] == "advance")
        keep_alive(dapp, host, advances, timeout=120)
        answer = HostClient(url).inspect("state-hash")
    finally:
        dapp.stop()
        proxy.stop()
        server.stop()
    kills = [i for i in proxy.injected if i[2] == "kill"]
    KILLS["exact"] += len(kills)
    assert len(kills) == len(kill_points), proxy.injected
    assert dapp.starts == len(kills) + 1
    finished = host.outputs()
    node = check_against_clean_replay(finished, db)
    assert "re-delivered after commit" in dapp.log()  # the committed-but-unfinished case was hit
    assert bytes.fromhex(answer["reports"][0]["payload"][2:]).decode().find(node.state_hash()) > 0


def test_sigkill_at_random_moments_then_restart(tmp_path):
    """Kills at request counts drawn at random (seeded) over every request the DApp makes.
    Half are ``kill_after``: the answer is handed over first, so the kill lands while the
    DApp is inside whatever comes next (a transaction, a commit, the next output). Each
    planned kill lands however fast or slow the machine is: it is placed by count."""
    log = mixed_log(n=500, users=12, tokens=2, seed=12)
    rng = random.Random(5)
    planned = {m: rng.choice(("kill", "kill_after")) for m in sorted(rng.sample(range(10, 1200), 8))}
    server, url = start_in_thread(finish_timeout=0.2)
    host = server.host
    db = str(tmp_path / "dapp.sqlite")
    holder: dict = {}
    proxy = FaultProxy(url, Plan(anywhere=planned), on_kill=lambda: holder["dapp"].kill())
    dapp = holder["dapp"] = DappProcess(db, proxy.url, str(tmp_path / "dapp.log"))
    try:
        enqueue_log(host, log)
        advances = sum(1 for e in log if e["kind"] == "advance")
        keep_alive(dapp, host, advances, timeout=180)
    finally:
        dapp.stop()
        proxy.stop()
        server.stop()
    kills = [i for i in proxy.injected if i[2] in ("kill", "kill_after")]
    KILLS["random"] += len(kills)
    assert len(kills) == len(planned) >= 3, f"only {len(kills)} SIGKILLs landed: {proxy.injected}"
    assert {fault for _, _, fault in kills} == {"kill", "kill_after"}
    assert dapp.starts == len(kills) + 1
    check_against_clean_replay(host.outputs(), db)
