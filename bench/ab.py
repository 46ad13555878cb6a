"""A/B of the write path through the router: this tree against another checkout (e.g.
22f610c exported with ``git archive``), on the same machine, interleaved call by call.

    python -m bench.ab --base /tmp/base22 --scenarios hub spread churn --size 100000 --rounds 3

Each side builds each scenario once with its own code (kept in --workdir). Then each
round starts one worker process per side on a fresh copy of its built database; the two
take turns, one router input at a time (base, ours, ours, base, ...), so a swing in the
machine's speed, which here reaches 1.5x within a minute, falls on both sides alike. Per
op (open_stream, cancel_stream, update_stream; with --all-ops also deposit, transfer,
withdraw and a balance inspect) each worker first runs ``--warm`` untimed inputs, then
times ``--n`` of them, one input and one transaction each. The figure per side is the
median over all rounds' timed calls; ``×`` is base median / our median. Prints JSON lines
and a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from rollup_host import cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OPS = ("open_stream", "cancel_stream", "update_stream")
OTHER_OPS = ("deposit", "transfer", "withdraw", "inspect_balance_random")

# One side's worker: builds the scenario if its database is missing (and stops there when
# its work path is "-"), then answers "<op> <count> <total>" on stdin by running the next
# ``count`` of the op's ``total`` inputs and printing their times (ns) and the op's
# rejected inputs so far as JSON.
WORKER = r"""
import json, os, shutil, sys, time
root, scenario, size, built, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
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
if work == "-":
    sys.exit(0)
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(work + suffix):
        os.remove(work + suffix)
shutil.copy(built, work)
impl = IMPLS["ours"](work)
clock = Clock(sc.last_build_block() + 3)
drv = RouterDriver(impl.engine)
print("ready", flush=True)
calls, rejected = {}, {}
for line in sys.stdin:
    op, count, total = line.split()
    if op == "quit":
        break
    if op not in calls:  # an op's inputs are drawn when it starts, after the ops before it ran
        calls[op] = iter(list(router_calls(drv, impl, sc, clock, op, int(total))))
    times = []
    for _ in range(int(count)):
        before = drv.rejected
        call = next(calls[op])
        t = time.perf_counter_ns(); call(); times.append(time.perf_counter_ns() - t)
        rejected[op] = rejected.get(op, 0) + drv.rejected - before
    print(json.dumps({"ns": times, "rejected": rejected.get(op, 0)}), flush=True)
impl.close()
"""


class Worker:
    def __init__(self, tree: str, scenario: str, size: int, built: str, work: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, tree, scenario, str(size), built, work],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"worker in {tree} did not start")

    def run(self, op: str, count: int, total: int) -> dict:
        self.proc.stdin.write(f"{op} {count} {total}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("worker died")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.write("quit 0 0\n")
        self.proc.stdin.close()
        self.proc.wait()


def build(tree: str, scenario: str, size: int, built: str) -> None:
    proc = subprocess.run([sys.executable, "-c", WORKER, tree, scenario, str(size), built, "-"], cwd=tree)
    if proc.returncode:
        raise RuntimeError(f"build in {tree} failed")


def write_json(args: argparse.Namespace, rows: list) -> None:
    from bench.run import machine

    with open(args.out, "w") as fh:
        json.dump({
            "command": "python -m bench.ab " + " ".join(sys.argv[1:]),
            "machine": machine(), "base": args.base_label or os.path.basename(os.path.abspath(args.base)),
            "size": args.size, "rounds": args.rounds, "n": args.n, "warm": args.warm, "turn": args.turn,
            "loadavg_end": os.getloadavg(),
            "rows": [{"scenario": r[0], "op": r[1], "base_us": r[2], "ours_us": r[3], "rejected": [r[5], r[6]]}
                     for r in rows],
        }, fh, indent=1)


def median(xs: list) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] / 1000


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=cli.summary(__doc__),
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--base", required=True, help="the other checkout (the baseline commit's files)")
    p.add_argument("--base-label", help="what the base is, e.g. its commit (default: the directory's name)")
    p.add_argument("--scenarios", nargs="+", default=["hub", "spread", "churn"], help="scenarios to compare")
    p.add_argument("--size", type=int, default=100_000, help="streams in each scenario's database")
    p.add_argument("--rounds", type=int, default=3, help="rounds, each on fresh copies of the built databases")
    p.add_argument("--n", type=int, default=300, help="timed router inputs per op per round")
    p.add_argument("--warm", type=int, default=0, help="untimed inputs per op per round before the timed ones")
    p.add_argument("--turn", type=int, default=10, help="inputs a side runs before the other takes its turn")
    p.add_argument("--workdir", default="/tmp/bench-ab", help="where the built databases are kept")
    p.add_argument("--out", default=os.path.join(HERE, "results", "ab.json"),
                   help="the figures as JSON (RESULTS.md shows them; '' to skip)")
    p.add_argument("--all-ops", action="store_true",
                   help="also deposit, transfer, withdraw and a balance inspect (the figures that must not get worse)")
    args = p.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    sides = (("base", args.base), ("ours", ROOT))
    rows = []
    for scenario in args.scenarios:
        ops = OPS + (OTHER_OPS + (("inspect_balance_hub",) if scenario == "hub" else ()) if args.all_ops else ())
        built = {side: os.path.join(args.workdir, f"{side}-{scenario}-{args.size}.sqlite") for side, _ in sides}
        for side, tree in sides:
            build(tree, scenario, args.size, built[side])
        samples = {side: {op: [] for op in ops} for side, _ in sides}
        rejected = {side: 0 for side, _ in sides}
        for rnd in range(args.rounds):
            t = time.perf_counter()
            workers = {side: Worker(tree, scenario, args.size, built[side], os.path.join(args.workdir, f"{side}-work.sqlite"))
                       for side, tree in sides}
            total = args.warm + args.n
            for op in ops:
                for side, _ in sides:
                    if args.warm:
                        workers[side].run(op, args.warm, total)
                for k in range(0, args.n, args.turn):
                    order = sides if (k // args.turn + rnd) % 2 == 0 else sides[::-1]
                    for side, _ in order:
                        out = workers[side].run(op, min(args.turn, args.n - k), total)
                        samples[side][op] += out["ns"]
            for side, _ in sides:
                for op in ops:
                    rejected[side] += workers[side].run(op, 0, total)["rejected"]
                workers[side].close()
            print(json.dumps({"scenario": scenario, "round": rnd, "seconds": round(time.perf_counter() - t, 1),
                              **{f"{side} {op}": median(samples[side][op][-args.n:]) for side, _ in sides for op in ops}}),
                  flush=True)
        for op in ops:
            b, o = median(samples["base"][op]), median(samples["ours"][op])
            rows.append((scenario, op, b, o, b / o, rejected["base"], rejected["ours"]))
    if args.out:
        write_json(args, rows)
    print(f"\n| scenario ({args.size:,} streams) | op | base median µs | ours median µs | × |")
    print("|---|---|---|---|---|")
    for scenario, op, b, o, x, _, _ in rows:
        print(f"| {scenario} | {op} | {b:.0f} | {o:.0f} | {x:.2f}× |")
    print(f"\nwarm-up {args.warm} inputs per op per round; loadavg at end: {os.getloadavg()};"
          " rejected inputs (base, ours) per scenario: "
          + ", ".join(f"{scenario} {b}/{o}" for scenario, (b, o) in {r[0]: (r[5], r[6]) for r in rows}.items()))


if __name__ == "__main__":
    cli.run(main)
