"""How the engine's cost grows with a hub's incoming streams (issue: flat, not linear).

Builds a hub account with N incoming streams of different lengths, each from its own
sender (a DEX pool fed by its traders),
then times realtime_balance_of (at the current block and far in the future) and
open_stream into the hub, all sizes in interleaved rounds. Prints a table and the ratio
of the largest N to the smallest.

    python bench/core_scale.py --streams 1000000
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rollup_host import cli  # noqa: E402
from streamable_token import StreamableToken  # noqa: E402

TOKEN = "0x" + "77" * 20
HUB = "0x" + "99" * 20
BLOCK = 1000


def sender(i: int) -> str:
    return "0x" + (i + 1).to_bytes(20, "big").hex()


def build(path: str, n: int) -> StreamableToken:
    engine = StreamableToken(path)
    conn = engine.conn
    conn.execute("BEGIN")
    done = 0
    step = max(1, n // 20)
    t0 = time.perf_counter()
    for i in range(n):
        # different lengths and starts, all still open at BLOCK
        duration = 10_000 + (i * 7919) % 1_000_000
        engine.mint(TOKEN, sender(i), 2 * 10**18, block=0)
        engine.open_stream(TOKEN, sender(i), HUB, 10**18 + i, 1 + i % 900, duration, 0)
        done += 1
        if done % 50_000 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
        if done % step == 0 and n >= 100_000:
            rate = done / (time.perf_counter() - t0)
            print(f"\r  building {n:>9,}: {done:>9,} streams, {rate:,.0f}/s", end="", file=sys.stderr)
    conn.execute("COMMIT")
    if n >= 100_000:
        print(file=sys.stderr)
    return engine


ROUNDS = 10


def measure_all(sizes: list[int], workdir: str) -> list[dict]:
    """Build every size, then time them in interleaved rounds (each round times every size
    in turn), so that a load change on the machine hits all sizes alike, not one of them."""
    rows, engines = [], []
    for n in sizes:
        path = os.path.join(workdir, f"hub-{n}.sqlite")
        t0 = time.perf_counter()
        engines.append(build(path, n))
        rows.append({"n": n, "build_s": time.perf_counter() - t0, "path": path,
                     "balance_now_us": [], "balance_future_us": [], "open_us": []})
    opened = [0] * len(sizes)

    def open_one(i: int) -> None:
        engine, n, k = engines[i], sizes[i], opened[i]
        engine.conn.execute("BEGIN")
        engine.open_stream(TOKEN, sender(k % n), HUB, 10**15, BLOCK + k, 5000 + k, BLOCK + k)
        engine.conn.execute("COMMIT")
        opened[i] += 1

    for _ in range(ROUNDS):  # reads first: the hub was last written at block 0
        for i, engine in enumerate(engines):
            for k in range(200):
                t = time.perf_counter_ns()
                engine.realtime_balance_of(TOKEN, HUB, BLOCK)
                rows[i]["balance_now_us"].append(time.perf_counter_ns() - t)
            for k in range(200):
                t = time.perf_counter_ns()
                engine.realtime_balance_of(TOKEN, HUB, BLOCK + 600_000 + k)
                rows[i]["balance_future_us"].append(time.perf_counter_ns() - t)
    for _ in range(ROUNDS):
        for i in range(len(engines)):
            for k in range(100):
                t = time.perf_counter_ns()
                open_one(i)
                rows[i]["open_us"].append(time.perf_counter_ns() - t)
    for row, engine in zip(rows, engines):
        for key in ("balance_now_us", "balance_future_us", "open_us"):
            row[key] = statistics.median(row[key]) / 1000.0
        engine.close()
        row["db_bytes_per_stream"] = os.path.getsize(row.pop("path")) / row["n"]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.core_scale", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--streams", type=int, default=1_000_000, help="largest hub size (also 10 and 10,000)")
    args = parser.parse_args(argv)
    sizes = [n for n in (10, 10_000, args.streams) if n <= args.streams]
    sizes = sorted(set(sizes))
    with tempfile.TemporaryDirectory() as workdir:
        rows = measure_all(sizes, workdir)
    print(f"{'streams':>10} {'build s':>8} {'balance now µs':>15} {'balance future µs':>18} "
          f"{'open_stream µs':>15} {'DB B/stream':>12}")
    for r in rows:
        print(f"{r['n']:>10,} {r['build_s']:>8.1f} {r['balance_now_us']:>15.1f} "
              f"{r['balance_future_us']:>18.1f} {r['open_us']:>15.1f} {r['db_bytes_per_stream']:>12.0f}")
    small, big = rows[0], rows[-1]
    for key in ("balance_now_us", "balance_future_us", "open_us"):
        ratio = big[key] / small[key]
        verdict = "flat (within 2x)" if ratio <= 2 else "NOT within 2x"
        print(f"{key}: {big['n']:,} vs {small['n']:,} streams: ratio {ratio:.2f} -> {verdict}")


if __name__ == "__main__":
    cli.run(main)
