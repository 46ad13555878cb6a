"""How many examples the property tests draw: all of them natively, a fraction under
emulation.

riscv/test.sh sets ``ST_EXAMPLES_SCALE`` (e.g. 0.2) for the suite it runs on riscv64
Python 3.13 under qemu-user, where every example costs 10-15 times what it costs natively.
That run is there to show the same code gives the same answers on the Cartesi machine's
architecture, which every fixed test and a smaller sample of the same properties still
show; the full search runs natively in the same CI job, just before.
"""
from __future__ import annotations

import os

from hypothesis import settings

SCALE = float(os.environ.get("ST_EXAMPLES_SCALE", "1"))
if not 0 < SCALE <= 1:
    raise ValueError(f"ST_EXAMPLES_SCALE={SCALE}: a fraction in (0, 1]")


def examples(n: int) -> int:
    """``n`` examples natively; the scaled number (at least 10) under emulation."""
    return n if SCALE == 1 else max(10, round(n * SCALE))


# the tests that name no max_examples draw hypothesis' default, 100, scaled alike
settings.register_profile("scaled", max_examples=examples(settings.default.max_examples))
settings.load_profile("scaled")
