"""Run the whole suite: every scenario at every size, ours and the baseline, each in its
own process; then write results/<scenario>.json, RESULTS.md and results/scaling.png.

    python -m bench            # full: 25,000 / 100,000 / 1,000,000 streams (~25-30 min on 2 cores)
    python -m bench --quick    # 500 / 2,000 streams, fewer samples (< 60 s; CI)
    python -m bench --riscv    # the HTTP loop with dapp.py on riscv64 Python 3.13 (emulated)
                               # beside native, hub at 100,000 streams (~2 min)

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
from rollup_host import cli  # noqa: E402

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


RISCV_SIZE = 100_000


def riscv_python() -> str | None:
    """The emulated interpreter: $RISCV_PYTHON, else the one riscv/setup.sh builds or reuses."""
    if os.environ.get("RISCV_PYTHON"):
        return os.environ["RISCV_PYTHON"]
    proc = subprocess.run(["bash", os.path.join(ROOT, "riscv", "setup.sh")], cwd=ROOT, stdout=subprocess.PIPE,
                          text=True)
    if proc.returncode != 0:
        return None
    return os.path.join(proc.stdout.strip().splitlines()[-1], "bin", "python")


def riscv(args, size: int, out_dir: str, md_path: str, scenarios: list[str]) -> int:
    """The same HTTP loop, dapp.py native then emulated riscv64, on copies of one database
    built natively; then RESULTS.md is redrawn from the results directory with the figures."""
    python = riscv_python()
    if python is None:
        print("!! no emulated riscv64 Python (riscv/setup.sh needs root the first time)", file=sys.stderr)
        return 1
    facts = subprocess.run([python, "-c", "import platform, sqlite3; print(platform.machine(),"
                            " platform.python_version(), sqlite3.sqlite_version)"],
                           capture_output=True, text=True, check=True).stdout.split()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-riscv-") as workdir:
        out = os.path.join(workdir, "riscv.json")
        cmd = [sys.executable, "-m", "bench.worker", "--scenario", "hub", "--size", str(size), "--impl", "ours",
               "--profile", args.profile, "--workdir", workdir, "--out", out, "--http", "--http-only",
               "--http-python", f"native={sys.executable}", "--http-python", f"riscv64={python}"]
        print(f"== hub {size:,} streams, HTTP loop native and riscv64 ({' '.join(facts)})", file=sys.stderr, flush=True)
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            return 1
        with open(out) as fh:
            result = json.load(fh)
    result["meta"] = {"machine": machine(), "riscv64": dict(zip(("machine", "python", "sqlite"), facts)),
                      "command": "python -m bench --riscv" + (" --quick" if args.quick else ""), "wall_s": time.perf_counter() - t0,
                      "loadavg_end": os.getloadavg()}
    with open(os.path.join(out_dir, "riscv64.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    print(report.riscv_summary(result))
    if os.path.exists(os.path.join(out_dir, "meta.json")):
        with open(os.path.join(out_dir, "meta.json")) as fh:
            meta = json.load(fh)
        report.write_markdown(report.load(out_dir, scenarios), meta, md_path, out_dir)
        print(f"wrote {md_path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=cli.summary(__doc__),
                                formatter_class=cli.HelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and samples (CI smoke run)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated scenarios to run")
    p.add_argument("--sizes", help="comma-separated stream counts (default "
                                   f"{','.join(map(str, FULL_SIZES))}; quick: {','.join(map(str, QUICK_SIZES))})")
    p.add_argument("--baseline-sizes", help="sizes at which to run the baseline (default: all)")
    p.add_argument("--accounts", type=int, help="accounts in spread and churn (10,000; quick 1,000)")
    p.add_argument("--out", help="results directory (default bench/results, quick: bench/results/quick)")
    p.add_argument("--md", help="markdown table (default bench/RESULTS.md, quick: <out>/RESULTS.md)")
    p.add_argument("--workdir", help="where the databases go (default: a temporary directory)")
    p.add_argument("--riscv", action="store_true",
                   help="HTTP loop with dapp.py native and on the emulated riscv64 Python 3.13 (riscv/setup.sh,"
                        " or $RISCV_PYTHON), on one database built natively (hub, --sizes, default 100,000);"
                        " writes results/riscv64.json and its section of RESULTS.md")
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
    if args.riscv:
        return riscv(args, int(args.sizes or (QUICK_SIZES[-1] if args.quick else RISCV_SIZE)), out_dir, md_path,
                     scenarios)
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
