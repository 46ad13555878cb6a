"""Turn results/<scenario>.json into RESULTS.md, a ratio table and results/scaling.png."""
from __future__ import annotations

import json
import os
from typing import Optional

TARGET_BUILD_S = 600
TARGET_BYTES = 300
TARGET_RSS_MB = 200
TARGET_BALANCE_US = 100
TARGET_FLAT = 2.0
TARGET_ROUTER_US = 1000
TARGET_HTTP = 1000
TARGET_SIZE = 1_000_000  # the targets are set for this many open streams

ENGINE_OPS = [
    ("balance_hub_now", "realtime_balance_of, hub, current block"),
    ("balance_hub_now_loop", "… same, baseline summing in a Python loop"),
    ("balance_hub_future", "realtime_balance_of, hub, far future"),
    ("balance_random_now", "realtime_balance_of, random account, current block"),
    ("balance_random_now_loop", "… same, baseline summing in a Python loop"),
    ("balance_random_future", "realtime_balance_of, random account, far future"),
    ("open_stream", "open_stream"),
    ("cancel_stream", "cancel_stream"),
    ("update_stream", "update_stream"),
    ("transfer", "transfer"),
    ("withdraw", "withdraw (burn)"),
]
ROUTER_OPS = [
    ("deposit", "deposit (portal)"),
    ("open_stream", "open_stream"),
    ("cancel_stream", "cancel_stream"),
    ("update_stream", "update_stream"),
    ("transfer", "transfer"),
    ("withdraw", "withdraw (+ voucher)"),
    ("inspect_balance_hub", "inspect balance, hub"),
    ("inspect_balance_random", "inspect balance, random account"),
]


def load(out_dir: str, scenarios: list[str]) -> dict:
    results = {}
    for name in scenarios:
        path = os.path.join(out_dir, f"{name}.json")
        if os.path.exists(path):
            with open(path) as fh:
                results[name] = json.load(fh)["runs"]
    return results


def _sizes(runs: dict) -> list[int]:
    return sorted({int(s) for impl in runs.values() for s in impl})


def _op(runs: dict, impl: str, size: int, op: str, layer: str = "ops") -> Optional[dict]:
    if impl == "ours" and op.endswith("_loop"):
        op = op[: -len("_loop")]  # the loop variant is a second baseline for the same call
    r = runs.get(impl, {}).get(str(size))
    if not r:
        return None
    v = r.get(layer, {}).get(op)
    return v if v and v.get("n") else None


def _us(x: Optional[float]) -> str:
    if x is None:
        return "–"
    if x >= 100_000:
        return f"{x / 1000:,.0f} ms"
    if x >= 10_000:
        return f"{x / 1000:,.1f} ms"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}"


def _cell(v: Optional[dict]) -> str:
    return "–" if v is None else f"{_us(v['median_us'])} / {_us(v['p99_us'])}"


def _ratio(base: Optional[dict], ours: Optional[dict]) -> Optional[float]:
    if not base or not ours or not ours["median_us"]:
        return None
    return base["median_us"] / ours["median_us"]


def _x(r: Optional[float]) -> str:
    """Baseline median / ours, as "N×"; where the baseline is faster, said so (never "0.0×")."""
    if r is None:
        return "–"
    if r < 1:
        return f"baseline {_x(1 / r)} faster"
    return f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"


def judged(results: dict) -> bool:
    """Whether this run reaches the size the targets are set for; a smaller (quick) run's
    figures are reported without a verdict."""
    sizes = [max(_sizes(runs)) for runs in results.values() if _sizes(runs)]
    return bool(sizes) and min(sizes) >= TARGET_SIZE


def _ok(flag: Optional[bool]) -> str:
    return "–" if flag is None else ("met" if flag else "**missed**")


# --- targets ------------------------------------------------------------------------------


