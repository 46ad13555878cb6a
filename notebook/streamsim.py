"""Helpers for ``Simulation.ipynb``: run the real DApp, speak HTTP to it, record, plot.

What runs: the local rollup host (``rollup_host``, in a thread of the notebook's kernel,
on a free port) and ``dapp.py`` (a child process, its SQLite database in a temporary
folder). The DApp long-polls the host's ``POST /finish`` exactly as it would in a Cartesi
machine; the notebook sends inputs and inspects through the host's developer HTTP API
(``rollup_host.HostClient``). Nothing here imports the engine: every number the notebook
shows came back over HTTP as a notice, a voucher or an inspect report.

``Rollup``   starts and stops the two, sends inputs, decodes outputs.
``Recorder`` samples balances (and the conservation sum) between and around inputs.
``plot_*``   draw the figures and save them under ``notebook/figures`` (or
             ``$NOTEBOOK_FIGURES``, which the test points at a temporary folder).
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Optional

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rollup_host import HostClient, start_in_thread  # noqa: E402

DECIMALS = 18
UNIT = 10**DECIMALS
BLOCKS_PER_DAY = 7200  # 12-second blocks
FIGURES = Path(os.environ.get("NOTEBOOK_FIGURES") or ROOT / "notebook" / "figures")


# ----------------------------------------------------------------------------- units

def units(amount: Any) -> int:
    """Token units (``"12.5"``, ``12_000``) to base units of an 18-decimal token."""
    value = Decimal(str(amount)) * UNIT
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more than {DECIMALS} decimals")
    return int(value)


def fmt(base_units: int, digits: int = 2) -> str:
    """Base units to a readable token amount, e.g. ``2,500.00``."""
    return f"{Decimal(base_units) / UNIT:,.{digits}f}"


def day_block(day: float, genesis: int = 1) -> int:
    """The block number of ``day`` days after ``genesis`` (7,200 blocks a day)."""
    return genesis + round(day * BLOCKS_PER_DAY)


def decode_hex_json(payload: str) -> Any:
    return json.loads(bytes.fromhex(payload[2:]).decode("utf-8"))


# ----------------------------------------------------------------------------- rollup

@dataclass
class Receipt:
    """One finished advance input, outputs decoded (notices and reports are JSON)."""

    input_index: int
    status: str
    block: int
    payload: str
    notices: list[dict]
    vouchers: list[dict]
    reports: list[dict]

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def events(self, name: str) -> list[dict]:
        return [n for n in self.notices if n.get("event") == name]


class Rejected(RuntimeError):
    """An input or inspect the DApp refused; ``report`` is its decoded error report."""

    def __init__(self, report: dict) -> None:
        super().__init__(json.dumps(report))
        self.report = report


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the DApp gets SIGTERM if the kernel dies, so no orphan keeps polling."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Rollup:
    """The local rollup host (a thread here) and ``dapp.py`` (a child process)."""

    _running: list["Rollup"] = []  # re-running the first cell stops the previous pair

    def __init__(self, rollups: str = "v2", genesis: int = 1) -> None:
        self.rollups = rollups
        self.genesis = genesis
        self.server = None
        self.url: Optional[str] = None
        self.dapp: Optional[subprocess.Popen] = None
        self.workdir: Optional[str] = None
        self.client: Optional[HostClient] = None
        self.hooks_before: list = []  # f(block) before an advance at block
        self.hooks_after: list = []  # f(receipt) after it

    # ---- life cycle

    def start(self, timeout: float = 30.0) -> "Rollup":
        for previous in list(Rollup._running):
            previous.stop()
        Rollup._running.append(self)
        self.server, self.url = start_in_thread(port=0, rollups=self.rollups, block=self.genesis,
                                                finish_timeout=1.0)
        self.workdir = tempfile.mkdtemp(prefix="streamsim-")
        self.db = os.path.join(self.workdir, "dapp.sqlite")
        self.log_path = os.path.join(self.workdir, "dapp.log")
        env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=self.url, ROLLUPS_VERSION=self.rollups,
                   DAPP_DB=self.db)
        self._log = open(self.log_path, "w")
        self.dapp = subprocess.Popen(
            [sys.executable, str(ROOT / "dapp.py")], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.client = HostClient(self.url, timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:  # the first inspect answers once dapp.py is polling /finish
            if self.dapp.poll() is not None:
                raise RuntimeError(f"dapp.py exited with {self.dapp.returncode}: {self.dapp_log()}")
            try:
                self.inspect("state-hash")
                return self
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop dapp.py (SIGINT, then SIGTERM/SIGKILL), then the host; delete the database."""
        if self.dapp is not None and self.dapp.poll() is None:
            for sig, grace in ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0)):
                self.dapp.send_signal(sig)
                try:
                    self.dapp.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                self.dapp.kill()
                self.dapp.wait()
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        if self in Rollup._running:
            Rollup._running.remove(self)

    def dapp_log(self, lines: int = 20) -> str:
        try:
            with open(self.log_path) as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return ""

    # ---- inputs

    def _receipt(self, raw: dict) -> Receipt:
        receipt = Receipt(
            input_index=raw["input_index"], status=raw["status"], block=raw["block_number"],
            payload=raw["payload"],
            notices=[decode_hex_json(n["payload"]) for n in raw["notices"]],
            vouchers=raw["vouchers"],
            reports=[decode_hex_json(r["payload"]) for r in raw["reports"]],
        )
        for hook in self.hooks_after:
            hook(receipt)
        return receipt

    def send(self, sender: str, op: dict, block: Optional[int] = None, check: bool = True) -> Receipt:
        """Send a JSON op from ``sender`` at ``block``; raise ``Rejected`` if refused."""
        block = self.client.block() if block is None else block
        for hook in self.hooks_before:
            hook(block)
        receipt = self._receipt(self.client.advance(sender, op, block=block))
        if check and not receipt.accepted:
            raise Rejected(receipt.reports[0] if receipt.reports else {"status": receipt.status})
        return receipt

    def deposit(self, token: str, sender: str, amount: int, block: Optional[int] = None,
                exec_layer_data: bytes = b"") -> Receipt:
        """An ERC-20 portal deposit (the host builds the portal's input, msg_sender = portal)."""
        block = self.client.block() if block is None else block
        for hook in self.hooks_before:
            hook(block)
        receipt = self._receipt(self.client.deposit(token, sender, amount, exec_layer_data, block=block))
        if not receipt.accepted:
            raise Rejected(receipt.reports[0] if receipt.reports else {"status": receipt.status})
        return receipt

    # ---- inspects

    def inspect(self, route: str) -> dict:
        """Ask the DApp (``balance/...``, ``stream/<id>``, ``token/<t>``, ...); decoded report."""
        answer = self.client.inspect(route)
        reports = [decode_hex_json(r["payload"]) for r in answer["reports"]]
        if answer["status"] != "accepted":
            raise Rejected(reports[0] if reports else {"status": answer["status"]})
        return reports[0]

    def balance(self, token: str, account: str, block: Optional[int] = None) -> dict:
        route = f"balance/{token}/{account}" + ("" if block is None else f"/{block}")
        answer = self.inspect(route)
        return {k: int(answer[k]) for k in ("balance", "available", "committed")}

    def totals(self, token: str) -> dict:
        answer = self.inspect(f"token/{token}")
        return {k: int(answer[k]) for k in ("deposited", "withdrawn", "total_supply")}


