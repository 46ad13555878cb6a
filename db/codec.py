"""Integer <-> BLOB codecs.

SQLite's INTEGER is signed 64-bit, which an 18-decimal token overflows past 9.2 tokens.
Amounts are stored as minimal big-endian BLOBs (0 is the empty blob), which hold any
uint256 exactly and take 8 bytes for a typical balance instead of a fixed 32. Nothing
orders by an amount, so the variable width costs nothing. Tree sums can be negative and
exceed 256 bits (rate x block), so they use minimal two's complement.
"""
from __future__ import annotations

Event = tuple[int, int, int]  # (block, rate change, lump), as in streamable_token.schedule


def uint_to_blob(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"negative amount {n} cannot be stored")
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def blob_to_uint(b: bytes) -> int:
    return int.from_bytes(b, "big")


def int_to_blob(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)


def blob_to_int(b: bytes) -> int:
    return int.from_bytes(b, "big", signed=True)


def pack_events(events: list[Event]) -> bytes:
    """Sorted events as block(8) ‖ len ‖ rate change ‖ len ‖ lump, each signed minimal."""
    out = bytearray()
    for block, rate_change, lump in events:
        r, l = int_to_blob(rate_change), int_to_blob(lump)
        out += block.to_bytes(8, "big") + bytes((len(r),)) + r + bytes((len(l),)) + l
    return bytes(out)


def unpack_events(data: bytes) -> list[Event]:
    events = []
    i, n = 0, len(data)
    while i < n:
        block = int.from_bytes(data[i : i + 8], "big")
        rl = data[i + 8]
        r = int.from_bytes(data[i + 9 : i + 9 + rl], "big", signed=True)
        j = i + 9 + rl
        ll = data[j]
        lump = int.from_bytes(data[j + 1 : j + 1 + ll], "big", signed=True)
        events.append((block, r, lump))
        i = j + 1 + ll
    return events
