"""What an input costs inside the real Cartesi machine (issue 31): mcycles per input kind on
databases of 0, 10,000 and 100,000 open streams, beside a do-nothing Python DApp through the
same rollup shim; the machine's RAM use; boot to the first /finish; the emulator's speed here.

    python -m bench.machine_bench [--sizes 0,10000,100000] [--rounds 3] [--no-md]

Each database is built natively (the input router in-process: deposits, then batches of 10
open_stream ops from traders into one hub account, streams of 1,000,000 blocks), put on an
ext2 flash drive (label "data", mounted by the guest's init at /var/lib/dapp), and the
machine is booted with it and stored at dapp.py's first /finish. The measured inputs then
run from that snapshot through `cartesi-machine --cmio-advance-state` (machine/harness.py).
Writes bench/results/machine.json and the machine section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine.harness import Machine, MachineUnavailable, Request, Scenario, free_port  # noqa: F401
from rollup_host import cli

HERE = Path(__file__).resolve().parent
TOKEN = "0x1111111111111111111111111111111111111111"
HUB = "0x4875624875624875624875624875624875624875"
ALICE = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
BOB = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
E18 = 10**18
STREAMS_PER_TRADER = 10
KINDS = ["deposit", "open", "update", "cancel", "transfer", "withdraw", "refused", "inspect"]
MD_BEGIN = "<!-- machine_bench:begin -->"
MD_END = "<!-- machine_bench:end -->"


def trader(i: int) -> str:
    return "0x" + f"{0x7000000000 + i:040x}"


def build_db(path: str, streams: int) -> float:
    """The database natively, through the router in-process; returns seconds."""
    from streamable_token import StreamableToken
    from streamable_token.rollup.router import Config, Router

    t0 = time.perf_counter()
    router = Router(StreamableToken(path), Config(version="v2"))
    s = Scenario()
    s.deposit(TOKEN, HUB, 1000 * E18, 1)
    s.deposit(TOKEN, ALICE, 1000 * E18, 1)
    for t in range(math.ceil(streams / STREAMS_PER_TRADER)):
        n = min(STREAMS_PER_TRADER, streams - t * STREAMS_PER_TRADER)
        s.deposit(TOKEN, trader(t), n * E18, 1)
        s.advance("open", trader(t), 1, {"op": "batch", "ops": [
            {"op": "open_stream", "token": TOKEN, "receiver": HUB, "amount": str(E18), "duration": 1_000_000}
            for _ in range(n)]})
    for req in s.requests:
        status = router.advance(req.metadata(), "0x" + req.payload.hex(), lambda out: None)
        assert status == "accept", (req.kind, req.index)
    router.close()
    for suffix in ("-wal", "-shm"):
        assert not os.path.exists(path + suffix) or os.path.getsize(path + suffix) == 0, path + suffix
    return time.perf_counter() - t0


def measured(streams: int, rounds: int) -> Scenario:
    """Every kind of input, `rounds` times, then the shim's meminfo query."""
    s = Scenario()
    for r in range(rounds):
        block = 100 + 10 * r
        own = streams + r + 1  # the id of the stream Alice opens this round
        s.deposit(TOKEN, ALICE, 10 * E18, block)
        s.advance("open", ALICE, block, {"op": "open_stream", "token": TOKEN, "receiver": HUB,
                                         "amount": str(E18), "duration": 1000})
        s.advance("update", ALICE, block + 1, {"op": "update_stream", "stream_id": own, "amount": str(2 * E18)})
        s.advance("cancel", ALICE, block + 2, {"op": "cancel_stream", "stream_id": own})
        s.advance("transfer", HUB, block + 3, {"op": "transfer", "token": TOKEN, "receiver": BOB, "amount": str(E18)})
        s.advance("withdraw", HUB, block + 4, {"op": "withdraw", "token": TOKEN, "amount": str(E18)})
        s.advance("refused", ALICE, block + 5, {"op": "transfer", "token": TOKEN, "receiver": BOB,
                                                "amount": str(10**9 * E18)})
        s.inspect("inspect", f"balance/{TOKEN}/{HUB}")
    s.inspect("meminfo", "machine:meminfo")
    return s


