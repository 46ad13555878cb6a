"""The full loop: local rollup host in a thread, dapp.py as a subprocess, HostClient driving.

Two ways to feed it, both sequential for the DApp (it takes one input at a time):

closed loop  the client sends an input and waits for its outcome before the next one;
             per-input latency includes the client's own round trip
queued       the client queues every input without waiting (as a rollup node does with
             the inputs it read from the chain), then waits for the last; inputs per
             second is what the DApp and the host sustain
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.common import TOKEN, hexaddr, progress, summarize
from bench.workload import Scenario

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIX = ("deposit", "open_stream", "transfer", "withdraw", "cancel_stream")


def _vmhwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _inputs(sc: Scenario, n: int, cancels: list[tuple[int, bytes]], first_block: int):
    """(kind, sender, payload-or-amount, block) for n inputs cycling through MIX."""
    import random

    rng = random.Random(5)
    ci = 0
    for k in range(n):
        block = first_block + k // 10
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
            sid, sender = cancels[ci]
            ci += 1
            yield kind, hexaddr(sender), {"op": "cancel_stream", "stream_id": sid}, block


def run_http(db_path: str, sc: Scenario, first_block: int, n: int,
             cancels: list[tuple[int, bytes]], logdir: str) -> dict:
    """Closed-loop then queued runs of ``n`` inputs each; returns inputs/s and latencies."""
    from rollup_host.client import HostClient
    from rollup_host.server import start_in_thread

    server, url = start_in_thread(port=0, block=first_block)
    env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=url, DAPP_DB=db_path, PYTHONUNBUFFERED="1")
    log = open(os.path.join(logdir, f"dapp-{sc.name}-{sc.size}.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "dapp.py")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    client = HostClient(url, timeout=120)
    # The driver plays the rollup node, not the system under test: skip requests' per-call
    # scan of the environment for proxy settings (~0.3 ms a call here).
    client.session.trust_env = False
    out: dict = {"inputs": n}
    try:
        def send(item, wait: bool):
            kind, sender, body, block = item
            if kind == "deposit":
                return client.deposit(TOKEN, sender, body, block=block, wait=wait)
            return client.advance(sender, body, block=block, wait=wait)

        # warm-up: the DApp starts, opens the database and takes a few inputs
        warm = list(_inputs(sc, 10, cancels[-2:], first_block))
        for item in warm[:4]:
            send(item, True)
        block = warm[3][3]
        # closed loop
        items = list(_inputs(sc, n, cancels[: n // len(MIX) + 1], block))
        lat: list[int] = []
        statuses: dict[str, int] = {}
        bar = progress(n, "http closed loop")
        t0 = time.perf_counter()
        for item in items:
            t = time.perf_counter_ns()
            res = send(item, True)
            lat.append(time.perf_counter_ns() - t)
            statuses[res["status"]] = statuses.get(res["status"], 0) + 1
            bar.update(1)
        elapsed = time.perf_counter() - t0
        bar.close()
        out["closed_loop"] = {"inputs_per_s": n / elapsed, "latency": summarize(lat), "statuses": statuses}
        # queued: the DApp drains what the client queues
        block = items[-1][3] + 1
        items = list(_inputs(sc, n, cancels[n // len(MIX) + 1:], block))
        before = len(client.outputs())
        bar = progress(n, "http queued")
        t0 = time.perf_counter()
        for item in items[:-1]:
            send(item, False)
            bar.update(1)
        send(items[-1], True)
        elapsed = time.perf_counter() - t0
        bar.update(1)
        bar.close()
        done = client.outputs(before)
        statuses = {}
        for rec in done:
            statuses[rec["status"]] = statuses.get(rec["status"], 0) + 1
        out["queued"] = {"inputs_per_s": n / elapsed, "statuses": statuses}
        out["dapp_peak_rss_mb"] = _vmhwm_mb(proc.pid)
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.stop()
        log.close()
    return out