def targets(results: dict) -> list[tuple[str, str, Optional[bool]]]:
    rows = []
    big = {name: max(_sizes(runs)) for name, runs in results.items() if _sizes(runs)}
    small = {name: min(_sizes(runs)) for name, runs in results.items() if _sizes(runs)}

    def ours(name, size):
        return results[name].get("ours", {}).get(str(size))

    figures, ok = [], True
    for name, n in big.items():
        r = ours(name, n)
        if r:
            seconds = r["build"]["seconds"]
            figures.append(f"{name} {seconds:,.0f} s" if seconds >= 10 else f"{name} {seconds:.2f} s")
            figures[-1] += f" ({r['build']['streams_per_s']:,.0f}/s)"
            ok &= r["build"]["seconds"] < TARGET_BUILD_S
    rows.append((f"1,000,000 open streams built in < {TARGET_BUILD_S // 60} min", "; ".join(figures), ok if figures else None))

    figures, ok = [], True
    for name, n in big.items():
        r = ours(name, n)
        if r:
            figures.append(f"{name} {r['build']['db_bytes_per_stream']:,.0f} B")
            ok &= r["build"]["db_bytes_per_stream"] < TARGET_BYTES
    rows.append((f"DB < {TARGET_BYTES} bytes per stream (largest size)", "; ".join(figures), ok if figures else None))

    figures, ok = [], True
    for name, n in big.items():
        r = ours(name, n)
        if r:
            figures.append(f"{name} {r['peak_rss_mb']:,.0f} MB")
            ok &= r["peak_rss_mb"] < TARGET_RSS_MB
    rows.append((f"peak RSS < {TARGET_RSS_MB} MB (largest size, whole run incl. measurements)", "; ".join(figures), ok if figures else None))

    med, flat = [], []
    ok_med = ok_flat = True
    for name, runs in results.items():
        if name not in big:
            continue
        for op in ("balance_hub_now", "balance_hub_future", "balance_random_now", "balance_random_future"):
            b, s = _op(runs, "ours", big[name], op), _op(runs, "ours", small[name], op)
            if not b:
                continue
            label = f"{name}: {op.replace('balance_', '').replace('_', ' ')}"
            med.append(f"{label} {_us(b['median_us'])} µs")
            ok_med &= b["median_us"] < TARGET_BALANCE_US
            if s and big[name] != small[name]:
                ratio = b["median_us"] / s["median_us"]
                flat.append(f"{label} {ratio:.2f}")
                ok_flat &= ratio <= TARGET_FLAT
    rows.append((f"realtime_balance_of median < {TARGET_BALANCE_US} µs (largest size)", "; ".join(med), ok_med if med else None))
    rows.append((f"realtime_balance_of flat: largest / smallest size ≤ {TARGET_FLAT:g}", "; ".join(flat), ok_flat if flat else None))

    figures, ok = [], True
    for name, n in big.items():
        for op in ("open_stream", "cancel_stream"):
            v = _op(results[name], "ours", n, op, "router")
            if v:
                figures.append(f"{name} {op} {_us(v['median_us'])} µs")
                ok &= v["median_us"] < TARGET_ROUTER_US
    rows.append((f"open/cancel through the router: median < {TARGET_ROUTER_US / 1000:g} ms (largest size)", "; ".join(figures), ok if figures else None))

    figures, ok = [], True
    for name, n in big.items():
        r = ours(name, n)
        h = r and r.get("http")
        if h:
            spread = h.get("queued_all_cores")
            notes = [f"the {w['inputs']:,} before, warming up: {w['inputs_per_s']:,.0f}/s"
                     for w in [h["queued"].get("warm_up")] if w]
            notes += [f"on {h['cpus']} cores: {spread['inputs_per_s']:,.0f}/s"] if spread else []
            figures.append(f"{name} {h['queued']['inputs_per_s']:,.0f}/s queued on one core"
                           + (f" ({'; '.join(notes)})" if notes else "")
                           + f", {h['closed_loop']['inputs_per_s']:,.0f}/s closed loop")
            ok &= h["queued"]["inputs_per_s"] >= TARGET_HTTP
    rows.append((f"full HTTP loop ≥ {TARGET_HTTP:,} advance inputs/s (largest size)", "; ".join(figures), ok if figures else None))

    hub = results.get("hub")
    if hub:
        sizes = _sizes(hub)
        n = 100_000 if 100_000 in sizes else sizes[-1]
        parts = []
        for op, label in (("balance_hub_now", "current block, SQL sum"),
                          ("balance_hub_now_loop", "current block, Python loop"),
                          ("balance_hub_future", "far future, SQL sum")):
            r = _ratio(_op(hub, "baseline", n, op), _op(hub, "ours", n, op))
            if r:
                parts.append(f"{label} {_x(r)}")
        rows.append((f"hub balance vs baseline at {n:,} streams (expect thousands ×)", "; ".join(parts) or "–",
                     None if not parts else None))
    if not judged(results):
        rows = [(name, figures, None) for name, figures, _ in rows]
    return rows


