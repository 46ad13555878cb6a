"""The three scenarios as deterministic streams of actions, shared by both designs.

Each scenario yields the same mints and stream openings (seeded, so our engine and the
baseline build byte-for-byte the same streams with the same ids) and says which accounts
the measurements should touch. Blocks start at a realistic L1 height, so the engine's
trees span realistic block numbers (2^25 leaves).

hub     every stream pays one pool account; traders open 10 streams each
spread  streams between 10,000 random accounts, random starts and lengths
churn   a steady state: lifetimes drawn as they are in a running system (length-biased
        ages), then blocks that open, update and cancel while others end on their own
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterator, Optional

from bench.common import addr

BASE_BLOCK = 20_000_000
OPENS_PER_BUILD_BLOCK = 1_000  # the chain moves one block per this many openings
FAR_FUTURE = 5_000_000  # past every stream's end
STREAMS_PER_TRADER = 10
ACCOUNTS = 10_000
CHURN_MEAN_LIFE = 2_000  # blocks; churn opens size / CHURN_MEAN_LIFE streams per block
FUND = 10**16  # each account's deposit; amounts stay below 2^63 for the baseline's SQL SUM
HUB_TAG, TRADER_TAG, ACCOUNT_TAG, NEWCOMER_TAG = 0x4855_4200, 0x5452_0000, 0x4143_0000, 0x4e45_0000

Action = tuple  # ("mint", account, amount, block) | ("open", sender, receiver, amount, start, duration, block)


@dataclass
class Scenario:
    name: str
    size: int
    accounts: int = ACCOUNTS  # spread and churn; the quick run uses fewer
    seed: int = 1

    @property
    def hub(self) -> Optional[bytes]:
        return addr(HUB_TAG, 0) if self.name == "hub" else None

    @property
    def n_accounts(self) -> int:
        if self.name == "hub":
            return -(-self.size // STREAMS_PER_TRADER)
        return self.accounts

    def account(self, i: int) -> bytes:
        return addr(TRADER_TAG if self.name == "hub" else ACCOUNT_TAG, i)

    def newcomer(self, i: int) -> bytes:
        """Accounts that never held anything: receivers of transfers, fresh openers."""
        return addr(NEWCOMER_TAG, i)

    # --- building ------------------------------------------------------------------

    def actions(self) -> Iterator[Action]:
        """Mints and openings in order; the block only moves forward."""
        rng = random.Random(self.seed * 1_000_003 + self.size)
        block = BASE_BLOCK
        if self.name == "hub":
            yield ("mint", self.hub, FUND, block)
            for i in range(self.size):
                if i and i % OPENS_PER_BUILD_BLOCK == 0:
                    block += 1
                trader = self.account(i // STREAMS_PER_TRADER)
                if i % STREAMS_PER_TRADER == 0:
                    yield ("mint", trader, FUND, block)
                start = block if rng.random() < 0.5 else block + rng.randrange(1, 7_200)
                yield ("open", trader, self.hub, rng.randrange(10**10, 10**12), start,
                       rng.randrange(50_000, 2_600_000), block)
            return
        for a in range(self.accounts):
            yield ("mint", self.account(a), FUND, block)
        if self.name == "spread":
            for i in range(self.size):
                if i and i % OPENS_PER_BUILD_BLOCK == 0:
                    block += 1
                s, r = self._pair(rng)
                start = block if rng.random() < 0.5 else block + rng.randrange(1, 50_000)
                yield ("open", s, r, rng.randrange(10**10, 10**12), start,
                       rng.randrange(50_000, 2_600_000), block)
            return
        # churn: what is open in a running system, opened in one go. With lifetimes L
        # uniform on [a, b], a stream seen open has L drawn in proportion to L and has
        # a uniform share of it left.
        a, b = self.churn_life
        for _ in range(self.size):
            s, r = self._pair(rng)
            life = int(math.sqrt(a * a + rng.random() * (b * b - a * a)))
            yield ("open", s, r, rng.randrange(10**10, 10**12), block, rng.randrange(1, life + 1), block)

    def _pair(self, rng: random.Random) -> tuple[bytes, bytes]:
        s = rng.randrange(self.accounts)
        r = rng.randrange(self.accounts - 1)
        return self.account(s), self.account(r + (r >= s))

    def last_build_block(self) -> int:
        if self.name == "churn":
            return BASE_BLOCK
        return BASE_BLOCK + (self.size - 1) // OPENS_PER_BUILD_BLOCK

    @property
    def churn_life(self) -> tuple[int, int]:
        return CHURN_MEAN_LIFE // 2, CHURN_MEAN_LIFE * 3 // 2

    def churn_opens_per_block(self) -> float:
        return self.size / CHURN_MEAN_LIFE