class Booter:
    """Boots variants of the built machine (extra boot words, a data drive) and stores them."""

    def __init__(self, base: Machine) -> None:
        self.base = base
        out = subprocess.run(["chroot", str(base.chroot), "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "bash", "-c",
                              f'. {base.inside}/env.sh && printf "%s\\0" "${{BOOT_ARGS[@]}}"'],
                             check=True, stdout=subprocess.PIPE).stdout.decode()
        self.boot_args = [a for a in out.split("\0") if a]
        self.root = base.chroot / "cache" / "bench"
        self.root.mkdir(parents=True, exist_ok=True)

    def inside(self, path: Path) -> str:
        return "/" + str(path.relative_to(self.base.chroot))

    def data_drive(self, name: str, db_path: str | None) -> Path:
        """An ext2 image (label data) holding dapp.sqlite, sized to a power of two."""
        d = self.root / name
        tree = d / "data"
        tree.mkdir(parents=True, exist_ok=True)
        size = 16 << 20
        if db_path:
            shutil.copy(db_path, tree / "dapp.sqlite")
            need = 2 * os.path.getsize(db_path) + (8 << 20)
            while size < need:
                size *= 2
        img = d / "data.ext2"
        subprocess.run(["chroot", str(self.base.chroot), "mke2fs", "-q", "-F", "-t", "ext2", "-b", "4096", "-L", "data",
                        "-E", "root_owner=0:0", "-d", self.inside(tree), self.inside(img), str(size // 1024) + "k"],
                       check=True)
        shutil.rmtree(tree)
        return img

    def boot(self, name: str, extra: str = "", data: Path | None = None) -> tuple[Machine, float]:
        """Boot to the first yield and store it; returns the machine and the boot's wall seconds."""
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        snap = d / "snapshot"
        shutil.rmtree(snap, ignore_errors=True)
        args = [a + (" " + extra if extra else "") if a.startswith("--append-bootargs=") else a
                for a in self.boot_args]
        if data is not None:
            args.append(f"--flash-drive=label:data,data_filename:{self.inside(data)}")
        script = (f". {self.base.inside}/env.sh && exec cartesi-machine.lua "
                  + " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
                  + f" --max-mcycle=40000000000 --assert-rolling-template --store={self.inside(snap)}")
        t0 = time.perf_counter()
        proc = subprocess.run(["chroot", str(self.base.chroot), "/usr/bin/env", "-i", "PATH=/usr/bin:/bin",
                               "HOME=/root", "bash", "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        (d / "boot.log").write_text(proc.stdout)
        cycles = re.findall(r"^Cycles: (\d+)", proc.stdout, re.M)
        if proc.returncode != 0 or "Manual yield rx-accepted" not in proc.stdout or not cycles:
            raise RuntimeError(f"boot {name} failed:\n{proc.stdout[-3000:]}")
        (d / "boot-mcycles").write_text(cycles[-1] + "\n")
        (d / "chroot").write_text(str(self.base.chroot) + "\n")
        shutil.copy(self.base.dir / "env.sh", d / "env.sh")
        return Machine(d), wall


def by_kind(requests, results) -> dict[str, dict]:
    values: dict[str, list[int]] = {}
    for req, res in zip(requests, results):
        if req.kind != "meminfo":
            values.setdefault(req.kind, []).append(res.mcycles)
    return {k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
            for k, v in values.items()}


def meminfo(result) -> dict:
    text = result.reports[0].decode()
    info = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB", text, re.M)}
    procs = re.findall(r"Name:\t(\S+)\nVmHWM:\s+(\d+) kB", text)
    return {"mem_total_kb": info.get("MemTotal"), "mem_available_kb": info.get("MemAvailable"),
            "mem_free_kb": info.get("MemFree"),
            "processes_hwm_kb": {name: int(kb) for name, kb in procs}}


def run(sizes: list[int], rounds: int) -> dict:
    base = Machine.build()
    results: dict = {"sizes": sizes, "rounds": rounds, "runs": {}}
    with base:
        booter = Booter(base)
        results["ram_length"] = next((a.split("=", 1)[1] for a in booter.boot_args if a.startswith("--ram-length=")), "?")
        tmp = Path(booter.root / "db")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        variants = [("noop", None)] + [(f"streams-{n}", n) for n in sizes]
        for name, n in variants:
            entry: dict = {}
            if n is None:
                machine, wall = booter.boot("noop", extra="dapp.noop=1")
                scenario = measured(0, rounds)
            else:
                db = str(tmp / f"{name}.sqlite")
                entry["db_build_s"] = round(build_db(db, n), 1)
                entry["db_bytes"] = os.path.getsize(db)
                img = booter.data_drive(name, db)
                entry["drive_bytes"] = os.path.getsize(img)
                machine, wall = booter.boot(name, data=img)
                scenario = measured(n, rounds)
            entry["boot_mcycles"] = machine.boot_mcycles
            entry["boot_wall_s"] = round(wall, 1)
            t0 = time.perf_counter()
            res = machine.run_interleaved(scenario.requests)
            entry["run_wall_s"] = round(time.perf_counter() - t0, 1)
            entry["statuses"] = [r.status for r in res]
            entry["kinds"] = by_kind(scenario.requests, res)
            entry["memory"] = meminfo(res[-1])
            if n is not None:
                bad = [(q.kind, r.status) for q, r in zip(scenario.requests, res)
                       if (r.status == "accept") != (q.kind != "refused")]
                assert not bad, bad
            results["runs"][name] = entry
            print(f"{name}: boot {machine.boot_mcycles / 1e6:,.0f} M in {wall:.1f} s; "
                  + ", ".join(f"{k} {v['median'] / 1e6:.2f} M" for k, v in entry["kinds"].items()), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(booter.root, ignore_errors=True)  # ~0.6 GB per stored variant
    # the least disturbed boot (other work shares the 2 cores) gives the emulator's speed
    results["emulator_mcycles_per_s"] = round(max(e["boot_mcycles"] / e["boot_wall_s"] / 1e6
                                                  for e in results["runs"].values()), 1)
    results["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                                       stdout=subprocess.PIPE, text=True).stdout.strip()
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return results


def markdown(r: dict) -> str:
    sizes = r["sizes"]
    runs = r["runs"]
    cols = [f"streams-{n}" for n in sizes]
    speed = r["emulator_mcycles_per_s"]
    lines = [MD_BEGIN, "## Inside the Cartesi machine: mcycles per input",
             "",
             f"`python -m bench.machine_bench` (`make machine-bench`) at commit {r['commit']}, {r['date']}: dapp.py inside "
             "the real Cartesi machine (emulator 0.21.0 built from source, Debian's riscv64 kernel, "
             f"Python 3.13, RAM {r['ram_length']}; docs/machine.md), from a snapshot at its first /finish, "
             "through the rollup HTTP shim over libcmt. Databases built natively (streams of 1,000,000 blocks "
             "from traders into one hub account) and put on the machine's data drive. Each figure is the "
             f"median of {r['rounds']} inputs, in millions of machine cycles (M). The machine is deterministic: the same "
             "snapshot and inputs give the same cycles; the databases are rebuilt natively on each run and "
             "their SQLite page layout is not byte-for-byte the same, which moved single figures by up to "
             "0.3 M between two runs of this benchmark. *Do-nothing DApp*: a Python loop that accepts every input and emits one notice "
             "(machine/guest/noop_dapp.py) through the same shim: the bare rollup loop's share.",
             "",
             "| input kind | do-nothing DApp | " + " | ".join(f"{n:,} streams" for n in sizes) + " |",
             "|---|---:|" + "---:|" * len(sizes)]
    for kind in KINDS:
        row = [f"{runs['noop']['kinds'][kind]['median'] / 1e6:.2f} M"]
        row += [f"{runs[c]['kinds'][kind]['median'] / 1e6:.2f} M" for c in cols]
        lines.append(f"| {kind} | " + " | ".join(row) + " |")
    lines.append("| boot to first /finish | " + " | ".join(
        f"{runs[c]['boot_mcycles'] / 1e6:,.0f} M" for c in ["noop"] + cols) + " |")
    mem = lambda c: runs[c]["memory"]  # noqa: E731
    lines.append("| RAM: MemAvailable after the inputs (of MemTotal) | " + " | ".join(
        f"{mem(c)['mem_available_kb'] / 1024:.0f} of {mem(c)['mem_total_kb'] / 1024:.0f} MB" for c in ["noop"] + cols) + " |")
    lines.append("| DApp process peak RSS (VmHWM) | " + " | ".join(
        f"{mem(c)['processes_hwm_kb'].get('python3', 0) / 1024:.1f} MB" for c in ["noop"] + cols) + " |")
    lines.append("| database on the drive | – | " + " | ".join(
        f"{runs[c]['db_bytes'] / 1e6:.1f} MB" for c in cols) + " |")
    worst = max(runs[c]["kinds"][k]["median"] for c in cols for k in KINDS if k != "inspect")
    lines += ["",
              f"The emulator ran {speed:,.0f} M cycles per wall second here (one core; the fastest of the boots above, "
              "as other work shared the machine). At that speed an "
              f"input of {worst / 1e6:.1f} M cycles (the costliest advance above) takes {worst / speed / 1e6 * 1000:.0f} ms of "
              f"emulation, about {speed * 1e6 / worst:,.0f} inputs per second per core for a node replaying them, "
              "before the node's own work (hashing the state, proofs). RAM figures are the guest kernel's "
              "/proc/meminfo after the inputs, through the shim's own `machine:meminfo` query.",
              MD_END]
    return "\n".join(lines) + "\n"


def write_md(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else ""
    if MD_BEGIN in old and MD_END in old:
        new = old[:old.index(MD_BEGIN)] + text + old[old.index(MD_END) + len(MD_END) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.machine_bench", description=cli.summary(__doc__),
                                 formatter_class=cli.HelpFormatter)
    ap.add_argument("--sizes", default="0,10000,100000", help="comma-separated counts of open streams")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per input kind and size")
    ap.add_argument("--no-md", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--md-only", action="store_true", help="only redraw the section from results/machine.json")
    args = ap.parse_args(argv)
    if args.md_only:
        r = json.loads((HERE / "results" / "machine.json").read_text())
        r["emulator_mcycles_per_s"] = round(max(e["boot_mcycles"] / e["boot_wall_s"] / 1e6
                                                for e in r["runs"].values()), 1)
        write_md(markdown(r), HERE / "RESULTS.md")
        return 0
    sizes = [int(x) for x in args.sizes.split(",")]
    try:
        r = run(sizes, args.rounds)
    except MachineUnavailable as err:
        print(f"SKIP: no Cartesi machine: {err}", file=sys.stderr)
        return 77
    out = HERE / "results" / "machine.json"
    out.write_text(json.dumps(r, indent=1) + "\n")
    md = markdown(r)
    print(md)
    if not args.no_md:
        write_md(md, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    cli.run(main)
