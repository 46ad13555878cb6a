"""Numbers and addresses the whole package agrees on, in one place."""
from __future__ import annotations

MAX_UINT256 = 2**256 - 1
"""The largest ERC-20 amount: every amount, balance and supply stays within it."""

MAX_BLOCK = 2**62
"""Blocks, durations and stream ends stay at or below this (SQLite INTEGER, tree node keys)."""

MAX_ID = 2**63 - 1
"""The largest SQLite rowid: stream ids and page cursors."""

ERC20_TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
"""keccak("transfer(address,uint256)")[:4], the calldata of a withdrawal's voucher."""

PORTALS = {
    "v2": "0xc700D6aDd016eECd59d989C028214Eaa0fCC0051",  # ERC20Portal, Rollups contracts 2.0.x
    "v1": "0x9C21AEb2093C32DDbC53eEF24B873BDCd1aDa1DB",  # ERC20Portal, Rollups v1
}
"""Default ERC-20 portal per Rollups version (contracts 2.1+ deploy elsewhere: configure it)."""
