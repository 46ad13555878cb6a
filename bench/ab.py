"""A/B of the write path through the router: this tree against another checkout (e.g.
22f610c exported with ``git archive``), on the same machine, interleaved.

    python -m bench.ab --base /tmp/base22 --scenarios hub spread churn --size 100000 --rounds 3

Each side builds each scenario once with its own code (kept in --workdir), then the
rounds alternate base, ours, base, ours...: each run copies the built database and times
``--n`` router inputs per op (open_stream, cancel_stream, update_stream; with --all-ops
also deposit, transfer, withdraw and a balance inspect), one input and one transaction
each, in a fresh process. The figure per side is the median over all its
runs' calls; ``×`` is base median / our median. Prints JSON lines and a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPS = ("open_stream", "cancel_stream", "update_stream")
OTHER_OPS = ("deposit", "transfer", "withdraw", "inspect_balance_random")

RUN = r"""
import json, os, shutil, sys, time
root, scenario, size, built, work, n, ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7].split(",")
sys.path.insert(0, root); os.chdir(root)
from bench.workload import Scenario
from bench.impls import IMPLS
from bench.measure import Clock, RouterDriver, router_calls
sc = Scenario(scenario, size, accounts=10_000)
if not os.path.exists(built):
    impl = IMPLS["ours"](built + ".tmp")
    impl.build(sc.actions(), sc.size, f"build {scenario} {size:,}")
    impl.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(built + ".tmp" + suffix):
            os.remove(built + ".tmp" + suffix)
    os.rename(built + ".tmp", built)
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(work + suffix):
        os.remove(work + suffix)
shutil.copy(built, work)
impl = IMPLS["ours"](work)
clock = Clock(sc.last_build_block() + 3)
drv = RouterDriver(impl.engine)
out = {}
for op in ops:
    calls = list(router_calls(drv, impl, sc, clock, op, n))
    before = drv.rejected
    times = []
    for call in calls:
        t = time.perf_counter_ns(); call(); times.append(time.perf_counter_ns() - t)
    out[op] = {"ns": times, "rejected": drv.rejected - before}
impl.close()
print(json.dumps(out))
"""


def run(tree: str, scenario: str, size: int, workdir: str, n: int, tag: str, ops: tuple) -> dict:
    built = os.path.join(workdir, f"{tag}-{scenario}-{size}.sqlite")
    work = os.path.join(workdir, f"{tag}-work.sqlite")
    proc = subprocess.run([sys.executable, "-c", RUN, tree, scenario, str(size), built, work, str(n), ",".join(ops)],
                          capture_output=True, text=True, cwd=tree)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(xs: list) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] / 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the other checkout (the baseline commit's files)")
    p.add_argument("--scenarios", nargs="+", default=["hub", "spread", "churn"])
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n", type=int, default=300, help="router inputs per op per run")
    p.add_argument("--workdir", default="/tmp/bench-ab")
    p.add_argument("--all-ops", action="store_true",
                   help="also deposit, transfer, withdraw and a balance inspect (the figures that must not get worse)")
    args = p.parse_args()
    ops = OPS + (OTHER_OPS if args.all_ops else ())
    os.makedirs(args.workdir, exist_ok=True)
    rows = []
    for scenario in args.scenarios:
        samples = {side: {op: [] for op in ops} for side in ("base", "ours")}
        rejected = {side: 0 for side in ("base", "ours")}
        for rnd in range(args.rounds):
            for side, tree in (("base", args.base), ("ours", ROOT)):
                t = time.perf_counter()
                result = run(tree, scenario, args.size, args.workdir, args.n, side, ops)
                for op in ops:
                    samples[side][op] += result[op]["ns"]
                    rejected[side] += result[op]["rejected"]
                print(json.dumps({"scenario": scenario, "round": rnd, "side": side, "seconds": round(time.perf_counter() - t, 1),
                                  **{op: median(result[op]["ns"]) for op in ops}}), flush=True)
        for op in ops:
            b, o = median(samples["base"][op]), median(samples["ours"][op])
            rows.append((scenario, op, b, o, b / o, rejected["base"], rejected["ours"]))
    print(f"\n| scenario ({args.size:,} streams) | op | base median µs | ours median µs | × |")
    print("|---|---|---|---|---|")
    for scenario, op, b, o, x, _, _ in rows:
        print(f"| {scenario} | {op} | {b:.0f} | {o:.0f} | {x:.2f}× |")
    print(f"\nloadavg at end: {os.getloadavg()}; rejected inputs (base, ours) per scenario: "
          + ", ".join(f"{r[0]} {r[5]}/{r[6]}" for r in rows[::len(ops)]))


if __name__ == "__main__":
    main()