atexit.register(lambda: [r.stop() for r in list(Rollup._running)])


# ----------------------------------------------------------------------------- recorder

@dataclass
class StreamInfo:
    id: int
    sender: str
    receiver: str
    amount: int
    opened: int
    start: int
    end: int
    canceled: Optional[int] = None
    updates: list[int] = field(default_factory=list)


@dataclass
class Sample:
    block: int
    balances: dict[str, int]  # address -> balance
    deposited: int
    withdrawn: int

    @property
    def gap(self) -> int:
        """Σ balances + withdrawn − deposited: zero if nothing is created or lost."""
        return sum(self.balances.values()) + self.withdrawn - self.deposited


class Recorder:
    """Samples every account's balance over the blocks between inputs, from inspects only.

    Accounts are those the notices name (depositors, transfer receivers, stream parties),
    so the conservation sum covers everyone who ever held the token. Sample blocks: a
    grid (``step`` blocks), the start and end of each stream that touches a ``plotted``
    account, and each input's block twice (the state just before it and just after).
    Blocks between inputs are asked for explicitly (``balance/<t>/<a>/<block>``); that
    is exact because no input happens in between.
    """

    def __init__(self, rollup: Rollup, token: str, plotted: Iterable[str], step: int) -> None:
        self.rollup = rollup
        self.token = token.lower()
        self.plotted = {a.lower() for a in plotted}
        self.step = step
        self.accounts: list[str] = []
        self.streams: dict[int, StreamInfo] = {}
        self.bends: set[int] = set()
        self.samples: list[Sample] = []
        self.last = None  # last block sampled
        self.events: list[tuple[int, str]] = []  # (block, label) for the plots
        rollup.hooks_before.append(self.before)
        rollup.hooks_after.append(self.after)

    def note(self, block: int, label: str) -> None:
        self.events.append((block, label))

    # ---- hooks

    def before(self, block: int) -> None:
        self.fill(block)
        if self.accounts:
            self.sample(block)

    def after(self, receipt: Receipt) -> None:
        if not receipt.accepted:
            return
        for n in receipt.notices:
            self._learn(n)
        self.sample(receipt.block)

    def fill(self, until: int) -> None:
        """Sample grid and bend blocks after the last sample and before ``until``."""
        if self.last is None or not self.accounts:
            return
        start = self.last + 1
        genesis = self.rollup.genesis
        first = genesis + -(-(start - genesis) // self.step) * self.step  # grid: genesis + k*step
        grid = range(first, until, self.step)
        for block in sorted({*grid, *(b for b in self.bends if start <= b < until)}):
            self.sample(block)

    def _add_account(self, address: str) -> None:
        address = address.lower()
        if address not in self.accounts:
            self.accounts.append(address)

    def _learn(self, n: dict) -> None:
        event = n.get("event")
        if event == "deposit":
            self._add_account(n["account"])
        elif event == "transfer":
            self._add_account(n["receiver"])
        elif event in ("stream_opened", "stream_updated"):
            self._add_account(n["receiver"])
            info = self.streams.get(n["id"])
            if info is None:
                info = StreamInfo(n["id"], n["sender"].lower(), n["receiver"].lower(),
                                  int(n["amount"]), n["block"], n["start_block"], n["end_block"])
                self.streams[n["id"]] = info
            else:
                info.amount, info.end = int(n["amount"]), n["end_block"]
                info.updates.append(n["block"])
            if {info.sender, info.receiver} & self.plotted:
                self.bends.update((n["start_block"], n["end_block"]))
        elif event == "stream_canceled":
            self.streams[n["id"]].canceled = n["block"]

    def sample(self, block: int) -> Sample:
        balances = {a: self.rollup.balance(self.token, a, block)["balance"] for a in self.accounts}
        totals = self.rollup.totals(self.token)
        s = Sample(block, balances, totals["deposited"], totals["withdrawn"])
        self.samples.append(s)
        self.last = block
        return s


# ----------------------------------------------------------------------------- plots

def _save(fig, name: str) -> Path:
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    return path


def _days_axis(ax, genesis: int) -> None:
    top = ax.secondary_xaxis("top", functions=(lambda b: (b - genesis) / BLOCKS_PER_DAY,
                                               lambda d: d * BLOCKS_PER_DAY + genesis))
    top.set_xlabel("day")


def plot_balances(rec: Recorder, names: dict[str, str], genesis: int = 1):
    """Balance of each named account against block number; returns (figure, saved path)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.2))
    for address, name in names.items():
        address = address.lower()
        xs = [s.block for s in rec.samples if address in s.balances]
        ys = [s.balances[address] / UNIT for s in rec.samples if address in s.balances]
        ax.plot(xs, ys, label=name, linewidth=2)
    events = sorted(rec.events)
    near = 3 * BLOCKS_PER_DAY  # labels of events this close go on either side of their lines
    for i, (block, label) in enumerate(events):
        right = i > 0 and block - events[i - 1][0] < near and not (
            i > 1 and events[i - 1][0] - events[i - 2][0] < near)
        ax.axvline(block, color="grey", linestyle=":", linewidth=0.8)
        ax.annotate(label, (block, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="left" if right else "right", fontsize=8, color="dimgrey",
                    xytext=(2 if right else -2, -4), textcoords="offset points")
    ax.set_xlabel("block number")
    ax.set_ylabel("balance (USDx)")
    ax.set_title("Balances over time, from the DApp's inspect answers")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    _days_axis(ax, genesis)
    return fig, _save(fig, "balances")


def plot_timeline(rec: Recorder, names: dict[str, str], hub: str, genesis: int = 1):
    """One bar per stream: the story streams on top, the hub's incoming streams below."""
    import matplotlib.pyplot as plt

    names = {a.lower(): n for a, n in names.items()}
    hub = hub.lower()
    story = [s for s in rec.streams.values() if s.receiver != hub]
    hubs = sorted((s for s in rec.streams.values() if s.receiver == hub), key=lambda s: (s.start, s.end))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1.6]})
    for row, s in enumerate(story):
        y = len(story) - 1 - row
        label = f"#{s.id} {names.get(s.sender, s.sender[:8])} → {names.get(s.receiver, s.receiver[:8])}"
        if s.opened < s.start:  # scheduled: waiting to start
            top.barh(y, s.start - s.opened, left=s.opened, height=0.5, color="none",
                     edgecolor="tab:blue", linestyle="--")
        stop = s.canceled if s.canceled is not None else s.end
        top.barh(y, stop - s.start, left=s.start, height=0.5, color="tab:blue")
        if s.canceled is not None:
            top.barh(y, s.end - s.canceled, left=s.canceled, height=0.5, color="tab:red", alpha=0.25,
                     hatch="//", edgecolor="tab:red")
            top.text((s.canceled + s.end) / 2, y, "canceled", ha="center", va="center", fontsize=9,
                     color="tab:red")
        for u in s.updates:
            top.plot([u], [y], marker="v", color="black")
        top.text(s.opened, y + 0.32, label, fontsize=9)
    top.set_yticks([])
    top.set_ylim(-0.6, len(story) - 0.2)
    top.set_title("Stream timeline: dashed = scheduled, hatched = canceled remainder, ▼ = update")
    for i, s in enumerate(hubs):
        bottom.hlines(i, s.start, s.end, color="tab:green", linewidth=0.6)
    bottom.set_ylabel(f"{len(hubs)} streams into the hub")
    bottom.set_xlabel("block number")
    for ax in (top, bottom):
        ax.grid(axis="x", alpha=0.3)
    if rec.samples:
        top.set_xlim(genesis, max(s.block for s in rec.samples))
    _days_axis(top, genesis)
    fig.tight_layout()
    return fig, _save(fig, "timeline")


