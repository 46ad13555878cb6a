"""The Rollups node v2 JSON-RPC API (``POST /rpc``) over the local host's state.

Pure request -> response: ``NodeApi.handle(body)`` takes the raw HTTP body and returns
``(http_status, answer_bytes)``; it reads the host through ``HostState.node_snapshot``
and keeps the claims the L1 bridge reports (``add_claim``), so it is tested without a
socket and the HTTP layer only moves bytes.

This module dispatches and implements the methods; beside it, ``rpc_params`` holds the
JSON-RPC plumbing (codes, params, pages, the OpenRPC document), ``node_outputs`` the
outputs, their Merkle tree, claims and executions, and ``node_views`` the JSON shapes.

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

from __future__ import annotations

import json
import threading
from typing import Any, Callable

from l1.codec import DELEGATE_CALL_VOUCHER, NOTICE, VOUCHER

from .codec import to_hex
from .node_outputs import OutputBook, check_claim, check_execution
from .node_views import NodeViews
from .rpc_params import (
    ADDRESS,
    APP_NAME,
    EPOCH_STATUSES,
    INVALID_REQUEST,
    MAX_BATCH,
    MAX_BODY,
    METHOD_NOT_FOUND,
    NODE_VERSION,
    NOT_FOUND,
    PARSE_ERROR,
    SELECTOR,
    RpcError,
    bad,
    discover_document,
    encode,
    error_answer,
    named_params,
    no_constant,
    paginate,
    qty,
    read_address,
    read_index,
    read_page,
)

__all__ = ["NodeApi"]


class NodeApi:
    """The node's JSON-RPC methods and claim bookkeeping for one ``HostState``.

    ``host`` must offer ``config`` (``HostConfig``) and ``node_snapshot()``. Thread-safe:
    each call takes a snapshot of the host and works on it under the API's own lock.
    """

    def __init__(self, host: Any) -> None:
        self.host = host
        self.config = host.config
        self._lock = threading.Lock()
        self._book = OutputBook()
        self._views = NodeViews(self.config, self._book)
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
            message = json.loads(body, parse_constant=no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
            return 200, encode(error_answer(None, PARSE_ERROR, "Parse error"))
        if isinstance(message, list):
            if not 1 <= len(message) <= MAX_BATCH:
                return 200, encode(error_answer(
                    None, INVALID_REQUEST, f"invalid request batch size (expected [1..{MAX_BATCH}])"))
            return 200, encode([self.call(item) for item in message])
        return 200, encode(self.call(message))

    def call(self, request: Any) -> dict[str, Any]:
        """Answer one decoded JSON-RPC request object."""
        if not isinstance(request, dict):
            return error_answer(None, INVALID_REQUEST, "invalid request")
        rid = request.get("id")
        if isinstance(rid, bool) or not (rid is None or isinstance(rid, (str, int, float))):
            return error_answer(None, INVALID_REQUEST, "invalid request: id must be a string, "
                                                       "a number or null")
        method = request.get("method")
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str) or not method:
            return error_answer(rid, INVALID_REQUEST, "invalid request: expected jsonrpc \"2.0\" "
                                                      "and a method name")
        handler = self._methods.get(method)
        if handler is None:
            return error_answer(rid, METHOD_NOT_FOUND, f"Method not found: {method}")
        try:
            with self._lock:
                result = handler(named_params(method, request.get("params")))
        except RpcError as exc:
            return error_answer(rid, exc.code, exc.message)
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
        check_claim(last_block, root, output_count, transaction_hash, length)
        with self._lock:
            self._refresh()
            self._book.record_claim(last_block, root, output_count, transaction_hash)
        return {"epoch_index": last_block // length, "last_block": last_block,
                "output_count": output_count}

    def add_execution(self, output_index: Any, transaction_hash: Any) -> dict[str, Any]:
        """Record that voucher ``output_index`` was executed on L1 by ``transaction_hash``
        (the bridge reports each ``OutputExecuted``); ``InvalidField`` if there is no such
        voucher here or the hash is malformed."""
        check_execution(output_index, transaction_hash)
        with self._lock:
            self._refresh()
            self._book.record_execution(output_index, transaction_hash)
        return {"output_index": output_index, "transaction_hash": transaction_hash.lower()}

    # -------------------------------------------------------------- snapshot

    def _refresh(self) -> tuple[list[Any], list[Any], int, Any]:
        """Fold newly finished inputs' outputs into the book; return the snapshot."""
        finished, pending, block, halted = self.host.node_snapshot()
        self._book.fold(finished)
        return finished, pending, block, halted

    def _app(self, params: dict[str, Any]) -> tuple[list[Any], list[Any], int, Any]:
        """Check ``application`` names this host's application; return a snapshot."""
        ident = params.get("application")
        if ident is None:
            raise bad("Invalid parameters: application is required (name or address)")
        if not isinstance(ident, str) or not (ADDRESS.fullmatch(ident)
                                              or APP_NAME.fullmatch(ident)):
            raise bad(f"Invalid application identifier: {ident!r} is neither an address "
                      "nor a name of 3+ characters in [a-z0-9_-]")
        if not self.config.names_application(ident):
            raise RpcError(NOT_FOUND, "Application not found")
        return self._refresh()

    # -------------------------------------------------------------- methods

    def _discover(self, params: dict[str, Any]) -> dict[str, Any]:
        return discover_document()

    def _list_applications(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = read_page(params)
        finished, _, block, halted = self._refresh()
        return paginate([self._views.application_json(finished, block, halted)], limit, offset,
                        descending)

    def _get_application(self, params: dict[str, Any]) -> dict[str, Any]:
        finished, _, block, halted = self._app(params)
        return {"data": self._views.application_json(finished, block, halted)}

    def _list_epochs(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = read_page(params)
        status = params.get("status")
        if status is not None and status not in EPOCH_STATUSES:
            raise bad(f"Invalid epoch status: {status!r} (expected one of "
                      f"{', '.join(EPOCH_STATUSES)})")
        finished, pending, block, _ = self._app(params)
        epochs = self._views.epochs(finished, pending, block)
        if status is not None:
            epochs = [e for e in epochs if e["status"] == status]
        return paginate(epochs, limit, offset, descending)

    def _get_epoch(self, params: dict[str, Any]) -> dict[str, Any]:
        index = read_index(params, "epoch_index", required=True)
        finished, pending, block, _ = self._app(params)
        for epoch in self._views.epochs(finished, pending, block):
            if int(epoch["index"], 16) == index:
                return {"data": epoch}
        raise RpcError(NOT_FOUND, "Epoch not found")

    def _last_accepted_epoch(self, params: dict[str, Any]) -> dict[str, Any]:
        self._app(params)
        if not self._book.claims:
            raise RpcError(NOT_FOUND, "No accepted epoch yet")
        return {"data": qty(self._views.epoch_of(self._book.claims[-1].last_block))}

    def _list_inputs(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = read_page(params)
        epoch = read_index(params, "epoch_index")
        sender = read_address(params, "sender")
        finished, pending, _, _ = self._app(params)
        chosen = [r for r in finished + pending
                  if (epoch is None or self._views.input_epoch(r) == epoch)
                  and (sender is None or same_address((r.metadata or {}).get("msg_sender"),
                                                      sender))]
        page = paginate(chosen, limit, offset, descending)  # encode only the page
        page["data"] = [self._views.input_json(r) for r in page["data"]]
        return page

    def _get_input(self, params: dict[str, Any]) -> dict[str, Any]:
        index = read_index(params, "input_index", required=True)
        finished, pending, _, _ = self._app(params)
        for request in finished + pending:
            if request.input_index == index:
                return {"data": self._views.input_json(request)}
        raise RpcError(NOT_FOUND, "Input not found")

    def _processed_input_count(self, params: dict[str, Any]) -> dict[str, Any]:
        finished, _, _, _ = self._app(params)
        return {"data": qty(len(finished))}

    def _list_outputs(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = read_page(params)
        epoch = read_index(params, "epoch_index")
        input_index = read_index(params, "input_index")
        voucher_address = read_address(params, "voucher_address")
        output_type = params.get("output_type")
        if output_type is not None and (not isinstance(output_type, str)
                                        or SELECTOR.fullmatch(output_type) is None):
            raise bad(f"Invalid output type: expected a 4-byte 0x-hex selector "
                      f"(Notice {to_hex(NOTICE)}, Voucher {to_hex(VOUCHER)}, "
                      f"DelegateCallVoucher {to_hex(DELEGATE_CALL_VOUCHER)}), got {output_type!r}")
        self._app(params)
        chosen = []
        for index, item in enumerate(self._book.outputs):
            request = item["input"]
            if epoch is not None and self._views.input_epoch(request) != epoch:
                continue
            if input_index is not None and request.input_index != input_index:
                continue
            if output_type is not None and item["raw"][:4] != bytes.fromhex(output_type[2:]):
                continue
            if voucher_address is not None and item["decoded"].get("destination") != voucher_address:
                continue
            chosen.append(index)
        page = paginate(chosen, limit, offset, descending)
        page["data"] = [self._views.output_json(i) for i in page["data"]]
        return page

    def _get_output(self, params: dict[str, Any]) -> dict[str, Any]:
        index = read_index(params, "output_index", required=True)
        self._app(params)
        if index >= len(self._book.outputs):
            raise RpcError(NOT_FOUND, "Output not found")
        return {"data": self._views.output_json(index)}

    def _list_reports(self, params: dict[str, Any]) -> dict[str, Any]:
        limit, offset, descending = read_page(params)
        epoch = read_index(params, "epoch_index")
        input_index = read_index(params, "input_index")
        finished, _, _, _ = self._app(params)
        reports = self._views.reports(finished)
        if epoch is not None:
            reports = [r for r in reports if int(r["epoch_index"], 16) == epoch]
        if input_index is not None:
            reports = [r for r in reports if int(r["input_index"], 16) == input_index]
        return paginate(reports, limit, offset, descending)

    def _get_report(self, params: dict[str, Any]) -> dict[str, Any]:
        index = read_index(params, "report_index", required=True)
        finished, _, _, _ = self._app(params)
        reports = self._views.reports(finished)
        if index >= len(reports):
            raise RpcError(NOT_FOUND, "Report not found")
        return {"data": reports[index]}


def same_address(value: Any, checksummed: str) -> bool:
    """``value`` is an address string equal to ``checksummed`` in any letter case."""
    return isinstance(value, str) and value.lower() == checksummed.lower()
