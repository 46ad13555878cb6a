"""The web page's costs in Debian's chromium: load to first balance, and a frame's cost with
1,000 streams on one account, against a naive page in the same run.

    python -m bench.page [--streams 1000] [--loads 5] [--frames 5000]

The whole local stack (``l1.app.Stack``: anvil, contracts, host, ``dapp.py``, bridge) with
one account (Alice) that opened ``--streams`` streams through the InputBox (batches of 250).
The page is opened with ``?bench``, which adds ``window.__bench``: ``frames(n)`` paints n
frames as the page does (each from the block's one snapshot: cost independent of the number
of streams), ``naiveFrames(n)`` recomputes every frame from every stream, ``block(k)``
re-renders the stream rows as at k blocks on, the activity and the chart. Load to first balance is the
page's own ``performance.mark("first-balance")``, from navigation start.

Prints a table and writes ``bench/results/page.json`` (``python -m bench --report-only`` puts it in
``bench/RESULTS.md``). Needs npm packages (``make l1-deps``),
playwright and ``/usr/bin/chromium`` (``make page-deps``).
"""
from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from l1.app import Stack, build_page
from rollup_host import cli
from l1.contracts import at

RESULTS = Path(__file__).resolve().parent / "results" / "page.json"
CHROMIUM = "/usr/bin/chromium"
BATCH = 250
E18 = 10 ** 18


def _processed(stack: Stack) -> int:
    answer = requests.post(f"{stack.url}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "cartesi_getProcessedInputCount",
                                                     "params": {"application": stack.deployment["application"]}}, timeout=30)
    return int(answer.json()["result"]["data"], 16)


def _open_streams(stack: Stack, count: int) -> str:
    """Alice deposits through the portal and opens `count` streams in batches; returns her address."""
    alice = stack.accounts[1]
    token, dep = stack.token, stack.deployment
    total = count * 10 * E18
    token.transact("mint", alice, total, sender=alice)
    token.transact("approve", dep["erc20_portal"], total, sender=alice)
    at(stack.rpc, "ERC20Portal", dep["erc20_portal"]).transact(
        "depositERC20Tokens", dep["token"], dep["application"], total, b"", sender=alice)
    box = at(stack.rpc, "InputBox", dep["input_box"])
    sent = 1
    for first in range(0, count, BATCH):
        ops = [{"op": "open_stream", "token": dep["token"], "receiver": "0x%040x" % (0x1000 + i),
                "amount": str(10 * E18), "duration": 100_000 + i} for i in range(first, min(count, first + BATCH))]
        box.transact("addInput", dep["application"], json.dumps({"op": "batch", "ops": ops}).encode(), sender=alice)
        sent += 1
    deadline = time.monotonic() + 600
    while _processed(stack) < sent:
        if time.monotonic() > deadline:
            raise RuntimeError("the DApp did not process the inputs in 10 minutes")
        time.sleep(0.2)
    return alice


def measure(streams: int, loads: int, frames: int) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        web = build_page(Path(tmp) / "web")
        bundle = (web / "app.js").read_bytes()
        with Stack(tmp, block_time=None, web_dir=web) as stack:
            alice = _open_streams(stack, streams)
            stack.rpc.mine(1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--disable-gpu", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"])
                first_balance = {"empty": [], "streams": []}
                for who, account in (("empty", stack.accounts[3]), ("streams", alice)):
                    for _ in range(loads):
                        page = browser.new_page()
                        page.goto(f"{stack.url}/?account={account}&bench")
                        page.wait_for_function("performance.getEntriesByName('first-balance').length > 0", timeout=120_000)
                        first_balance[who].append(page.evaluate("performance.getEntriesByName('first-balance')[0].startTime"))
                        page.close()
                page = browser.new_page()
                page.goto(f"{stack.url}/?account={alice}&bench")
                page.wait_for_function(f"window.__bench && window.__bench.streams() === {streams}"
                                       " && document.querySelector('[data-figure=balance]')?.dataset.wei", timeout=120_000)
                ours = [page.evaluate("n => __bench.frames(n)", frames) / frames for _ in range(5)]
                naive_n = max(10, frames // 20)
                naive = [page.evaluate("n => __bench.naiveFrames(n)", naive_n) / naive_n for _ in range(5)]
                block = [page.evaluate("k => __bench.block(k)", k) for k in range(1, 6)]
                browser.close()
    return {
        "streams": streams,
        "bundle_bytes": len(bundle), "bundle_gzip_bytes": len(gzip.compress(bundle, 9)),
        "first_balance_ms": first_balance,
        "frame_ms": {"ours": ours, "naive": naive},
        "block_render_ms": block,
    }


def table(r: dict) -> str:
    med = statistics.median
    ours, naive = med(r["frame_ms"]["ours"]), med(r["frame_ms"]["naive"])
    rows = [
        ("bundle (app.js, minified / gzip)", f"{r['bundle_bytes'] / 1024:.0f} KiB / {r['bundle_gzip_bytes'] / 1024:.0f} KiB", "", ""),
        ("load to first balance, account without streams (ms)", f"{med(r['first_balance_ms']['empty']):.0f}", "", ""),
        (f"load to first balance, {r['streams']:,} streams (ms)", f"{med(r['first_balance_ms']['streams']):.0f}", "", ""),
        (f"one frame, {r['streams']:,} streams (us)", f"{ours * 1000:.1f}", f"{naive * 1000:.1f}", f"{naive / ours:.0f}x"),
    ]
    for part in ("streams", "activity", "chart"):
        rows.append((f"one block's re-render of the {part}, {r['streams']:,} streams (ms)",
                     f"{med(b[part] for b in r['block_render_ms']):.1f}", "", ""))
    lines = ["| measure | ours | naive (every stream, every frame) | naive / ours |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--streams", type=int, default=1000, help="streams on one account (default 1000)")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed per account (default 5)")
    parser.add_argument("--frames", type=int, default=5000, help="frames timed per sample (default 5000)")
    parser.add_argument("--out", default=str(RESULTS), help=f"JSON results (default {RESULTS})")
    args = parser.parse_args(argv)
    result = measure(args.streams, args.loads, args.frames)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    cli.run(main)
