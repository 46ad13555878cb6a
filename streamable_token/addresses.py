"""Addresses the way the ethereum Python libraries take them: case-insensitive on input
(a mixed-case address must carry a valid EIP-55 checksum), checksummed on output."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from streamable_token.errors import InvalidInput
from streamable_token.fastpaths import keccak256

_HEX = frozenset("0123456789abcdefABCDEF")


def parse_address(value: Any, field: str = "address") -> bytes:
    """20 raw bytes from a 0x-prefixed hex string (or 20 bytes); refuse anything else."""
    if isinstance(value, str):
        found = _from_text(value)
        if found is not None:
            return found
    elif isinstance(value, (bytes, bytearray)):
        if len(value) != 20:
            raise InvalidInput(field, value, "20 bytes")
        return bytes(value)
    if not isinstance(value, str) or len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise InvalidInput(field, value, "a 0x-prefixed 20-byte hex address (42 characters)")
    if not _HEX.issuperset(value[2:]):
        raise InvalidInput(field, value, "hex digits only after 0x")
    raise InvalidInput(field, value, "a valid EIP-55 checksum, or all one case")


@lru_cache(maxsize=16384)
def _from_text(value: str) -> Optional[bytes]:
    """The address a well-formed text spells, None if it is not one. Kept for the
    addresses in use: every input names two to five (its sender, the application, a
    token, a receiver), and checking one costs more than looking it up."""
    if len(value) != 42 or value[:2] not in ("0x", "0X"):
        return None
    digits = value[2:]
    if not _HEX.issuperset(digits):
        return None
    if digits != digits.lower() and digits != digits.upper() and checksum(bytes.fromhex(digits)) != "0x" + digits:
        return None
    return bytes.fromhex(digits)


# hex digit -> 0x20 (the ASCII case bit) where EIP-55 may upper-case it: a hashed nibble
# of 8 or more, and a letter a-f among the address's digits
_HIGH_NIBBLE = bytes.maketrans(b"0123456789abcdef", b"\0" * 8 + b"\x20" * 8)
_LETTER = bytes.maketrans(b"0123456789abcdef", b"\0" * 10 + b"\x20" * 6)


@lru_cache(maxsize=65536)
def checksum(address: bytes) -> str:
    """EIP-55 form of 20 raw bytes: a hex letter is upper case where the same nibble of
    keccak(the lower-case hex) is 8 or more. Written out because ``to_checksum_address``,
    which first validates and converts its argument, took 41 µs here, and a DApp with many
    accounts misses this cache often (as does every process that has just started, each
    cancel reading a stream with two addresses it may not have seen). The letters are
    upper-cased all at once, by clearing their case bits in one 40-byte integer (a
    character loop took 7–10 µs more per address here)."""
    if len(address) != 20:
        raise ValueError(f"an address is 20 bytes, got {len(address)}")
    digits = address.hex().encode()
    hashed = keccak256(digits).hex().encode()[:40]
    upper = int.from_bytes(hashed.translate(_HIGH_NIBBLE), "big") & int.from_bytes(digits.translate(_LETTER), "big")
    return "0x" + (int.from_bytes(digits, "big") - upper).to_bytes(40, "big").decode()
