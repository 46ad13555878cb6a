"""The Rollups node v2 JSON-RPC API (``POST /rpc``) over the local host's state.

Pure request -> response: ``NodeApi.handle(body)`` takes the raw HTTP body and returns
``(http_status, answer_bytes)``; it reads the host through ``HostState.node_snapshot``
and keeps the claims the L1 bridge reports (``add_claim``), so it is tested without a
socket and the HTTP layer only moves bytes.

What it serves, as the node's OpenRPC spec (cartesi/rollups-node,
``internal/jsonrpc/jsonrpc-discover.json``) and ``types.go`` define it, and as the
official clients (``@cartesi/viem``, ``@cartesi/rpc``) read it:

* ``rpc.discover`` (our own OpenRPC document of the methods below), ``cartesi_getChainId``,
  ``cartesi_getNodeVersion``;
* ``cartesi_listApplications`` / ``cartesi_getApplication`` (one application, found by
  its name or its address in any letter case);
* ``cartesi_listInputs`` / ``cartesi_getInput`` / ``cartesi_getProcessedInputCount``;
* ``cartesi_listOutputs`` / ``cartesi_getOutput``: ``raw_data`` is the output as the
  Application contract executes it (``Notice(bytes)`` / ``Voucher(address,uint256,bytes)``
  calls), ``hash`` and ``output_hashes_siblings`` come from the outputs Merkle tree
  (``l1.merkle``, the bridge's tree) once a claim covering the output was reported;
* ``cartesi_listReports`` / ``cartesi_getReport``;
* ``cartesi_listEpochs`` / ``cartesi_getEpoch`` / ``cartesi_getLastAcceptedEpochIndex``:
  epoch ``k`` holds blocks ``[k*L, (k+1)*L - 1]`` (``L`` = ``--epoch-length``, as the
  Authority counts them); an epoch exists once it holds an input.

Params by name (object) or by position (array, in the order of ``types.go``); unknown
names are ignored as the node's Go decoder ignores them. Indices and quantities are hex
strings; ``limit`` (default 50, at most 10,000), ``offset`` and ``descending`` page lists.
Errors: -32700 parse, -32600 invalid request, -32601 no such method, -32602 bad params,
-32001 not found (application, input, output, report, epoch).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from eth_abi import encode as abi_encode
from eth_utils import keccak

from l1.codec import (
    DELEGATE_CALL_VOUCHER,
    NOTICE,
    VOUCHER,
    encode_evm_advance,
    encode_notice,
    encode_voucher,
)
from l1.merkle import LOG2_MAX_OUTPUTS, ZERO_HASHES, parent

from .codec import GENESIS_TIMESTAMP, from_hex, normalize_address, to_hex, InvalidField

__all__ = [
    "NodeApi",
    "RpcError",
    "NODE_VERSION",
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "NOT_FOUND",
    "MAX_BODY",
    "data_availability",
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
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32

_APP_NAME = re.compile(r"[a-z0-9_-]{3,}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
_SELECTOR = re.compile(r"0x[0-9a-fA-F]{8}")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")

_STATUS = {"queued": "NONE", "processing": "NONE", "accepted": "ACCEPTED",
           "rejected": "REJECTED", "exception": "EXCEPTION"}


class RpcError(Exception):
    """A JSON-RPC error answer: ``code`` and ``message`` go to the client as they are."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def qty(n: int) -> str:
    """A JSON-RPC quantity: ``0x`` hex without leading zeros (``0x0`` for zero)."""
    return hex(n)


