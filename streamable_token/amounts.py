"""What an amount is, said once: the engine's calls and the JSON parser both ask here.

The parser first checks the JSON shape (a decimal string in quotes, no sign, spaces or
leading zeros), then the same rule as a library call: an integer in range.
"""
from __future__ import annotations

from typing import Any

from streamable_token.constants import MAX_UINT256
from streamable_token.errors import InvalidInput

AMOUNT = "an amount in 1..2^256-1"
ALLOWANCE = "an amount in 0..2^256-1"


def amount(value: Any, field: str = "amount", shown: Any = None) -> int:
    """``value`` if it is an amount to move (1..2^256-1), else the refusal naming
    ``field`` (and ``shown``, the value as the caller wrote it, when given)."""
    if type(value) is not int or not 1 <= value <= MAX_UINT256:
        raise InvalidInput(field, value if shown is None else shown, AMOUNT)
    return value


def allowance(value: Any, field: str = "amount") -> int:
    """``value`` if it is an allowance (0..2^256-1: 0 revokes, 2^256-1 is infinite)."""
    if type(value) is not int or not 0 <= value <= MAX_UINT256:
        raise InvalidInput(field, value, ALLOWANCE)
    return value