def plot_conservation(rec: Recorder, genesis: int = 1):
    """Σ balances + withdrawn against deposited, and their difference (flat at zero)."""
    import matplotlib.pyplot as plt

    xs = [s.block for s in rec.samples]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True,
                                      gridspec_kw={"height_ratios": [1.4, 1]})
    top.step(xs, [s.deposited / UNIT for s in rec.samples], where="post", label="deposited", linewidth=3,
             color="lightgrey")
    top.plot(xs, [(sum(s.balances.values()) + s.withdrawn) / UNIT for s in rec.samples], ".",
             markersize=3, label="Σ balances + withdrawn", color="tab:blue")
    top.set_ylabel("USDx")
    top.legend(loc="upper left")
    top.set_title(f"Conservation over {len(xs)} samples × every account")
    gaps = [s.gap for s in rec.samples]
    bottom.plot(xs, gaps, color="tab:green", linewidth=2)
    bottom.set_ylim(-1, 1)
    bottom.set_yticks([-1, 0, 1])
    bottom.set_ylabel("Σ balances + withdrawn\n− deposited (base units)")
    bottom.set_xlabel("block number")
    bottom.text(0.01, 0.1, f"max |difference| = {max(abs(g) for g in gaps)} base units",
                transform=bottom.transAxes)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    _days_axis(top, genesis)
    fig.tight_layout()
    return fig, _save(fig, "conservation")


def plot_hub(blocks: list[int], balances: list[int], active: list[int], genesis: int = 1):
    """The hub's balance (inspects at future blocks) and how many streams flow into it."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.2))
    ax.plot(blocks, [b / UNIT for b in balances], color="tab:green", linewidth=2, label="hub balance")
    ax.set_ylabel("hub balance (USDx)")
    ax.set_xlabel("block number")
    ax2 = ax.twinx()
    ax2.fill_between(blocks, active, step="post", alpha=0.15, color="tab:purple")
    ax2.set_ylabel("streams flowing in", color="tab:purple")
    ax.set_title("A hub with 1,000 incoming streams")
    ax.grid(alpha=0.3)
    _days_axis(ax, genesis)
    fig.tight_layout()
    return fig, _save(fig, "hub")
