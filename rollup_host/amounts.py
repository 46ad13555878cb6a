"""Human amounts at the command line: people type and read ``1.5``, the DApp takes and
gives base units (``1500000000000000000`` at 18 decimals).

Only the command line converts, and exactly: decimal text, never a float; more fraction
digits than the token has is refused, not rounded. The DApp's inputs and outputs stay in
base units.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Optional, Union

import requests

from streamable_token.rollup.builtin_ops import OPS

Decimals = Union[int, Callable[[str], int]]
"""A token's decimals: one number for every token, or a function of the token's address."""

DECIMALS_SELECTOR = "0x313ce567"  # ERC-20 decimals()
MAX_DECIMALS = 77  # 10**77 < 2**256 <= 10**78: more places leave no whole unit

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


def op_in_base_units(op: Any, decimals: Decimals) -> Any:
    """A copy of the JSON op ``op`` whose amount fields (by the op schemas, into a batch's
    ops) given as human text are in base units; ``decimals`` a number, or a function of
    the op's ``token``. Anything that is not such a field, or not a string, is left as it
    is for the DApp to judge."""
    if not isinstance(op, dict):
        return op
    spec = OPS.get(op.get("op")) if isinstance(op.get("op"), str) else None
    schema = spec.schema if spec is not None else {}
    out = dict(op)
    for field, (kind, _required) in schema.items():
        value = out.get(field)
        if kind in AMOUNT_KINDS and isinstance(value, str):
            places = decimals
            if callable(decimals):
                if not isinstance(op.get("token"), str):
                    raise ValueError(f"{op['op']}.{field}: {op['op']} names no token to read the decimals of; "
                                     "give --decimals D")
                places = decimals(op["token"])
            out[field] = str(parse_amount(value, places, flag=f"{op['op']}.{field}"))
        elif kind == "ops" and isinstance(value, list):
            out[field] = [op_in_base_units(item, decimals) for item in value]
    return out


def annotated_json(value: Any, decimals: Decimals, token: Optional[str] = None, depth: int = 0) -> list[str]:
    """``value`` as ``json.dumps(value, indent=2)`` lays it out, with ``# <human amount>``
    after each line whose key is an amount in base units. ``decimals`` is a number, or a
    function of a token address (the ``token`` of the object, or of one that holds it):
    an amount with no token in reach is left as it is."""
    pad, end = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict) and value:
        token = value["token"] if isinstance(value.get("token"), str) else token
        lines = ["{"]
        for i, (key, item) in enumerate(value.items()):
            sub = annotated_json(item, decimals, token, depth + 1)
            sub[0] = f"{pad}{json.dumps(key, ensure_ascii=False)}: {sub[0]}"
            sub[-1] += "," if i < len(value) - 1 else ""
            if key in AMOUNT_KEYS and isinstance(item, str) and item.isascii() and item.isdigit():
                places = decimals if not callable(decimals) else decimals(token) if token else None
                if places is not None:
                    sub[-1] += f"  # {format_amount(int(item), places)}"
            lines += sub
        return lines + [end + "}"]
    if isinstance(value, list) and value:
        lines = ["["]
        for i, item in enumerate(value):
            sub = annotated_json(item, decimals, token, depth + 1)
            sub[0] = pad + sub[0]
            sub[-1] += "," if i < len(value) - 1 else ""
            lines += sub
        return lines + [end + "]"]
    return [json.dumps(value, ensure_ascii=False)]


class TokenDecimals:
    """``--decimals auto``: each token's ``decimals()``, read once from an L1 node."""

    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url
        self._known: dict[str, int] = {}

    def __call__(self, token: str) -> int:
        key = token.lower()
        if key not in self._known:
            self._known[key] = read_decimals(self.rpc_url, token)
        return self._known[key]


def read_decimals(rpc_url: str, token: str) -> int:
    """The ERC-20 ``decimals()`` of ``token`` on the L1 node at ``rpc_url`` (an ``eth_call``)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{"to": token, "data": DECIMALS_SELECTOR}, "latest"]}
    try:
        answer = requests.post(rpc_url, json=body, timeout=10).json()
    except (requests.RequestException, ValueError) as exc:
        raise ValueError(f"--decimals auto: cannot read decimals() of {token} from the L1 node at {rpc_url} "
                         f"({type(exc).__name__}); give --rpc URL, or --decimals D") from None
    result = answer.get("result") if isinstance(answer, dict) else None
    if not (isinstance(result, str) and len(result) == 66 and int(result, 16) <= MAX_DECIMALS):
        raise ValueError(f"--decimals auto: {token} answers no decimals() on the L1 node at {rpc_url} "
                         "(not an ERC-20 there?); give --decimals D")
    return int(result, 16)


def decimals_arg(text: str) -> Union[int, str]:
    """argparse type of ``--decimals``: a number of decimals, or ``auto``."""
    if text == "auto":
        return text
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_DECIMALS:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of decimals (0..{MAX_DECIMALS}) nor auto")
    return int(text)


def resolve(decimals: Union[int, str, None], rpc_url: str) -> Optional[Decimals]:
    """What ``--decimals`` and ``--rpc`` give: None (base units), a number, or ``auto``'s reader."""
    return TokenDecimals(rpc_url) if decimals == "auto" else decimals