# --- markdown -----------------------------------------------------------------------------


def write_markdown(results: dict, meta: dict, md_path: str, out_dir: str) -> None:
    m = meta["machine"]
    rel = os.path.relpath(out_dir, os.path.dirname(os.path.abspath(md_path)))
    load = meta.get("loadavg_start", [0])[0], meta.get("loadavg_end", [0])[0]
    lines = [
        "# Benchmark results",
        "",
        f"`{meta['command']}` on {m['cpu']} ({m['cores']} cores), Python {m['python']}, SQLite {m['sqlite']},"
        f" commit {m['commit']}, {m['date']}; the whole run took {meta.get('wall_s', 0) / 60:.1f} min."
        f" Load average at start / end: {load[0]:.1f} / {load[1]:.1f}"
        + (" (other work shared the CPU: timings are noisier than on an idle machine)." if max(load) > 1.2 else "."),
        "",
        f"![time per operation against open streams, ours vs baseline]({rel}/scaling.png)",
        "",
        "Times are median / p99 in µs (ms where marked) over single calls; every write is one call in its"
        " own SQLite transaction, as the DApp runs one per input. *Baseline*: the same streams stored as rows,"
        " balance = stored + Σ streamed so far, summed by SQLite per query (see `bench/impls.py`);"
        " × is baseline median / our median. p99 figures of a few ms are mostly the scheduler (other work"
        " on the 2 cores) and WAL checkpoints, both of which a real node sees too.",
        "",
        "## Targets",
        "",
    ]
    if not judged(results):
        largest = max(max(_sizes(runs)) for runs in results.values() if _sizes(runs))
        lines += [f"The targets are set for {TARGET_SIZE:,} open streams; this run's largest size is"
                  f" {largest:,}, so its figures are shown without a verdict.", ""]
    lines += [
        "| target | measured | |",
        "|---|---|---|",
    ]
    for name, figures, ok in targets(results):
        lines.append(f"| {name} | {figures} | {_ok(ok)} |")
    for name, runs in results.items():
        sizes = _sizes(runs)
        lines += ["", f"## {name}", "", _scenario_note(name, meta), ""]
        lines += _state_table(runs, sizes)
        lines += [""] + _engine_table(runs, sizes)
        lines += [""] + _router_table(runs, sizes)
        http = _http_line(runs, sizes)
        if http:
            lines += ["", http]
        churn = _churn_line(runs, sizes)
        if churn:
            lines += ["", churn]
    # python -m bench.ab: ab.json, then any run kept beside it (ab-py313.json: the same A/B
    # on the Python of the Cartesi machine)
    for ab_name in sorted((n for n in os.listdir(out_dir) if n.startswith("ab") and n.endswith(".json")),
                          key=lambda n: (n != "ab.json", n)):
        with open(os.path.join(out_dir, ab_name)) as fh:
            lines += [""] + ab_lines(json.load(fh))
    riscv_path = os.path.join(out_dir, "riscv64.json")
    if os.path.exists(riscv_path):  # python -m bench --riscv
        with open(riscv_path) as fh:
            lines += [""] + riscv_lines(json.load(fh))
    machine_path = os.path.join(out_dir, "machine.json")
    if os.path.exists(machine_path):  # make machine-bench: its section, as it writes it
        from bench.machine_bench import markdown as machine_markdown
        with open(machine_path) as fh:
            lines += ["", machine_markdown(json.load(fh)).rstrip("\n")]
    page_path = os.path.join(out_dir, "page.json")
    if os.path.exists(page_path):  # make bench-page
        from bench.page import table as page_table
        with open(page_path) as fh:
            lines += ["", "## The web page in chromium (`make bench-page`)", "", page_table(json.load(fh))]
    with open(md_path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def _scenario_note(name: str, meta: dict) -> str:
    acc = f"{meta.get('accounts', 10_000):,}"
    return {
        "hub": "One pool account receives every stream; traders open 10 streams each (one deposit per"
               " trader). Half the streams start at once, half within a day; lengths 1 week to 1 year in blocks."
               " Writes: traders open into the hub, the hub transfers and withdraws, random streams are"
               " canceled and updated.",
        "spread": f"Streams between {acc} random accounts; half start at once, half within a week;"
                  " lengths 1 week to 1 year. Writes between random accounts.",
        "churn": f"Steady state between {acc} accounts: open streams have the ages of a running system"
                 " (lifetimes 1,000–3,000 blocks), then every block opens size/2,000 streams and cancels and"
                 " updates a fifth as many while others end on their own; every operation is timed inside"
                 " those blocks.",
    }.get(name, "")


def _state_table(runs: dict, sizes: list[int]) -> list[str]:
    head = "| state | " + " | ".join(f"{n:,}" for n in sizes) + " |"
    rows = [head, "|---" * (len(sizes) + 1) + "|"]

    def row(label, fn):
        cells = []
        for n in sizes:
            try:
                cells.append(fn(n))
            except (KeyError, TypeError):
                cells.append("–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    o = lambda n: runs["ours"][str(n)]  # noqa: E731
    b = lambda n: runs["baseline"][str(n)]  # noqa: E731
    row("open streams at the measured block", lambda n: f"{o(n)['build']['open_streams']:,}")
    row("build, ours (engine API)", lambda n: f"{o(n)['build']['seconds']:,.1f} s ({o(n)['build']['streams_per_s']:,.0f}/s)")
    row("build, baseline (bulk insert)", lambda n: f"{b(n)['build']['seconds']:,.1f} s")
    row("DB bytes per stream, ours", lambda n: f"{o(n)['build']['db_bytes_per_stream']:,.0f}")
    row("DB bytes per stream, baseline", lambda n: f"{b(n)['build']['db_bytes_per_stream']:,.0f}")
    row("peak RSS, ours (MB)", lambda n: f"{o(n)['peak_rss_mb']:,.0f}")
    row("peak RSS, baseline (MB)", lambda n: f"{b(n)['peak_rss_mb']:,.0f}")
    return rows


def _engine_table(runs: dict, sizes: list[int]) -> list[str]:
    head = "| engine API (µs) | " + " | ".join(f"{n:,} ours | baseline | ×" for n in sizes) + " |"
    rows = [head, "|---" * (3 * len(sizes) + 1) + "|"]
    for op, label in ENGINE_OPS:
        if not any(_op(runs, "ours", n, op) for n in sizes):
            continue
        if op.endswith("_loop") and not any(_op(runs, "baseline", n, op) for n in sizes):
            continue
        cells = []
        for n in sizes:
            o, b = _op(runs, "ours", n, op), _op(runs, "baseline", n, op)
            cells += [_cell(o), _cell(b), _x(_ratio(b, o))]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def _router_table(runs: dict, sizes: list[int]) -> list[str]:
    head = "| through the input router (µs) | " + " | ".join(f"{n:,}" for n in sizes) + " |"
    rows = [head, "|---" * (len(sizes) + 1) + "|"]
    for op, label in ROUTER_OPS:
        if not any(_op(runs, "ours", n, op, "router") for n in sizes):
            continue
        rows.append(f"| {label} | " + " | ".join(_cell(_op(runs, "ours", n, op, "router")) for n in sizes) + " |")
    return rows


def _http_line(runs: dict, sizes: list[int]) -> Optional[str]:
    for n in reversed(sizes):
        h = runs.get("ours", {}).get(str(n), {}).get("http")
        if h:
            c, q = h["closed_loop"], h["queued"]
            lat = c["latency"]
            spread = h.get("queued_all_cores")
            return (f"Full HTTP loop at {n:,} streams ({h['inputs']:,} inputs each run; deposit, open, transfer,"
                    f" withdraw, cancel in turn), host, driver and dapp.py on one core as in a Cartesi machine:"
                    f" **{q['inputs_per_s']:,.0f} inputs/s** draining inputs queued in the host (statuses"
                    f" {q['statuses']})"
                    + (f", timed after {w['inputs']:,} warm-up inputs to a fresh dapp.py (those ran at"
                       f" {w['inputs_per_s']:,.0f} inputs/s)" if (w := q.get("warm_up")) else "")
                    + f"; {c['inputs_per_s']:,.0f} inputs/s in a closed loop (latency median"
                    f" {lat['median_us'] / 1000:.1f} ms, p99 {lat['p99_us'] / 1000:.1f} ms, statuses {c['statuses']})"
                    + (f"; spread over {h['cpus']} cores, {spread['inputs_per_s']:,.0f} inputs/s queued"
                       f" (statuses {spread['statuses']}), each round trip then paying a cross-core wake-up"
                       if spread else "")
                    + f"; dapp.py peak RSS {h.get('dapp_peak_rss_mb') or 0:,.0f} MB.")
    return None


def ab_lines(ab: dict) -> list[str]:
    """The section of ``python -m bench.ab``: router writes against an earlier commit."""
    m = ab["machine"]
    lines = [
        f"## A/B: this commit against {ab['base']}, through the input router (Python {m['python']})",
        "",
        f"`{ab['command']}` on {m['cpu']} ({m['cores']} cores), Python {m['python']}, SQLite {m['sqlite']},"
        f" commit {m['commit']}, {m['date']}; load average at the end {ab['loadavg_end'][0]:.1f}. Each side builds"
        f" each scenario at {ab['size']:,} streams with its own code; then, in each of {ab['rounds']} rounds, one"
        f" worker per side on a fresh copy of its database, the two taking turns {ab['turn']} inputs at a time,"
        f" times {ab['n']} inputs per op after {ab['warm']} untimed ones (one input, one transaction each)."
        " Medians over all rounds, in µs; × is base / ours.",
        "",
        f"| scenario | op | {ab['base']} | this commit | × |",
        "|---|---|---|---|---|",
    ]
    for r in ab["rows"]:
        lines.append(f"| {r['scenario']} | {r['op']} | {r['base_us']:.0f} | {r['ours_us']:.0f} |"
                     f" {r['base_us'] / r['ours_us']:.2f}× |")
    rejected = {(r["scenario"]): r["rejected"] for r in ab["rows"] if any(r["rejected"])}
    if rejected:
        lines += ["", f"Rejected inputs (base, ours): {rejected}."]
    return lines


def riscv_lines(result: dict) -> list[str]:
    """The section of ``python -m bench --riscv``: the HTTP loop with dapp.py native and on
    the emulated riscv64 Python 3.13, from one database."""
    meta, runs = result["meta"], result["http_by_python"]
    m, r = meta["machine"], meta["riscv64"]
    native, riscv = runs["native"], runs["riscv64"]

    def row(label: str, h: dict) -> str:
        q, c = h["queued"], h["closed_loop"]
        spread = h.get("queued_all_cores")
        return (f"| {label} | **{q['inputs_per_s']:,.0f}** | {q['dapp_cpu_us_per_input']:,.0f} |"
                f" {q['warm_up']['inputs_per_s']:,.0f} | {c['inputs_per_s']:,.0f} | {c['dapp_cpu_us_per_input']:,.0f} |"
                f" {c['latency']['median_us'] / 1000:.1f} / {c['latency']['p99_us'] / 1000:.1f} |"
                + (f" {spread['inputs_per_s']:,.0f} |" if spread else " – |"))

    rate = native["queued"]["inputs_per_s"] / riscv["queued"]["inputs_per_s"]
    cpu = riscv["queued"]["dapp_cpu_us_per_input"] / native["queued"]["dapp_cpu_us_per_input"]
    statuses = {k: h[p]["statuses"] for k, h in runs.items() for p in ("queued",)}
    return [
        "## riscv64 (emulated): the DApp on the Cartesi machine's architecture",
        "",
        f"`{meta['command']}` on {m['cpu']} ({m['cores']} cores), commit {m['commit']}, {m['date']}; the run took"
        f" {meta['wall_s'] / 60:.1f} min, load average at start / end {result['loadavg_start'][0]:.1f} /"
        f" {meta['loadavg_end'][0]:.1f}" + (" (other work shared the CPU: the inputs/s of both runs are lower than on an"
                                            " idle machine; CPU per input is the steadier figure)"
                                            if max(result['loadavg_start'][0], meta['loadavg_end'][0]) > 1.2 else "")
        + f". One hub database"
        f" built natively at {result['size']:,} streams, copied for each run; the local host and the driver native;"
        f" dapp.py on native Python {m['python']} (SQLite {m['sqlite']}), then on {r['machine']} Python {r['python']}"
        f" (Debian trixie, SQLite {r['sqlite']}) under qemu-user (`riscv/setup.sh`), each for {native['inputs']:,}"
        f" inputs per measurement (deposit, open, transfer, withdraw, cancel in turn) as in the full run's HTTP loop."
        f" CPU per input is dapp.py's own (user + system, from /proc; under emulation, qemu's), over the same"
        f" inputs. Statuses: {statuses}.",
        "",
        "| dapp.py on | queued, one core: inputs/s | CPU µs / input | warm-up inputs/s | closed loop inputs/s"
        " | CPU µs / input | latency median / p99 ms | queued, all cores: inputs/s |",
        "|---|---|---|---|---|---|---|---|",
        row(f"native amd64, Python {m['python']}", native),
        row(f"{r['machine']}, Python {r['python']}, emulated", riscv),
        "",
        f"Emulated, dapp.py drains {rate:.1f}× fewer inputs per second on one core and spends {cpu:.1f}× the CPU per"
        " input. The closest measure here of the DApp's cost inside a Cartesi machine, not that cost: qemu-user"
        " translates riscv64 code into this machine's own, while the Cartesi machine's emulator runs it its own way"
        " under its own kernel, at a speed not measured here. No target is set yet.",
    ]


def riscv_summary(result: dict) -> str:
    native, riscv = result["http_by_python"]["native"], result["http_by_python"]["riscv64"]
    return (f"riscv64 emulated: {riscv['queued']['inputs_per_s']:,.0f} inputs/s, {riscv['queued']['dapp_cpu_us_per_input']:,.0f}"
        f" µs CPU per input; native: {native['queued']['inputs_per_s']:,.0f} inputs/s,"
        f" {native['queued']['dapp_cpu_us_per_input']:,.0f} µs ({result['size']:,} hub streams, queued, one core)")


def _churn_line(runs: dict, sizes: list[int]) -> Optional[str]:
    parts = []
    for n in sizes:
        c = runs.get("ours", {}).get(str(n), {}).get("ops", {}).get("churn")
        if c:
            parts.append(f"{n:,}: {c['blocks']} blocks, {c['opens_per_block']:,.1f} opens/block, open streams"
                         f" {c['open_streams_before']:,} → {c['open_streams_after']:,}")
    return ("Churn steady state — " + "; ".join(parts) + ".") if parts else None


# --- ratios --------------------------------------------------------------------------------


def ratio_table(results: dict) -> str:
    lines = ["ours / baseline (baseline median ÷ our median; engine API, one transaction per write)"]
    for name, runs in results.items():
        sizes = _sizes(runs)
        lines.append(f"\n{name:>8} {'op':<24}" + "".join(f"{n:>22,}" for n in sizes))
        for op, _ in ENGINE_OPS:
            ratios = [_ratio(_op(runs, "baseline", n, op), _op(runs, "ours", n, op)) for n in sizes]
            if any(r is not None for r in ratios):
                lines.append(f"{'':>8} {op:<24}" + "".join(f"{_x(r):>22}" for r in ratios))
    return "\n".join(lines)


# --- the figure ------------------------------------------------------------------------------

PLOTTED = [
    ("balance_hub_now", "balance (hub)"),
    ("balance_random_now", "balance (random account)"),
    ("open_stream", "open_stream"),
    ("cancel_stream", "cancel_stream"),
    ("transfer", "transfer"),
]


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 5.4), sharey=True, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[0], names):
        runs = results[name]
        for i, (op, label) in enumerate(PLOTTED):
            for impl, style, marker in (("ours", "-", "o"), ("baseline", "--", "s")):
                pts = [(n, _op(runs, impl, n, op)) for n in _sizes(runs)]
                pts = [(runs[impl][str(n)]["build"]["open_streams"], v["median_us"]) for n, v in pts if v]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, style, marker=marker, color=colors[i % len(colors)], ms=4,
                            label=f"{label}, {impl}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("open streams")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("median time per operation (µs)")
    handles, labels = {}, {}
    for ax in axes[0]:
        for h, l in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(l, h)
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=5, fontsize=8,
               frameon=False)
    fig.suptitle("Time per operation vs open streams — ours (solid) vs per-query sum baseline (dashed)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