def iso_time(seconds: int) -> str:
    """RFC 3339 UTC time of a block timestamp: deterministic, never the wall clock."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_availability(input_box: str) -> str:
    """``abi.encodeCall(DataAvailability.InputBox, (inputBox))`` as the factories encode it."""
    return to_hex(keccak(text="InputBox(address)")[:4] + abi_encode(["address"], [input_box]))


# ------------------------------------------------------------------ parameters

# Field order of each method's params struct in types.go (positional params follow it).
_PARAMS: dict[str, tuple[str, ...]] = {
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

_EPOCH_STATUSES = ("OPEN", "CLOSED", "INPUTS_PROCESSED", "CLAIM_COMPUTED", "CLAIM_SUBMITTED",
                   "CLAIM_STAGED", "CLAIM_ACCEPTED", "CLAIM_REJECTED", "CLAIM_FORECLOSED")


def named_params(method: str, params: Any) -> dict[str, Any]:
    """``params`` (object, array or absent) as a dict of the method's known names.

    Unknown names are dropped (the node's decoder ignores them; ``@cartesi/viem`` sends
    its camelCase arguments beside the snake_case ones). ``null`` counts as absent.
    """
    names = _PARAMS[method]
    if params is None:
        return {}
    if isinstance(params, list):
        if len(params) > len(names):
            raise _bad(f"Invalid parameters: expected at most {len(names)} positional "
                       f"params, got {len(params)}")
        given = dict(zip(names, params))
    elif isinstance(params, dict):
        given = {k: v for k, v in params.items() if k in names}
    else:
        raise _bad("Invalid parameters: params must be an object or an array")
    return {k: v for k, v in given.items() if v is not None}


def _uint(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"Invalid parameters: {name} must be a non-negative integer, got {value!r}")
    return value


def _page(params: dict[str, Any]) -> tuple[int, int, bool]:
    limit = _uint(params, "limit", 0) or LIST_DEFAULT
    offset = _uint(params, "offset", 0)
    descending = params.get("descending", False)
    if not isinstance(descending, bool):
        raise _bad(f"Invalid parameters: descending must be a boolean, got {descending!r}")
    return min(limit, LIST_MAX), offset, descending


def _index(params: dict[str, Any], name: str, required: bool = False) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise _bad(f"Invalid parameters: {name} is required (hex encoded)")
        return None
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        raise _bad(f"Invalid {name.replace('_', ' ')}: expected a 0x-prefixed hex "
                   f"quantity, got {value!r}")
    number = int(value, 16)
    if number >= 1 << 64:
        raise _bad(f"Invalid {name.replace('_', ' ')}: {value} does not fit 64 bits")
    return number


def _address(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return normalize_address(value, name)
    except InvalidField:
        raise _bad(f"Invalid {name.replace('_', ' ')}: expected a 0x-prefixed 20-byte hex "
                   f"address, got {value!r}") from None


def _paginate(items: list[Any], limit: int, offset: int, descending: bool) -> dict[str, Any]:
    ordered = items[::-1] if descending else items
    return {"data": ordered[offset:offset + limit],
            "pagination": {"total_count": len(items), "limit": limit, "offset": offset}}


# ------------------------------------------------------------------ the node view


@dataclass
class Claim:
    """A claim the bridge submitted and the Authority accepted."""

    last_block: int
    root: bytes
    output_count: int
    transaction_hash: str | None


class _Tree:
    """The outputs Merkle tree of ``l1.merkle`` with every level kept, per prefix size,
    so a sibling is a lookup (a page of 50 proofs costs no rehashing)."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self._levels: dict[int, list[list[bytes]]] = {}

    def levels(self, n: int) -> list[list[bytes]]:
        cached = self._levels.get(n)
        if cached is None:
            level = self.leaves[:n]
            cached = [level]
            for height in range(LOG2_MAX_OUTPUTS):
                if len(level) <= 1 and height:
                    break
                level = [parent(level[i], level[i + 1] if i + 1 < len(level)
                                else ZERO_HASHES[height]) for i in range(0, len(level), 2)]
                cached.append(level)
            if len(self._levels) >= 8:
                self._levels.pop(next(iter(self._levels)))
            self._levels[n] = cached
        return cached

    def root(self, n: int) -> bytes:
        if n == 0:
            return ZERO_HASHES[LOG2_MAX_OUTPUTS]
        levels = self.levels(n)
        node = levels[-1][0]
        for height in range(len(levels) - 1, LOG2_MAX_OUTPUTS):
            node = parent(node, ZERO_HASHES[height])
        return node

    def siblings(self, index: int, n: int) -> list[bytes]:
        levels = self.levels(n)
        out = []
        for height in range(LOG2_MAX_OUTPUTS):
            nodes = levels[height] if height < len(levels) else []
            sib = (index >> height) ^ 1
            out.append(nodes[sib] if sib < len(nodes) else ZERO_HASHES[height])
        return out


