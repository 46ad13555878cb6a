"""What gets timed, and how: reads, one-transaction writes, router inputs, churn blocks.

Every timed call is one operation in its own transaction (reads need none), as the DApp
runs one transaction per rollup input. Targets are drawn from a seeded generator, so our
engine and the baseline see the same accounts, streams and blocks.
"""
from __future__ import annotations

import json
import math
import random
import time
from typing import Callable, Iterator, Optional

from bench.common import TOKEN, hexaddr, progress, summarize, time_calls
from bench.workload import FAR_FUTURE, Scenario

OPS_PER_BLOCK = 10  # measurement advances the chain one block per this many writes


class Clock:
    """The current block during measurement; ticks every OPS_PER_BLOCK writes."""

    def __init__(self, block: int) -> None:
        self.block, self.ops = block, 0

    def tick(self) -> int:
        self.ops += 1
        if self.ops % OPS_PER_BLOCK == 0:
            self.block += 1
        return self.block


def pick_open_stream(impl, rng: random.Random, max_id: int, block: int, used: set) -> tuple[int, tuple]:
    """A random stream still open at ``block`` (not canceled, not ended), not picked before."""
    for _ in range(10_000):
        sid = rng.randrange(1, max_id + 1)
        if sid in used:
            continue
        row = impl.stream(sid)
        if row is not None and row[4] is None and row[3] > block:
            used.add(sid)
            return sid, row
    raise RuntimeError("no open stream found")


def random_account(sc: Scenario, rng: random.Random) -> bytes:
    return sc.account(rng.randrange(sc.n_accounts))


def other_account(sc: Scenario, rng: random.Random, a: bytes) -> bytes:
    while True:
        b = random_account(sc, rng)
        if b != a:
            return b


# --- reads and writes against the engine API (either design) ------------------------------


