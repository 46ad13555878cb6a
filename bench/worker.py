"""One measurement in its own process: build one scenario at one size with one design,
time everything, write JSON. Own process, so peak RSS belongs to this run alone.

    python -m bench.worker --scenario hub --size 100000 --impl ours --out r.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import db_bytes, peak_rss_mb, remove_db  # noqa: E402
from bench.impls import IMPLS  # noqa: E402
from bench.measure import Clock, measure_churn, measure_reads, measure_router, measure_writes, pick_open_stream  # noqa: E402
from bench.workload import Scenario  # noqa: E402
from rollup_host import cli  # noqa: E402

PROFILES = {
    # samples per read, per write, per router input; seconds per op at most; HTTP inputs
    "full": {"reads": 2000, "writes": 1000, "router": 1000, "budget": 20.0, "http": 3000, "http_warm": 1000,
             "churn_opens": 2000, "churn_blocks": 20, "churn_reads": 25, "churn_budget": 90.0},
    "quick": {"reads": 300, "writes": 100, "router": 100, "budget": 3.0, "http": 200, "http_warm": 100,
              "churn_opens": 200, "churn_blocks": 5, "churn_reads": 10, "churn_budget": 5.0},
}


def run(args: argparse.Namespace) -> dict:
    prof = PROFILES[args.profile]
    sc = Scenario(args.scenario, args.size, accounts=args.accounts)
    path = os.path.join(args.workdir, f"{args.impl}-{sc.name}-{sc.size}.sqlite")
    remove_db(path)
    impl = IMPLS[args.impl](path)
    result: dict = {"scenario": sc.name, "size": sc.size, "impl": args.impl, "profile": args.profile,
                    "accounts": sc.n_accounts,
                    "loadavg_start": os.getloadavg()}

    t0 = time.perf_counter()
    impl.build(sc.actions(), sc.size, f"{args.impl} build {sc.name} {sc.size:,}")
    build_s = time.perf_counter() - t0
    size = db_bytes(path)
    now = sc.last_build_block() + 1
    result["build"] = {"seconds": build_s, "streams_per_s": sc.size / build_s, "db_bytes": size,
                       "db_bytes_per_stream": size / sc.size, "open_streams": impl.open_count(now),
                       "peak_rss_mb": peak_rss_mb()}
    clock = Clock(now)
    if args.http_only:
        pass
    elif sc.name == "churn":
        result["ops"] = measure_churn(impl, sc, clock, prof["churn_opens"], prof["churn_blocks"],
                                      prof["churn_reads"], prof["churn_budget"])
    else:
        result["ops"] = measure_reads(impl, sc, now, prof["reads"], prof["budget"])
        clock.block += 1  # writes start one block later: reads above saw untouched ledgers
        result["ops"].update(measure_writes(impl, sc, clock, prof["writes"], prof["budget"]))
    if args.impl == "ours":
        clock.block += 1
        if not args.http_only:
            result["router"] = measure_router(impl, sc, clock, prof["router"], prof["budget"])
        if args.http:
            rng = random.Random(3)
            used: set = set()
            block = clock.block + 1
            from bench.http_loop import loop_plan, run_http
            n, warm = prof["http"], prof["http_warm"]
            count, blocks = loop_plan(n, warm)
            cancels = [pick_open_stream(impl, rng, sc.size, block + blocks, used) for _ in range(count)]
            impl.close()
            cancels = [(s, row[0]) for s, row in cancels]
            if args.http_python:
                # each interpreter drives the loop from the same database, built once here
                result["http_by_python"] = {}
                for label, python in (spec.split("=", 1) for spec in args.http_python):
                    copy = os.path.join(args.workdir, f"{label}-{sc.name}-{sc.size}.sqlite")
                    remove_db(copy)
                    src, dst = sqlite3.connect(path), sqlite3.connect(copy)
                    src.backup(dst)
                    src.close()
                    dst.close()
                    result["http_by_python"][label] = run_http(copy, sc, block, n, warm, cancels, args.workdir,
                                                               python=python, log_label=label)
                    remove_db(copy)
            else:
                result["http"] = run_http(path, sc, block, n, warm, cancels, args.workdir)
            impl = None
    result["peak_rss_mb"] = peak_rss_mb()
    result["loadavg_end"] = os.getloadavg()
    if impl is not None:
        impl.close()
    if not args.keep_db:
        remove_db(path)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.worker", description=cli.summary(__doc__),
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--scenario", required=True, choices=("hub", "spread", "churn"), help="the workload")
    p.add_argument("--size", type=int, required=True, help="streams to build")
    p.add_argument("--impl", required=True, choices=sorted(IMPLS), help="ours, or the per-query-sum baseline")
    p.add_argument("--profile", default="full", choices=sorted(PROFILES), help="sample counts (quick for CI)")
    p.add_argument("--accounts", type=int, default=10_000, help="accounts in spread and churn")
    p.add_argument("--http", action="store_true", help="also run the full HTTP loop (ours)")
    p.add_argument("--http-python", action="append", metavar="LABEL=PYTHON",
                   help="run the HTTP loop with dapp.py on this interpreter, each from a copy of the same"
                        " database (repeatable); results under http_by_python")
    p.add_argument("--http-only", action="store_true", help="build, then only the HTTP loop")
    p.add_argument("--workdir", required=True, help="where the database goes")
    p.add_argument("--out", required=True, help="the JSON result file")
    p.add_argument("--keep-db", action="store_true", help="keep the database when done")
    args = p.parse_args(argv)
    result = run(args)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    cli.run(main)