class NodeApi:
    """The node's JSON-RPC methods and claim bookkeeping for one ``HostState``.

    ``host`` must offer ``config`` (``HostConfig``) and ``node_snapshot()``. Thread-safe:
    each call takes a snapshot of the host and works on it under the API's own lock.
    """

    def __init__(self, host: Any) -> None:
        self.host = host
        self.config = host.config
        self._lock = threading.Lock()
        self._claims: list[Claim] = []
        self._executions: dict[int, str] = {}  # output index -> L1 transaction hash
        self._tree = _Tree()
        self._outputs: list[dict[str, Any]] = []   # accepted outputs by global index
        self._seen_inputs = 0                      # finished inputs folded into _outputs
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "rpc.discover": self._discover,
            "cartesi_listApplications": self._list_applications,
            "cartesi_getApplication": self._get_application,
            "cartesi_listEpochs": self._list_epochs,
            "cartesi_getEpoch": self._get_epoch,
            "cartesi_getLastAcceptedEpochIndex": self._last_accepted_epoch,
            "cartesi_listInputs": self._list_inputs,
            "cartesi_getInput": self._get_input,
            "cartesi_getProcessedInputCount": self._processed_input_count,
            "cartesi_listOutputs": self._list_outputs,
            "cartesi_getOutput": self._get_output,
            "cartesi_listReports": self._list_reports,
            "cartesi_getReport": self._get_report,
            "cartesi_getChainId": lambda p: {"data": qty(self.config.chain_id)},
            "cartesi_getNodeVersion": lambda p: {"data": NODE_VERSION},
        }

    # -------------------------------------------------------------- HTTP entry

    def handle(self, body: bytes) -> tuple[int, bytes]:
        """Answer one HTTP body: a request object or a batch (array) of them."""
        if len(body) > MAX_BODY:
            return 413, b'{"error":"Payload too large"}'
        try:
            message = json.loads(body, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
            return 200, _encode(_error(None, PARSE_ERROR, "Parse error"))
        if isinstance(message, list):
            if not 1 <= len(message) <= MAX_BATCH:
                return 200, _encode(_error(None, INVALID_REQUEST,
                                           f"invalid request batch size (expected [1..{MAX_BATCH}])"))
            return 200, _encode([self.call(item) for item in message])
        return 200, _encode(self.call(message))

    def call(self, request: Any) -> dict[str, Any]:
        """Answer one decoded JSON-RPC request object."""
        if not isinstance(request, dict):
            return _error(None, INVALID_REQUEST, "invalid request")
        rid = request.get("id")
        if isinstance(rid, bool) or not (rid is None or isinstance(rid, (str, int, float))):
            return _error(None, INVALID_REQUEST, "invalid request: id must be a string, "
                                                 "a number or null")
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str) or not method:
            return _error(rid, INVALID_REQUEST, "invalid request: expected jsonrpc \"2.0\" "
                                                "and a method name")
        handler = self._methods.get(method)
        if handler is None:
            return _error(rid, METHOD_NOT_FOUND, f"Method not found: {method}")
        try:
            with self._lock:
                result = handler(named_params(method, request.get("params")))
        except RpcError as exc:
            return _error(rid, exc.code, exc.message)
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    # -------------------------------------------------------------- claims

    def add_claim(self, last_block: Any, root: Any, output_count: Any,
                  transaction_hash: Any = None) -> dict[str, Any]:
        """Record a claim accepted on L1 (the bridge reports it after ``submitClaim``).

        Checked against this host: ``last_block`` ends an epoch of ``--epoch-length``,
        ``output_count`` outputs exist, and their tree has ``root``. Returns the epoch.
        Raises ``InvalidField`` naming the field that does not match.
        """
        length = self.config.epoch_length
        if (isinstance(last_block, bool) or not isinstance(last_block, int) or last_block < 0
                or last_block % length != length - 1):
            raise InvalidField("last_block", last_block,
                               f"the last block of an epoch of {length} blocks "
                               f"(block % {length} == {length - 1}; is --epoch-length right?)")
        if isinstance(output_count, bool) or not isinstance(output_count, int) or output_count < 0:
            raise InvalidField("output_count", output_count, "non-negative integer")
        root_bytes = from_hex(root, "outputs_merkle_root")
        if len(root_bytes) != 32:
            raise InvalidField("outputs_merkle_root", root, "32-byte hex hash")
        if transaction_hash is not None and (not isinstance(transaction_hash, str)
                                             or _HASH.fullmatch(transaction_hash) is None):
            raise InvalidField("transaction_hash", transaction_hash, "32-byte hex hash")
        with self._lock:
            self._refresh()
            if output_count > len(self._outputs):
                raise InvalidField("output_count", output_count,
                                   f"at most the {len(self._outputs)} outputs this host has")
            mine = self._tree.root(output_count)
            if mine != root_bytes:
                raise InvalidField("outputs_merkle_root", root,
                                   f"{to_hex(mine)}, the root of this host's first "
                                   f"{output_count} outputs")
            if not any(c.last_block == last_block for c in self._claims):
                self._claims.append(Claim(last_block, root_bytes, output_count,
                                          transaction_hash and transaction_hash.lower()))
                self._claims.sort(key=lambda c: c.last_block)
        return {"epoch_index": last_block // length, "last_block": last_block,
                "output_count": output_count}

    def add_execution(self, output_index: Any, transaction_hash: Any) -> dict[str, Any]:
        """Record that voucher ``output_index`` was executed on L1 by ``transaction_hash``
        (the bridge reports each ``OutputExecuted``); ``InvalidField`` if there is no such
        voucher here or the hash is malformed."""
        if (isinstance(output_index, bool) or not isinstance(output_index, int)
                or output_index < 0):
            raise InvalidField("output_index", output_index, "non-negative integer")
        if not isinstance(transaction_hash, str) or _HASH.fullmatch(transaction_hash) is None:
            raise InvalidField("transaction_hash", transaction_hash, "32-byte hex hash")
        with self._lock:
            self._refresh()
            if (output_index >= len(self._outputs)
                    or self._outputs[output_index]["decoded"]["type"] != "Voucher"):
                raise InvalidField("output_index", output_index,
                                   f"the index of a voucher among this host's "
                                   f"{len(self._outputs)} outputs")
            self._executions[output_index] = transaction_hash.lower()
        return {"output_index": output_index, "transaction_hash": transaction_hash.lower()}

    # -------------------------------------------------------------- snapshot

    def _refresh(self) -> tuple[list[Any], list[Any], int, Any]:
        """Fold newly finished inputs' outputs into the tree; return the snapshot."""
        finished, pending, block, halted = self.host.node_snapshot()
        for request in finished[self._seen_inputs:]:
            outputs = [("notice", n) for n in request.notices]
            outputs += [("voucher", v) for v in request.vouchers]
            outputs.sort(key=lambda item: item[1]["index"])
            for kind, item in outputs:
                if item["index"] != len(self._outputs):
                    raise RpcError(INTERNAL_ERROR, f"output index {item['index']} out of "
                                                   f"order (expected {len(self._outputs)})")
                payload = from_hex(item["payload"])
                if kind == "notice":
                    raw = encode_notice(payload)
                    decoded = {"type": "Notice", "payload": item["payload"]}
                else:
                    value = int(item.get("value", "0x0"), 16)
                    raw = encode_voucher(item["destination"], value, payload)
                    decoded = {"type": "Voucher", "destination": item["destination"],
                               "value": qty(value), "payload": item["payload"]}
                self._outputs.append({"input": request, "raw": raw, "decoded": decoded})
                self._tree.leaves.append(keccak(raw))
        self._seen_inputs = len(finished)
        return finished, pending, block, halted

    def _app(self, params: dict[str, Any]) -> tuple[list[Any], list[Any], int, Any]:
        """Check ``application`` names this host's application; return a snapshot."""
        ident = params.get("application")
        if ident is None:
            raise _bad("Invalid parameters: application is required (name or address)")
        if not isinstance(ident, str) or not (_ADDRESS.fullmatch(ident)
                                              or _APP_NAME.fullmatch(ident)):
            raise _bad(f"Invalid application identifier: {ident!r} is neither an address "
                       "nor a name of 3+ characters in [a-z0-9_-]")
        if not self.config.names_application(ident):
            raise RpcError(NOT_FOUND, "Application not found")
        return self._refresh()

    def _epoch_of(self, block: int) -> int:
        return block // self.config.epoch_length

    def _input_block(self, request: Any) -> int:
        return int(request.block_number or 0)

    # -------------------------------------------------------------- builders

    def _input_json(self, request: Any) -> dict[str, Any]:
        meta = request.metadata or {}
        block = int(meta.get("block_number", 0))
        timestamp = int(meta.get("block_timestamp", 0))
        randao = meta.get("prev_randao", "0x0")
        randao = int(randao, 16) if isinstance(randao, str) else int(randao)
        app = normalize_address(meta.get("app_contract", self.config.app), "app_contract")
        sender = normalize_address(meta.get("msg_sender"), "msg_sender")
        chain_id = int(meta.get("chain_id", self.config.chain_id))
        raw = encode_evm_advance(chain_id, app, sender, block, timestamp, randao,
                                 request.input_index, request.payload)
        reference = request.reference or {}
        tx_hash = reference.get("transaction_hash") or to_hex(keccak(raw))
        return {
            "epoch_index": qty(self._epoch_of(block)),
            "index": qty(request.input_index),
            "block_number": qty(block),
            "raw_data": to_hex(raw),
            "decoded_data": {
                "chain_id": qty(chain_id),
                "application_contract": app,
                "sender": sender,
                "block_number": qty(block),
                "block_timestamp": qty(timestamp),
                "prev_randao": qty(randao),
                "index": qty(request.input_index),
                "payload": to_hex(request.payload),
            },
            "status": _STATUS[request.status],
            "machine_hash": None,
            "outputs_hash": None,
            # The spec and @cartesi/viem name it transaction_reference; @cartesi/rpc's
            # types name it transaction_hash (with log_index): both are sent.
            "transaction_reference": tx_hash,
            "transaction_hash": tx_hash,
            "log_index": qty(int(reference.get("log_index", 0))),
            "created_at": iso_time(timestamp),
            "updated_at": iso_time(timestamp),
        }

    def _claim_for(self, index: int) -> Claim | None:
        for claim in self._claims:
            if claim.output_count > index:
                return claim
        return None

    def _output_json(self, index: int) -> dict[str, Any]:
        item = self._outputs[index]
        request = item["input"]
        timestamp = int((request.metadata or {}).get("block_timestamp", 0))
        claim = self._claim_for(index)
        if claim is None:
            leaf, siblings = None, None
        else:
            leaf = to_hex(self._tree.leaves[index])
            siblings = [to_hex(s) for s in self._tree.siblings(index, claim.output_count)]
        return {
            "epoch_index": qty(self._epoch_of(self._input_block(request))),
            "input_index": qty(request.input_index),
            "index": qty(index),
            "raw_data": to_hex(item["raw"]),
            "decoded_data": dict(item["decoded"]),
            "hash": leaf,
            "output_hashes_siblings": siblings,
            "execution_transaction_hash": self._executions.get(index),
            "created_at": iso_time(timestamp),
            "updated_at": iso_time(timestamp),
        }

    def _reports(self, finished: list[Any]) -> list[dict[str, Any]]:
        out = []
        for request in finished:
            timestamp = int((request.metadata or {}).get("block_timestamp", 0))
            for report in request.reports:
                out.append({
                    "epoch_index": qty(self._epoch_of(self._input_block(request))),
                    "input_index": qty(request.input_index),
                    "index": qty(len(out)),
                    "raw_data": report["payload"],
                    "created_at": iso_time(timestamp),
                    "updated_at": iso_time(timestamp),
                })
        return out

    def _epochs(self, finished: list[Any], pending: list[Any], block: int) -> list[dict[str, Any]]:
        length = self.config.epoch_length
        by_epoch: dict[int, list[Any]] = {}
        for request in finished + pending:
            by_epoch.setdefault(self._epoch_of(self._input_block(request)), []).append(request)
        out = []
        for index in sorted(by_epoch):
            inputs = by_epoch[index]
            first, last = index * length, index * length + length - 1
            claim = next((c for c in self._claims if c.last_block == last), None)
            done = all(r.status in _DONE for r in inputs)
            if claim is not None:
                status = "CLAIM_ACCEPTED"
            elif last < block or any(self._epoch_of(self._input_block(r)) > index
                                     for r in finished + pending):
                status = "INPUTS_PROCESSED" if done else "CLOSED"
            else:
                status = "OPEN"
            stamp = iso_time(GENESIS_TIMESTAMP if not inputs else
                             int((inputs[0].metadata or {}).get("block_timestamp", 0)))
            out.append({
                "index": qty(index),
                "first_block": qty(first),
                "last_block": qty(last),
                "input_index_lower_bound": qty(min(r.input_index for r in inputs)),
                "input_index_upper_bound": qty(max(r.input_index for r in inputs) + 1),
                "machine_hash": None,
                "outputs_merkle_root": None if claim is None else to_hex(claim.root),
                "outputs_merkle_proof": None,
                "commitment": None,
                "commitment_proof": None,
                "claim_transaction_hash": None if claim is None else claim.transaction_hash,
                "tournament_address": None,
                "status": status,
                "staged_at_block": None,
                "virtual_index": qty(index),
                "created_at": stamp,
                "updated_at": stamp,
            })
        return out

    def _application_json(self, finished: list[Any], block: int, halted: Any) -> dict[str, Any]:
        cfg = self.config
        stamp = iso_time(GENESIS_TIMESTAMP)
        return {
            "name": cfg.name,
            "iapplication_address": cfg.app,
            "iconsensus_address": cfg.consensus or ZERO_ADDRESS,
            "iinputbox_address": cfg.input_box,
            "template_hash": cfg.template_hash,
            "epoch_length": qty(cfg.epoch_length),
            "claim_staging_period": qty(0),
            "withdrawal_config": {
                "guardian": ZERO_ADDRESS,
                "log2_leaves_per_account": qty(0),
                "log2_max_num_of_accounts": qty(0),
                "accounts_drive_start_index": qty(0),
                "withdrawal_output_builder": ZERO_ADDRESS,
            },
            "data_availability": data_availability(cfg.input_box),
            "consensus_type": "AUTHORITY",
            "enabled": halted is None,
            "status": "OK" if halted is None else "FAILED",
            "reason": None if halted is None else halted,
            "iinputbox_block": qty(cfg.input_box_block),
            "last_epoch_check_block": qty(block),
            "last_input_check_block": qty(block),
            "last_output_check_block": qty(block),
            "last_tournament_check_block": qty(0),
            "last_foreclose_check_block": qty(0),
            "last_accounts_drive_proved_check_block": qty(0),
            "last_withdrawal_check_block": qty(0),
            "processed_inputs": qty(len(finished)),
            "foreclose_block": qty(0),
            "foreclose_transaction": ZERO_HASH,
            "accounts_drive_proved_block": qty(0),
            "accounts_drive_proved_transaction": ZERO_HASH,
            "accounts_drive_merkle_root": ZERO_HASH,
            "created_at": stamp,
            "updated_at": stamp,
            "execution_parameters": {
                "snapshot_policy": "NONE",
                **{name: qty(0) for name in (
                    "advance_inc_cycles", "advance_max_cycles", "inspect_inc_cycles",
                    "inspect_max_cycles", "advance_inc_deadline", "advance_max_deadline",
                    "inspect_inc_deadline", "inspect_max_deadline", "load_deadline",
                    "store_deadline", "fast_deadline")},
                "max_concurrent_inspects": 1,
                "created_at": stamp,
                "updated_at": stamp,
            },
        }

    # -------------------------------------------------------------- methods

    def _discover(self, params: dict[str, Any]) -> dict[str, Any]:
        return discover_document()

    def _list_applications(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = _page(params)
        finished, _, block, halted = self._refresh()
        return _paginate([self._application_json(finished, block, halted)], limit, offset,
                         descending)

    def _get_application(self, params: dict[str, Any]) -> dict[str, Any]:
        finished, _, block, halted = self._app(params)
        return {"data": self._application_json(finished, block, halted)}

    def _list_epochs(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = _page(params)
        status = params.get("status")
        if status is not None and status not in _EPOCH_STATUSES:
            raise _bad(f"Invalid epoch status: {status!r} (expected one of "
                       f"{', '.join(_EPOCH_STATUSES)})")
        finished, pending, block, _ = self._app(params)
        epochs = self._epochs(finished, pending, block)
        if status is not None:
            epochs = [e for e in epochs if e["status"] == status]
        return _paginate(epochs, limit, offset, descending)

    def _get_epoch(self, params: dict[str, Any]) -> dict[str, Any]:
        index = _index(params, "epoch_index", required=True)
        finished, pending, block, _ = self._app(params)
        for epoch in self._epochs(finished, pending, block):
            if int(epoch["index"], 16) == index:
                return {"data": epoch}
        raise RpcError(NOT_FOUND, "Epoch not found")

    def _last_accepted_epoch(self, params: dict[str, Any]) -> dict[str, Any]:
        self._app(params)
        if not self._claims:
            raise RpcError(NOT_FOUND, "No accepted epoch yet")
        return {"data": qty(self._epoch_of(self._claims[-1].last_block))}

    def _list_inputs(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = _page(params)
        epoch = _index(params, "epoch_index")
        sender = _address(params, "sender")
        finished, pending, _, _ = self._app(params)
        chosen = [r for r in finished + pending
                  if (epoch is None or self._epoch_of(self._input_block(r)) == epoch)
                  and (sender is None or _same_address((r.metadata or {}).get("msg_sender"),
                                                       sender))]
        page = _paginate(chosen, limit, offset, descending)  # encode only the page
        page["data"] = [self._input_json(r) for r in page["data"]]
        return page

    def _get_input(self, params: dict[str, Any]) -> dict[str, Any]:
        index = _index(params, "input_index", required=True)
        finished, pending, _, _ = self._app(params)
        for request in finished + pending:
            if request.input_index == index:
                return {"data": self._input_json(request)}
        raise RpcError(NOT_FOUND, "Input not found")

    def _processed_input_count(self, params: dict[str, Any]) -> dict[str, Any]:
        finished, _, _, _ = self._app(params)
        return {"data": qty(len(finished))}

    def _list_outputs(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = _page(params)
        epoch = _index(params, "epoch_index")
        input_index = _index(params, "input_index")
        voucher_address = _address(params, "voucher_address")
        output_type = params.get("output_type")
        if output_type is not None and (not isinstance(output_type, str)
                                        or _SELECTOR.fullmatch(output_type) is None):
            raise _bad(f"Invalid output type: expected a 4-byte 0x-hex selector "
                       f"(Notice {to_hex(NOTICE)}, Voucher {to_hex(VOUCHER)}, "
                       f"DelegateCallVoucher {to_hex(DELEGATE_CALL_VOUCHER)}), got {output_type!r}")
        self._app(params)
        chosen = []
        for index, item in enumerate(self._outputs):
            request = item["input"]
            if epoch is not None and self._epoch_of(self._input_block(request)) != epoch:
                continue
            if input_index is not None and request.input_index != input_index:
                continue
            if output_type is not None and item["raw"][:4] != bytes.fromhex(output_type[2:]):
                continue
            if voucher_address is not None and item["decoded"].get("destination") != voucher_address:
                continue
            chosen.append(index)
        page = _paginate(chosen, limit, offset, descending)
        page["data"] = [self._output_json(i) for i in page["data"]]
        return page

    def _get_output(self, params: dict[str, Any]) -> dict[str, Any]:
        index = _index(params, "output_index", required=True)
        self._app(params)
        if index >= len(self._outputs):
            raise RpcError(NOT_FOUND, "Output not found")
        return {"data": self._output_json(index)}

    def _list_reports(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = _page(params)
        epoch = _index(params, "epoch_index")
        input_index = _index(params, "input_index")
        finished, _, _, _ = self._app(params)
        reports = self._reports(finished)
        if epoch is not None:
            reports = [r for r in reports if int(r["epoch_index"], 16) == epoch]
        if input_index is not None:
            reports = [r for r in reports if int(r["input_index"], 16) == input_index]
        return _paginate(reports, limit, offset, descending)

    def _get_report(self, params: dict[str, Any]) -> dict[str, Any]:
        index = _index(params, "report_index", required=True)
        finished, _, _, _ = self._app(params)
        reports = self._reports(finished)
        if index >= len(reports):
            raise RpcError(NOT_FOUND, "Report not found")
        return {"data": reports[index]}


_DONE = ("accepted", "rejected", "exception")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _same_address(value: Any, checksummed: str) -> bool:
    return isinstance(value, str) and value.lower() == checksummed.lower()


def _error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def discover_document() -> dict[str, Any]:
    """This host's own OpenRPC document: the methods it serves and their params."""
    methods = []
    for name, params in _PARAMS.items():
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
