"""Stopping a ``dapp.py`` started beside the host (by ``up``, the tests, the benchmark)."""
from __future__ import annotations

import signal
import subprocess
from typing import Sequence

__all__ = ["stop"]


def stop(proc: subprocess.Popen, steps: Sequence[tuple[int, float]] = ((signal.SIGTERM, 10.0),)) -> None:
    """Send each (signal, seconds of grace) in turn until the process exits; kill it if
    none did. A DApp stopped this way ends between inputs or is replayed, never half-way."""
    if proc.poll() is not None:
        return
    for sig, grace in steps:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    proc.wait()
