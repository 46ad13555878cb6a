"""What an input produces: notices, reports and vouchers, as the rollup server takes them.

Every output's payload is canonical JSON (:func:`~streamable_token.rollup.codec.canonical_json`)
in ``0x`` hex, so the same input gives the same bytes on every machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from streamable_token.errors import InvalidInput
from streamable_token.rollup.codec import canonical_json, to_hex


@dataclass(frozen=True)
class Output:
    """A notice, a report, or a voucher (``body`` is the JSON the rollup server takes)."""

    kind: str
    body: dict
    fields: Optional[dict] = field(default=None, compare=False, repr=False)
    """A notice's fields before encoding (for a batch to read a stream id back)."""


def notice(event: str, **fields) -> Output:
    return Output("notice", {"payload": to_hex(canonical_json({"event": event, **fields}))}, fields)


def report(obj: dict) -> Output:
    return Output("report", {"payload": to_hex(canonical_json(obj))})


def error_report(err: BaseException) -> Output:
    body = {"type": type(err).__name__, "message": str(err)}
    if isinstance(err, InvalidInput):
        body["field"] = err.field
    return report({"error": body})
