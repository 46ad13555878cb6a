"""Run the whole suite: every scenario at every size, ours and the baseline, each in its
own process; then write results/<scenario>.json, RESULTS.md and results/scaling.png.

    python -m bench            # full: 25,000 / 100,000 / 1,000,000 streams (~25-30 min on 2 cores)
    python -m bench --quick    # 500 / 2,000 streams, fewer samples (< 60 s; CI)

Exits non-zero only when a run crashes, never on a missed target.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from bench import report  # noqa: E402

SCENARIOS = ("hub", "spread", "churn")
FULL_SIZES = (25_000, 100_000, 1_000_000)
QUICK_SIZES = (500, 2_000)


def machine() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((l.split(":", 1)[1].strip() for l in fh if l.startswith("model name")), cpu)
    except OSError:
        pass
    commit = os.environ.get("BENCH_COMMIT", "")  # set when running from an exported snapshot
    try:
        commit = commit or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                          capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def run_worker(args, scenario: str, size: int, impl: str, http: bool, workdir: str) -> dict | None:
    out = os.path.join(workdir, f"{scenario}-{size}-{impl}.json")
    cmd = [sys.executable, "-m", "bench.worker", "--scenario", scenario, "--size", str(size),
           "--impl", impl, "--profile", args.profile, "--accounts", str(args.accounts),
           "--workdir", workdir, "--out", out]
    if http:
        cmd.append("--http")
    print(f"== {scenario} {size:,} streams, {impl}{' + HTTP loop' if http else ''}", file=sys.stderr, flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode != 0:
        print(f"!! {scenario} {size} {impl} failed with exit code {proc.returncode}", file=sys.stderr)
        return None
    with open(out) as fh:
        result = json.load(fh)
    result["wall_s"] = time.perf_counter() - t
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes and samples (CI smoke run)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--sizes", help="comma-separated stream counts")
    p.add_argument("--baseline-sizes", help="sizes at which to run the baseline (default: all)")
    p.add_argument("--accounts", type=int, help="accounts in spread and churn (10,000; quick 1,000)")
    p.add_argument("--out", help="results directory (default bench/results, quick: bench/results/quick)")
    p.add_argument("--md", help="markdown table (default bench/RESULTS.md, quick: <out>/RESULTS.md)")
    p.add_argument("--workdir", help="where the databases go (default: a temporary directory)")
    p.add_argument("--report-only", action="store_true",
                   help="only redraw RESULTS.md and the figure from the results directory")
    args = p.parse_args(argv)
    args.profile = "quick" if args.quick else "full"
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES if args.quick else FULL_SIZES)
    base_sizes = [int(s) for s in args.baseline_sizes.split(",")] if args.baseline_sizes else sizes
    args.accounts = args.accounts or (1_000 if args.quick else 10_000)
    out_dir = args.out or os.path.join(HERE, "results", "quick" if args.quick else "")
    out_dir = os.path.normpath(out_dir)
    md_path = args.md or (os.path.join(out_dir, "RESULTS.md") if args.quick else os.path.join(HERE, "RESULTS.md"))
    os.makedirs(out_dir, exist_ok=True)
    scenarios = [s for s in args.scenarios.split(",") if s]
    if args.report_only:
        with open(os.path.join(out_dir, "meta.json")) as fh:
            meta = json.load(fh)
        results = report.load(out_dir, scenarios)
        report.write_markdown(results, meta, md_path, out_dir)
        report.plot(results, os.path.join(out_dir, "scaling.png"))
        print(report.ratio_table(results))
        return 0

    meta = {"machine": machine(), "profile": args.profile, "sizes": sizes, "baseline_sizes": base_sizes,
            "accounts": args.accounts, "loadavg_start": os.getloadavg(),
            "command": "python -m bench" + (" --quick" if args.quick else "")}
    t0 = time.perf_counter()
    failed = 0
    own_tmp = None
    if args.workdir:
        workdir = args.workdir
        os.makedirs(workdir, exist_ok=True)
    else:
        own_tmp = tempfile.TemporaryDirectory(prefix="bench-")
        workdir = own_tmp.name
    try:
        for scenario in scenarios:
            runs: dict = {"ours": {}, "baseline": {}}
            for size in sizes:
                res = run_worker(args, scenario, size, "ours", size == max(sizes), workdir)
                failed += res is None
                if res:
                    runs["ours"][str(size)] = res
                if size in base_sizes:
                    res = run_worker(args, scenario, size, "baseline", False, workdir)
                    failed += res is None
                    if res:
                        runs["baseline"][str(size)] = res
            with open(os.path.join(out_dir, f"{scenario}.json"), "w") as fh:
                json.dump({"scenario": scenario, "meta": meta, "runs": runs}, fh, indent=1)
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()
    meta["wall_s"] = time.perf_counter() - t0
    meta["loadavg_end"] = os.getloadavg()
    with open(os.path.join(out_dir, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    results = report.load(out_dir, scenarios)
    report.write_markdown(results, meta, md_path, out_dir)
    report.plot(results, os.path.join(out_dir, "scaling.png"))
    print(report.ratio_table(results))
    print(f"\nwrote {md_path} and {os.path.join(out_dir, 'scaling.png')} in {meta['wall_s'] / 60:.1f} min",
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
