"""JSON-RPC 2.0 plumbing of the node API: error codes and limits, ``RpcError``, the
params each method takes (by name or by position, in the order of the node's
``types.go``), reading and checking them, paging a list, encoding an answer, and this
host's own OpenRPC document (``rpc.discover``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from .codec import InvalidField, normalize_address

__all__ = [
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_BODY",
    "METHOD_NOT_FOUND",
    "NODE_VERSION",
    "NOT_FOUND",
    "PARSE_ERROR",
    "RpcError",
    "discover_document",
    "named_params",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_FOUND = -32001

MAX_BODY = 1 << 20           # the node's request cap (1 MiB)
MAX_BATCH = 100              # the node's batch cap
LIST_DEFAULT = 50
LIST_MAX = 10_000
NODE_VERSION = "2.0.0-local-rollup-host"

APP_NAME = re.compile(r"[a-z0-9_-]{3,}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
SELECTOR = re.compile(r"0x[0-9a-fA-F]{8}")
HASH = re.compile(r"0x[0-9a-fA-F]{64}")


class RpcError(Exception):
    """A JSON-RPC error answer: ``code`` and ``message`` go to the client as they are."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad(message: str) -> RpcError:
    """An invalid-params error (-32602) saying what was wrong."""
    return RpcError(INVALID_PARAMS, message)


def qty(n: int) -> str:
    """A JSON-RPC quantity: ``0x`` hex without leading zeros (``0x0`` for zero)."""
    return hex(n)


def iso_time(seconds: int) -> str:
    """RFC 3339 UTC time of a block timestamp: deterministic, never the wall clock."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ parameters

# Field order of each method's params struct in types.go (positional params follow it).
PARAMS: dict[str, tuple[str, ...]] = {
    "rpc.discover": (),
    "cartesi_listApplications": ("limit", "offset", "descending"),
    "cartesi_getApplication": ("application",),
    "cartesi_listEpochs": ("application", "status", "limit", "offset", "descending"),
    "cartesi_getEpoch": ("application", "epoch_index"),
    "cartesi_getLastAcceptedEpochIndex": ("application",),
    "cartesi_listInputs": ("application", "epoch_index", "sender", "limit", "offset",
                           "descending"),
    "cartesi_getInput": ("application", "input_index"),
    "cartesi_getProcessedInputCount": ("application",),
    "cartesi_listOutputs": ("application", "epoch_index", "input_index", "output_type",
                            "voucher_address", "limit", "offset", "descending"),
    "cartesi_getOutput": ("application", "output_index"),
    "cartesi_listReports": ("application", "epoch_index", "input_index", "limit", "offset",
                            "descending"),
    "cartesi_getReport": ("application", "report_index"),
    "cartesi_getChainId": (),
    "cartesi_getNodeVersion": (),
}

EPOCH_STATUSES = ("OPEN", "CLOSED", "INPUTS_PROCESSED", "CLAIM_COMPUTED", "CLAIM_SUBMITTED",
                  "CLAIM_STAGED", "CLAIM_ACCEPTED", "CLAIM_REJECTED", "CLAIM_FORECLOSED")


def named_params(method: str, params: Any) -> dict[str, Any]:
    """``params`` (object, array or absent) as a dict of the method's known names.

    Unknown names are dropped (the node's decoder ignores them; ``@cartesi/viem`` sends
    its camelCase arguments beside the snake_case ones). ``null`` counts as absent.
    """
    names = PARAMS[method]
    if params is None:
        return {}
    if isinstance(params, list):
        if len(params) > len(names):
            raise bad(f"Invalid parameters: expected at most {len(names)} positional "
                      f"params, got {len(params)}")
        given = dict(zip(names, params))
    elif isinstance(params, dict):
        given = {k: v for k, v in params.items() if k in names}
    else:
        raise bad("Invalid parameters: params must be an object or an array")
    return {k: v for k, v in given.items() if v is not None}


def _uint(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad(f"Invalid parameters: {name} must be a non-negative integer, got {value!r}")
    return value


def read_page(params: dict[str, Any]) -> tuple[int, int, bool]:
    limit = _uint(params, "limit", 0) or LIST_DEFAULT
    offset = _uint(params, "offset", 0)
    descending = params.get("descending", False)
    if not isinstance(descending, bool):
        raise bad(f"Invalid parameters: descending must be a boolean, got {descending!r}")
    return min(limit, LIST_MAX), offset, descending


def read_index(params: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise bad(f"Invalid parameters: {name} is required (hex encoded)")
        return None
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        raise bad(f"Invalid {name.replace('_', ' ')}: expected a 0x-prefixed hex "
                  f"quantity, got {value!r}")
    number = int(value, 16)
    if number >= 1 << 64:
        raise bad(f"Invalid {name.replace('_', ' ')}: {value} does not fit 64 bits")
    return number


def read_address(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return normalize_address(value, name)
    except InvalidField:
        raise bad(f"Invalid {name.replace('_', ' ')}: expected a 0x-prefixed 20-byte hex "
                  f"address, got {value!r}") from None


def paginate(items: list[Any], limit: int, offset: int, descending: bool) -> dict[str, Any]:
    ordered = items[::-1] if descending else items
    return {"data": ordered[offset:offset + limit],
            "pagination": {"total_count": len(items), "limit": limit, "offset": offset}}


def no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def error_answer(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def discover_document() -> dict[str, Any]:
    """This host's own OpenRPC document: the methods it serves and their params."""
    methods = []
    for name, params in PARAMS.items():
        if name == "rpc.discover":
            continue
        methods.append({
            "name": name,
            "params": [{"name": p, "required": p == "application" or (
                name.startswith("cartesi_get") and p.endswith("_index"))} for p in params],
            "result": {"name": "result", "schema": {"type": "object"}},
        })
    return {
        "openrpc": "1.4.1",
        "info": {"title": "Cartesi Rollups Node API (local rollup host subset)",
                 "version": NODE_VERSION,
                 "description": "The read-only node v2 methods the local rollup host serves "
                                "at POST /rpc; see rollup_host/README.md."},
        "methods": methods,
    }
