"""Shared plumbing: timing and percentiles, progress bars, peak RSS, addresses."""
from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Callable, Iterable, Optional

try:
    from tqdm import tqdm as _tqdm
except ImportError:  # the suite still runs without the bench requirements
    _tqdm = None

TOKEN = "0x" + "77" * 20
TOKEN_BYTES = bytes.fromhex("77" * 20)


def addr(tag: int, i: int) -> bytes:
    """A deterministic 20-byte address: a 4-byte tag (the role) and an index."""
    return tag.to_bytes(4, "big") + i.to_bytes(16, "big")


def hexaddr(a: bytes) -> str:
    return "0x" + a.hex()


# --- progress ------------------------------------------------------------------------


class _Plain:
    """A few lines instead of a bar when tqdm is missing: count, total, rate."""

    def __init__(self, total: Optional[int], desc: str) -> None:
        self.total, self.desc, self.n = total, desc, 0
        self.t0 = self.last = time.perf_counter()

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.perf_counter()
        if now - self.last >= 5:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        rate = self.n / max(now - self.t0, 1e-9)
        total = f"/{self.total:,}" if self.total else ""
        print(f"  {self.desc}: {self.n:,}{total} [{now - self.t0:.0f} s, {rate:,.0f}/s]", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._line(time.perf_counter())


def progress(total: Optional[int], desc: str):
    """A progress bar showing count, total and rate (tqdm, or plain lines without it)."""
    if _tqdm is None:
        return _Plain(total, desc)
    return _tqdm(total=total, desc=f"  {desc}", unit="op", unit_scale=True, mininterval=1.0,
                 smoothing=0.1, dynamic_ncols=True, leave=True, file=sys.stderr)


# --- timing ------------------------------------------------------------------------


def summarize(samples_ns: list[int]) -> dict:
    """Median and p99 in microseconds, with the sample count."""
    if not samples_ns:
        return {"n": 0, "median_us": None, "p99_us": None, "mean_us": None}
    s = sorted(samples_ns)
    p99 = s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
    return {
        "n": len(s),
        "median_us": statistics.median(s) / 1000.0,
        "p99_us": p99 / 1000.0,
        "mean_us": sum(s) / len(s) / 1000.0,
    }


def time_calls(desc: str, calls: Iterable[Callable[[], object]], total: int,
               budget_s: float = 60.0, min_samples: int = 5) -> dict:
    """Time each call separately; stop early when the time budget runs out."""
    samples: list[int] = []
    bar = progress(total, desc)
    t_end = time.perf_counter() + budget_s
    clock = time.perf_counter_ns
    for fn in calls:
        t = clock()
        fn()
        samples.append(clock() - t)
        bar.update(1)
        if len(samples) >= min_samples and time.perf_counter() > t_end:
            break
    bar.close()
    return summarize(samples)


# --- memory and files ------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def db_bytes(path: str) -> int:
    """Main file plus WAL, as found on disk."""
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def remove_db(path: str) -> None:
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.exists(p):
            os.remove(p)
