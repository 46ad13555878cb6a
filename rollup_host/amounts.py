"""Human amounts at the command line: people type and read ``1.5``, the DApp takes and
gives base units (``1500000000000000000`` at 18 decimals).

Only the command line converts, and exactly: decimal text, never a float; more fraction
digits than the token has is refused, not rounded. The DApp's inputs and outputs stay in
base units.
"""
from __future__ import annotations

from typing import Any, Optional

from streamable_token.rollup.ops import SCHEMAS

AMOUNT_KINDS = ("amount", "uint")
"""Field kinds of the op schemas that hold amounts in base units."""

AMOUNT_KEYS = frozenset({"balance", "available", "committed", "amount", "streamed", "rate", "remainder",
                         "deposited", "withdrawn", "total_supply", "allowance"})
"""Keys of inspect answers whose values are amounts in base units."""


def parse_amount(text: str, decimals: Optional[int], flag: str = "--amount") -> int:
    """Base units from ``text``: a whole number, or with ``decimals`` a human amount such
    as ``1.5`` (exact: no float, no more fraction digits than the token has)."""
    whole, dot, fraction = text.partition(".")
    digits = whole + fraction
    if not (digits.isascii() and digits.isdigit()) or not whole or (dot and not fraction):
        raise ValueError(f"{flag}: {text!r} is not an amount (digits, with --decimals one '.' allowed)")
    if decimals is None:
        if dot:
            raise ValueError(f"{flag}: {text!r} has a fraction; give base units, or the token's --decimals")
        return int(whole)
    if decimals < 0 or len(fraction) > decimals:
        raise ValueError(f"{flag}: {text!r} has more fraction digits than --decimals {decimals}")
    return int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")


def format_amount(base_units: int, decimals: int) -> str:
    """``base_units`` as a human amount at ``decimals``: ``1.5``, ``100``, ``0.000001``
    (exact; no trailing zeros in the fraction)."""
    whole, fraction = divmod(base_units, 10**decimals)
    text = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{whole}.{text}" if text else str(whole)


def op_in_base_units(op: Any, decimals: int) -> Any:
    """A copy of the JSON op ``op`` whose amount fields (by the op schemas, into a batch's
    ops) given as human text are in base units. Anything that is not such a field, or
    not a string, is left as it is for the DApp to judge."""
    if not isinstance(op, dict):
        return op
    schema = SCHEMAS.get(op.get("op"), {}) if isinstance(op.get("op"), str) else {}
    out = dict(op)
    for field, (kind, _required) in schema.items():
        value = out.get(field)
        if kind in AMOUNT_KINDS and isinstance(value, str):
            out[field] = str(parse_amount(value, decimals, flag=f"{op['op']}.{field}"))
        elif kind == "ops" and isinstance(value, list):
            out[field] = [op_in_base_units(item, decimals) for item in value]
    return out


def human_lines(pretty_json: str, decimals: int) -> str:
    """Pretty-printed JSON (``indent``ed, one key a line) with ``# <human amount>``
    after every line whose key is an amount in base units."""
    out = []
    for line in pretty_json.split("\n"):
        key, sep, rest = line.strip().partition(": ")
        value = rest.rstrip(",")
        if sep and key.strip('"') in AMOUNT_KEYS and len(value) > 2 and value[0] == value[-1] == '"' \
                and value[1:-1].isdigit():
            line += f"  # {format_amount(int(value[1:-1]), decimals)}"
        out.append(line)
    return "\n".join(out)