def measure_reads(impl, sc: Scenario, now: int, n: int, budget: float) -> dict:
    out = {}
    rng = random.Random(7)
    targets = [("hub", lambda k: sc.hub)] if sc.hub else []
    targets.append(("random", lambda k, r=rng: random_account(sc, r)))
    for label, who in targets:
        accounts = [who(k) for k in range(n)]
        out[f"balance_{label}_now"] = time_calls(
            f"{impl.name} balance {label} now", (lambda a=a: impl.balance(a, now) for a in accounts), n, budget)
        out[f"balance_{label}_future"] = time_calls(
            f"{impl.name} balance {label} far future",
            (lambda a=a, k=k: impl.balance(a, now + FAR_FUTURE + k) for k, a in enumerate(accounts)), n, budget)
        if hasattr(impl, "balance_loop"):
            out[f"balance_{label}_now_loop"] = time_calls(
                f"{impl.name} balance {label} now, Python loop",
                (lambda a=a: impl.balance_loop(a, now) for a in accounts[: n // 4]), n // 4, budget)
    return out


def write_calls(impl, sc: Scenario, clock: Clock, op: str, n: int, max_id: int) -> Iterator[Callable]:
    """Closures for ``n`` writes of one kind; targets are chosen before each call is timed."""
    rng = random.Random(sum(map(ord, op)))
    used: set = set()
    for k in range(n):
        b = clock.tick()
        if op == "open_stream":
            if sc.hub:
                s, r = random_account(sc, rng), sc.hub
            else:
                s = random_account(sc, rng)
                r = other_account(sc, rng, s)
            yield lambda s=s, r=r, b=b: impl.tx(lambda: impl.open(s, r, 10**10, b, 100_000, b))
        elif op == "cancel_stream":
            sid, row = pick_open_stream(impl, rng, max_id, b, used)
            yield lambda sid=sid, c=row[0], b=b: impl.tx(lambda: impl.cancel(sid, c, b))
        elif op == "update_stream":
            sid, row = pick_open_stream(impl, rng, max_id, b, used)
            yield lambda sid=sid, c=row[0], b=b, e=row[3] + 1_000: impl.tx(lambda: impl.update(sid, c, b, e))
        elif op == "transfer":
            s = sc.hub or random_account(sc, rng)
            r = other_account(sc, rng, s)
            yield lambda s=s, r=r, b=b: impl.tx(lambda: impl.transfer(s, r, 1, b))
        elif op == "withdraw":
            a = sc.hub or random_account(sc, rng)
            yield lambda a=a, b=b: impl.tx(lambda: impl.withdraw(a, 1, b))
        else:
            raise ValueError(op)


WRITES = ("open_stream", "cancel_stream", "update_stream", "transfer", "withdraw")


def measure_writes(impl, sc: Scenario, clock: Clock, n: int, budget: float) -> dict:
    return {op: time_calls(f"{impl.name} {op}", write_calls(impl, sc, clock, op, n, sc.size), n, budget)
            for op in WRITES}


# --- churn: blocks that open, update and cancel while others end ------------------------------


def measure_churn(impl, sc: Scenario, clock: Clock, min_opens: int, min_blocks: int,
                  reads_per_block: int, budget: float) -> dict:
    """Run churn blocks and time every operation in them, one transaction each.

    Per block: size/CHURN_MEAN_LIFE openings (lifetimes uniform on the scenario's range),
    a fifth as many cancels and updates, a few transfers and withdrawals, and balance
    reads of random accounts at the block and far in the future.
    """
    rng = random.Random(11)
    rate = sc.churn_opens_per_block()
    lo, hi = sc.churn_life
    # enough blocks for min_opens openings, but a small slice of a lifetime, so the state
    # stays the steady state it was built as
    blocks = min(max(min_blocks, math.ceil(min_opens / rate)), lo // 5)
    samples: dict[str, list[int]] = {k: [] for k in (
        "open_stream", "cancel_stream", "update_stream", "transfer", "withdraw",
        "balance_random_now", "balance_random_future")}
    clock_ns = time.perf_counter_ns
    max_id = sc.size  # ids 1..size exist after the build
    used: set = set()
    carry = 0.0
    bar = progress(blocks, f"{impl.name} churn blocks")
    t_end = time.perf_counter() + budget
    open_before = impl.open_count(clock.block)
    done_blocks = 0
    for _ in range(blocks):
        clock.block += 1
        b = clock.block
        carry += rate
        opens, carry = int(carry), carry - int(carry)
        small = max(1, round(rate / 5))
        plan = (["open_stream"] * opens + ["cancel_stream"] * small + ["update_stream"] * small
                + ["transfer"] * max(1, small // 2) + ["withdraw"] * max(1, small // 2))
        rng.shuffle(plan)
        for op in plan:
            if op == "open_stream":
                s = random_account(sc, rng)
                r = other_account(sc, rng, s)
                start = b if rng.random() < 0.5 else b + rng.randrange(1, 100)
                dur = rng.randrange(lo, hi + 1)
                fn = lambda: impl.tx(lambda: impl.open(s, r, rng.randrange(10**10, 10**12), start, dur, b))
            elif op in ("cancel_stream", "update_stream"):
                sid, row = pick_open_stream(impl, rng, max_id, b, used)
                if op == "cancel_stream":
                    fn = lambda: impl.tx(lambda: impl.cancel(sid, row[0], b))
                else:
                    new_end = max(b + 1, row[3] + rng.randrange(-200, 200))
                    if new_end == row[3]:
                        new_end += 1
                    fn = lambda: impl.tx(lambda: impl.update(sid, row[0], b, new_end))
            elif op == "transfer":
                s = random_account(sc, rng)
                r = other_account(sc, rng, s)
                fn = lambda: impl.tx(lambda: impl.transfer(s, r, 1, b))
            else:
                a = random_account(sc, rng)
                fn = lambda: impl.tx(lambda: impl.withdraw(a, 1, b))
            t = clock_ns()
            result = fn()
            samples[op].append(clock_ns() - t)
            if op == "open_stream":
                max_id = max(max_id, result)
        for _ in range(reads_per_block):
            a = random_account(sc, rng)
            t = clock_ns()
            impl.balance(a, b)
            samples["balance_random_now"].append(clock_ns() - t)
            t = clock_ns()
            impl.balance(a, b + FAR_FUTURE)
            samples["balance_random_future"].append(clock_ns() - t)
        bar.update(1)
        done_blocks += 1
        if time.perf_counter() > t_end:
            break
    bar.close()
    out = {k: summarize(v) for k, v in samples.items()}
    out["churn"] = {"blocks": done_blocks, "opens_per_block": rate,
                    "open_streams_before": open_before, "open_streams_after": impl.open_count(clock.block)}
    return out


# --- the input router -------------------------------------------------------------------------

APP = "0x" + "ab" * 20
RANDAO = "0x" + "00" * 32


class RouterDriver:
    """Feeds JSON inputs to ``streamable_token.rollup.router.Router`` as the v2 rollup server would."""

    def __init__(self, engine) -> None:
        from streamable_token.rollup.router import Config, Router
        from streamable_token.rollup.codec import PORTALS
        from streamable_token.addresses import parse_address

        self.router = Router(engine, Config())
        self.portal = "0x" + parse_address(PORTALS["v2"]).hex()
        self.index = 0
        self.rejected = 0
        self.outputs: list = []

    def metadata(self, sender: str, block: int) -> dict:
        self.index += 1
        return {"chain_id": 31337, "app_contract": APP, "msg_sender": sender, "block_number": block,
                "block_timestamp": 1_700_000_000 + 12 * block, "prev_randao": RANDAO,
                "input_index": self.index}

    def call(self, sender: str, payload: bytes, block: int) -> Callable:
        meta = self.metadata(sender, block)
        payload_hex = "0x" + payload.hex()

        def run() -> None:
            self.outputs.clear()
            if self.router.advance(meta, payload_hex, self.outputs.append) != "accept":
                self.rejected += 1
        return run

    def inspect(self, path: str) -> Callable:
        payload_hex = "0x" + path.encode().hex()
        return lambda: self.router.inspect(payload_hex)


def op_json(**fields) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def router_calls(drv: RouterDriver, impl, sc: Scenario, clock: Clock, op: str, n: int) -> Iterator[Callable]:
    from streamable_token.rollup.codec import encode_deposit

    rng = random.Random(1000 + sum(map(ord, op)))
    used: set = set()
    max_id = sc.size
    for k in range(n):
        b = clock.tick()
        if op == "deposit":
            a = hexaddr(random_account(sc, rng))
            yield drv.call(drv.portal, encode_deposit(TOKEN, a, 10**12), b)
        elif op == "open_stream":
            s = random_account(sc, rng)
            r = sc.hub or other_account(sc, rng, s)
            yield drv.call(hexaddr(s), op_json(op="open_stream", token=TOKEN, receiver=hexaddr(r),
                                               amount=str(10**10), duration=100_000), b)
        elif op in ("cancel_stream", "update_stream"):
            sid, row = pick_open_stream(impl, rng, max_id, b, used)
            body = {"op": op, "stream_id": sid}
            if op == "update_stream":
                body["end_block"] = row[3] + 1_000
            yield drv.call(hexaddr(row[0]), op_json(**body), b)
        elif op == "transfer":
            s = sc.hub or random_account(sc, rng)
            r = other_account(sc, rng, s)
            yield drv.call(hexaddr(s), op_json(op="transfer", token=TOKEN, receiver=hexaddr(r), amount="1"), b)
        elif op == "withdraw":
            a = sc.hub or random_account(sc, rng)
            yield drv.call(hexaddr(a), op_json(op="withdraw", token=TOKEN, amount="1"), b)
        elif op.startswith("inspect_balance"):
            a = sc.hub if op.endswith("hub") else random_account(sc, rng)
            yield drv.inspect(f"balance/{TOKEN}/{hexaddr(a)}/{b}")
        else:
            raise ValueError(op)


ROUTER_OPS = ("deposit", "open_stream", "cancel_stream", "update_stream", "transfer", "withdraw")


def measure_router(impl, sc: Scenario, clock: Clock, n: int, budget: float) -> dict:
    drv = RouterDriver(impl.engine)
    out = {}
    ops = list(ROUTER_OPS) + (["inspect_balance_hub"] if sc.hub else []) + ["inspect_balance_random"]
    for op in ops:
        before = drv.rejected
        out[op] = time_calls(f"router {op}", router_calls(drv, impl, sc, clock, op, n), n, budget)
        out[op]["rejected"] = drv.rejected - before
    return out
