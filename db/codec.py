"""Integer <-> BLOB codecs.

SQLite's INTEGER is signed 64-bit, which an 18-decimal token overflows past 9.2 tokens.
Amounts are stored as minimal big-endian BLOBs (0 is the empty blob), which hold any
uint256 exactly and take 8 bytes for a typical balance instead of a fixed 32. Nothing
orders by an amount, so the variable width costs nothing. Tree sums can be negative and
exceed 256 bits (rate x block), so they use minimal two's complement.
"""
from __future__ import annotations

import struct
from typing import Iterator

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


_FIXED = struct.Struct(">QqQq")  # block, rate change (high, low 64 bits), lump
_FIXED_FORMAT, _VARIABLE_FORMAT = 1, 0
_MASK64 = (1 << 64) - 1


def pack_events(events: list[Event]) -> bytes:
    """Sorted pending events of one ledger side.

    Almost always every rate change fits 128 signed bits and every lump 64: then the
    events are fixed 32-byte records that ``struct`` decodes in C (format byte 1).
    Otherwise each is block(8) ‖ len ‖ rate change ‖ len ‖ lump, signed minimal (format 0).
    """
    if not events:
        return b""
    if all(-(1 << 127) <= r < (1 << 127) and -(1 << 63) <= l < (1 << 63) for _, r, l in events):
        pack = _FIXED.pack
        return bytes((_FIXED_FORMAT,)) + b"".join(pack(b, r >> 64, r & _MASK64, l) for b, r, l in events)
    out = bytearray((_VARIABLE_FORMAT,))
    for block, rate_change, lump in events:
        r, l = int_to_blob(rate_change), int_to_blob(lump)
        out += block.to_bytes(8, "big") + bytes((len(r),)) + r + bytes((len(l),)) + l
    return bytes(out)


def iter_events(data: bytes) -> Iterator[Event]:
    """Decode packed events one at a time, so a reader can stop early."""
    if not data:
        return
    if data[0] == _FIXED_FORMAT:
        for block, high, low, lump in _FIXED.iter_unpack(memoryview(data)[1:]):
            yield block, (high << 64) | low, lump
        return
    i, n = 1, len(data)
    from_bytes = int.from_bytes
    while i < n:
        block = from_bytes(data[i : i + 8], "big")
        rl = data[i + 8]
        j = i + 9 + rl
        r = from_bytes(data[i + 9 : j], "big", signed=True)
        ll = data[j]
        i = j + 1 + ll
        yield block, r, from_bytes(data[j + 1 : i], "big", signed=True)
