"""The full loop: local rollup host in a thread, dapp.py as a subprocess, HostClient driving.

Two ways to feed it, both sequential for the DApp (it takes one input at a time):

queued       the inputs wait in the host before the DApp starts (as a rollup node holds
             the inputs it read from the chain); inputs per second is what dapp.py and
             the host sustain, the target's figure
closed loop  the client sends an input and waits for its outcome before the next one;
             per-input latency includes the client's own round trip

Both first run with the host, the driver and dapp.py on one core, as the DApp and the
rollup server share the one core of a Cartesi machine and as the issue sets its targets
("on one laptop core"). Then a second queued drain lets them spread over every core. On a
virtual machine that costs more than it gives: the loop is strictly sequential, so a second
core only adds a cross-core wake-up (an idle virtual CPU woken by the hypervisor, ~50 µs
here) to each of the two or three HTTP round trips per input.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from bench.common import TOKEN, hexaddr, progress, summarize
from bench.workload import Scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIX = ("deposit", "open_stream", "transfer", "withdraw", "cancel_stream")
INPUTS_PER_BLOCK = 10


def _vmhwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _inputs(sc: Scenario, n: int, cancels, first_block: int, seed: int):
    """(kind, sender, payload-or-amount, block) for n inputs cycling through MIX; ``cancels``
    is an iterator of (stream id, sender) of streams still open."""
    import random

    rng = random.Random(seed)
    for k in range(n):
        block = first_block + k // INPUTS_PER_BLOCK
        kind = MIX[k % len(MIX)]
        a = sc.hub if (sc.hub and kind in ("transfer", "withdraw")) else sc.account(rng.randrange(sc.n_accounts))
        if kind == "deposit":
            yield kind, hexaddr(a), 10**12, block
        elif kind == "open_stream":
            r = sc.hub or a
            while r == a:
                r = sc.account(rng.randrange(sc.n_accounts))
            yield kind, hexaddr(a), {"op": "open_stream", "token": TOKEN, "receiver": hexaddr(r),
                                     "amount": str(10**10), "duration": 100_000}, block
        elif kind == "transfer":
            r = a
            while r == a:
                r = sc.account(rng.randrange(sc.n_accounts))
            yield kind, hexaddr(a), {"op": "transfer", "token": TOKEN, "receiver": hexaddr(r), "amount": "1"}, block
        elif kind == "withdraw":
            yield kind, hexaddr(a), {"op": "withdraw", "token": TOKEN, "amount": "1"}, block
        else:
            sid, sender = next(cancels)
            yield kind, hexaddr(sender), {"op": "cancel_stream", "stream_id": sid}, block


def loop_plan(n: int, warm: int) -> tuple[int, int]:
    """(streams ``run_http`` cancels, blocks it spans): two drains of warm + n inputs and a
    closed loop of n, one input in len(MIX) a cancel, INPUTS_PER_BLOCK inputs a block."""
    inputs = 2 * (warm + n) + n
    return inputs // len(MIX) + 6, inputs // INPUTS_PER_BLOCK + 3


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (/proc/<pid>/stat). Under
    emulation the process is qemu running the whole riscv64 interpreter: its CPU is the
    DApp's, translation included."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _statuses(records: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for rec in records:
        out[rec["status"]] = out.get(rec["status"], 0) + 1
    return out


def _pin(cpus: set[int]) -> None:
    """Put this process's threads (the driver's, the host's) on ``cpus``; threads and
    processes started from here on inherit it."""
    for thread in threading.enumerate():
        if thread.native_id is not None:
            os.sched_setaffinity(thread.native_id, cpus)


def run_http(db_path: str, sc: Scenario, first_block: int, n: int, warm: int,
             cancels: list[tuple[int, bytes]], logdir: str, python: str = sys.executable,
             log_label: str = "") -> dict:
    """A queued drain and a closed loop on one core, then a queued drain on every core,
    of ``n`` inputs each; returns inputs/s, latencies and dapp.py's CPU per input.
    ``python`` runs dapp.py (``python -m bench --riscv``: the emulated riscv64 one), whose
    log gets ``log_label`` in its name.

    Queued: ``warm`` + n inputs wait in the host before a fresh dapp.py starts, as a node
    holds the inputs it read from the chain; the rate is timed from the end of the warm-up
    to the last input, watching the host's own counter (no HTTP polling in the way). The
    warm-up's own rate is kept too: a fresh process starts with SQLite's page cache empty
    and reads every page it touches from the OS. (On a 100,000-stream hub its first second
    ran at 426 inputs/s and the next ones at 920-1,090; at 1,000,000 streams the warm-up
    and the timed inputs ran at about the same rate.)
    """
    from rollup_host.child import stop
    from rollup_host.client import HostClient
    from rollup_host.server import start_in_thread

    every_cpu = os.sched_getaffinity(0)
    _pin({max(every_cpu)})  # before the host's threads exist: they inherit it
    server, url = start_in_thread(port=0, block=first_block)
    client = HostClient(url, timeout=120)
    # The driver plays the rollup node, not the system under test: skip requests' per-call
    # scan of the environment for proxy settings (~0.3 ms a call here).
    client.session.trust_env = False
    env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=url, DAPP_DB=db_path, PYTHONUNBUFFERED="1")
    log = open(os.path.join(logdir, f"dapp-{sc.name}-{sc.size}{log_label and '-' + log_label}.log"), "w")
    proc = None
    open_ids = iter(cancels)
    out: dict = {"inputs": n, "cpus": len(every_cpu)}
    next_block = first_block

    def send(item, wait: bool):
        kind, sender, body, block = item
        if kind == "deposit":
            return client.deposit(TOKEN, sender, body, block=block, wait=wait)
        return client.advance(sender, body, block=block, wait=wait)

    def batch(count: int, seed: int) -> list:
        nonlocal next_block
        items = list(_inputs(sc, count, open_ids, next_block, seed))
        next_block = items[-1][3] + 1
        return items

    def drain(label: str, seed: int) -> dict:
        """Queue warm + n inputs, start dapp.py (as ``proc``), time the first ``warm`` (from
        the first input's end) and the n after them."""
        nonlocal proc
        host = server.host
        done0 = host.status()["processed_input_count"]
        items = batch(warm + n, seed)
        for item in items:
            send(item, False)
        proc = subprocess.Popen([python, os.path.join(ROOT, "dapp.py")], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        bar = progress(warm + n, label)
        marks: dict[int, float] = {}  # inputs done -> when first seen
        cpu: dict[int, float] = {}  # inputs done -> dapp.py's CPU seconds then
        seen = 0
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            done = min(host.status()["processed_input_count"] - done0, len(items))
            now = time.perf_counter()
            for mark in (1, warm, len(items)):
                if done >= mark and mark not in marks:
                    marks[mark] = now
                    cpu[mark] = _cpu_s(proc.pid)
            bar.update(done - seen)
            seen = done
            if done >= len(items):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"dapp.py exited with {proc.returncode}")
            time.sleep(0.005)  # on the loop's one core too: polling must stay light
        bar.close()
        return {"inputs_per_s": n / (marks[len(items)] - marks[warm]),
                "dapp_cpu_us_per_input": (cpu[len(items)] - cpu[warm]) / n * 1e6,
                "warm_up": {"inputs": warm, "inputs_per_s": (warm - 1) / (marks[warm] - marks[1])},
                "statuses": _statuses(client.outputs(done0 + warm))}

    try:
        out["queued"] = drain("http queued drain, one core", seed=5)
        # closed loop: one input at a time, the client waiting for each outcome
        lat: list[int] = []
        results: list[dict] = []
        bar = progress(n, "http closed loop, one core")
        t0, cpu0 = time.perf_counter(), _cpu_s(proc.pid)
        for item in batch(n, seed=6):
            t = time.perf_counter_ns()
            results.append(send(item, True))
            lat.append(time.perf_counter_ns() - t)
            bar.update(1)
        elapsed, cpu_used = time.perf_counter() - t0, _cpu_s(proc.pid) - cpu0
        bar.close()
        out["closed_loop"] = {"inputs_per_s": n / elapsed, "dapp_cpu_us_per_input": cpu_used / n * 1e6,
                              "latency": summarize(lat), "statuses": _statuses(results)}
        out["dapp_peak_rss_mb"] = _vmhwm_mb(proc.pid)
        if len(every_cpu) > 1:
            stop(proc)
            _pin(every_cpu)
            out["queued_all_cores"] = drain(f"http queued drain, {len(every_cpu)} cores", seed=7)
    finally:
        client.close()
        if proc is not None:
            stop(proc)
        server.stop()
        log.close()
        _pin(every_cpu)
    return out
