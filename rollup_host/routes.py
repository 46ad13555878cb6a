"""What each route of the local host does: the rollup side the DApp calls, the developer
side, and the node's client API (inspect and ``/rpc``).

Every route is a function of the ``Handler`` serving the request (``rollup_host.handler``):
it reads the request through it, asks the host's state (``HostState``) or the node API
(``NodeApi``), and answers with ``handler.reply``. A route that refuses raises
``HostError`` or ``InvalidField``; the handler turns those into the answer.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, unquote, unquote_to_bytes, urlsplit

from .attempts import ATTEMPT_HEADER, REQUEST_HEADER
from .codec import InvalidField, from_hex, parse_uint256
from .model import EXCEPTION, HostError, HostRequest

if TYPE_CHECKING:
    from .handler import Handler

__all__ = ["CORS_HEADERS", "GET_ROUTES", "POST_ROUTES", "RESTART_HEADER", "Route"]

RESTART_HEADER = "X-Rollup-Restart"
MAX_INSPECT_BODY = 2 << 20  # a node refuses a larger inspect payload (2 MiB)
# Browser frontends call /rpc and /inspect/<app> from another origin.
CORS_HEADERS = ("Access-Control-Allow-Origin: *\r\n"
                "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
                "Access-Control-Max-Age: 86400\r\n")

Route = Callable[["Handler"], None]


# ------------------------------------------------------------------ rollup side


def finish(h: Handler) -> None:
    """``POST /finish``: close the request in flight, answer the next one (200, with its
    attempt id in ``X-Rollup-Attempt``) or 202 when none came within the long-poll."""
    restart = h.headers.get(RESTART_HEADER, "").strip() == "1"
    raw = h.body
    status = None
    if not restart:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise HostError("body is not valid JSON") from None
        status = body.get("status") if isinstance(body, dict) else None
    delivery = h.host.finish(status, restart=restart, peer_alive=h.peer_alive,
                             attempt=_header(h, ATTEMPT_HEADER), request_id=_header(h, REQUEST_HEADER))
    if delivery is None:
        h.reply(202)
    else:
        request, attempt = delivery
        h.reply(200, request.rollup_json(), headers=f"{ATTEMPT_HEADER}: {attempt}\r\n")


def notice(h: Handler) -> None:
    body = h.json_body()
    h.reply(201, {"index": h.host.add_notice(body.get("payload"), attempt=_header(h, ATTEMPT_HEADER))})


def voucher(h: Handler) -> None:
    body = h.json_body()
    index = h.host.add_voucher(body.get("destination"), body.get("payload"),
                               body.get("value"), attempt=_header(h, ATTEMPT_HEADER))
    h.reply(201, {"index": index})


def report(h: Handler) -> None:
    h.host.add_report(h.json_body().get("payload"), attempt=_header(h, ATTEMPT_HEADER))
    h.reply(201, {})


def exception(h: Handler) -> None:
    h.host.add_exception(h.json_body().get("payload"), attempt=_header(h, ATTEMPT_HEADER))
    h.reply(200, {})


def _header(h: Handler, name: str) -> str | None:
    """A header's value without surrounding blanks; None when absent."""
    value = h.headers.get(name)
    return None if value is None else value.strip()


# ------------------------------------------------------------ developer side


def wait_and_answer(h: Handler, request: HostRequest, body: dict[str, Any]) -> None:
    """Answer a queued request's result once the DApp finished it (``"wait": false``:
    202 at once; 504 after ``timeout``; 503 if the host halted or is shutting down)."""
    if body.get("wait", True) is False:
        h.reply(202, {"input_index": request.input_index, "status": request.status,
                      "block_number": request.block_number})
        return
    timeout = body.get("timeout")
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, (int, float))):
        raise InvalidField("timeout", timeout, "number of seconds")
    if not h.host.wait(request, timeout):
        if h.host.closed:
            raise HostError("host is shutting down", status=503)
        if h.host.halted is not None:
            h.reply(503, {"error": h.host.halted, "input_index": request.input_index,
                          "status": request.status})
            return
        h.reply(504, {"error": "timed out waiting for the DApp",
                      "input_index": request.input_index, "status": request.status})
        return
    h.reply(200, request.result_json())


def dev_advance(h: Handler) -> None:
    body = h.json_body()
    payload = from_hex(body.get("payload", "0x"))
    block = body.get("block")
    metadata = body.get("metadata")
    request = h.host.enqueue_advance(payload, sender=body.get("sender"),
                                     block=block, metadata=metadata,
                                     reference=input_reference(body))
    wait_and_answer(h, request, body)


def dev_deposit(h: Handler) -> None:
    body = h.json_body()
    request = h.host.enqueue_deposit(
        body.get("token"), body.get("sender"), parse_uint256(body.get("amount")),
        from_hex(body.get("exec_layer_data", "0x"), "exec_layer_data"),
        block=body.get("block"))
    wait_and_answer(h, request, body)


def dev_inspect(h: Handler) -> None:
    body = h.json_body()
    request = h.host.enqueue_inspect(from_hex(body.get("payload", "0x")))
    wait_and_answer(h, request, body)


def inspect_route(h: Handler) -> None:
    """v1 ``GET /inspect/<path>`` (URL-decoded path bytes, query string included)
    and ``POST /inspect[/<anything>]`` (raw body), as the nodes accept them."""
    if h.command == "GET":
        raw_path = h.path.split("/inspect", 1)[1]
        payload = unquote_to_bytes(raw_path[1:] if raw_path.startswith("/") else raw_path)
    else:
        payload = h.body
    request = h.host.enqueue_inspect(payload)
    wait_and_answer(h, request, {})


def node_inspect(h: Handler, ident: str) -> None:
    """``POST /inspect/<application name or address>`` as a Rollups v2 node answers."""
    ident = unquote(ident)
    if not h.host.config.names_application(ident):
        raise HostError(f"application {ident!r} not found: this host runs "
                        f"{h.host.config.name!r} at {h.host.config.app}", status=404)
    if len(h.body) > MAX_INSPECT_BODY:
        raise HostError(f"inspect payload of {len(h.body)} bytes: the node takes at "
                        f"most {MAX_INSPECT_BODY}", status=413)
    request = h.host.enqueue_inspect(h.body)
    if not h.host.wait(request):
        if h.host.halted is not None:
            raise HostError(h.host.halted, status=503)
        raise HostError("timed out waiting for the DApp", status=503)
    h.reply(200, node_inspect_answer(request), headers=CORS_HEADERS)


def rpc(h: Handler) -> None:
    """``POST /rpc``: the node's JSON-RPC API (rollup_host/rpc.py)."""
    if h.host.config.rollups != "v2":
        raise HostError("the node JSON-RPC at /rpc is a Rollups v2 API; this host runs "
                        "v1 (start it with --rollups v2)", status=404)
    status, data = h.server.node.handle(h.body)
    h.reply(status, raw=data, headers=CORS_HEADERS)


def dev_claim(h: Handler) -> None:
    """The bridge reports a claim accepted on L1: proofs become available."""
    body = h.json_body()
    h.reply(200, h.server.node.add_claim(
        body.get("last_block"), body.get("outputs_merkle_root"),
        body.get("output_count"), body.get("transaction_hash")))


def dev_executed(h: Handler) -> None:
    """The bridge reports a voucher executed on L1 (``OutputExecuted``)."""
    body = h.json_body()
    h.reply(200, h.server.node.add_execution(body.get("output_index"),
                                             body.get("transaction_hash")))


def dev_mine(h: Handler) -> None:
    body = h.json_body()
    h.reply(200, {"block_number": h.host.mine(body.get("blocks", 1))})


def dev_block(h: Handler) -> None:
    h.reply(200, {"block_number": h.host.block_number})


def dev_outputs(h: Handler) -> None:
    query = parse_qs(urlsplit(h.path).query)
    raw = query.get("from", ["0"])[0]
    if not raw.isdigit():
        raise InvalidField("from", raw, "non-negative integer")
    h.reply(200, h.host.outputs(int(raw)))


def dev_status(h: Handler) -> None:
    h.reply(200, h.host.status())


POST_ROUTES: dict[str, Route] = {
    "/finish": finish,
    "/notice": notice,
    "/voucher": voucher,
    "/report": report,
    "/exception": exception,
    "/dev/advance": dev_advance,
    "/dev/deposit": dev_deposit,
    "/dev/inspect": dev_inspect,
    "/dev/mine": dev_mine,
    "/dev/claim": dev_claim,
    "/dev/executed": dev_executed,
    "/rpc": rpc,
}
GET_ROUTES: dict[str, Route] = {
    "/dev/block": dev_block,
    "/dev/outputs": dev_outputs,
    "/dev/status": dev_status,
}


def node_inspect_answer(request: HostRequest) -> dict[str, Any]:
    """A finished inspect as a Rollups v2 node answers it (statuses capitalized)."""
    out: dict[str, Any] = {"status": request.status.capitalize()}
    if request.status == EXCEPTION:
        out["exception"] = request.exception
    out["reports"] = list(request.reports)
    out["processed_input_count"] = request.processed_input_count
    return out


def input_reference(body: dict[str, Any]) -> dict[str, Any] | None:
    """The L1 ``transaction_hash`` and ``log_index`` of an input the bridge feeds, if given."""
    tx_hash, log_index = body.get("transaction_hash"), body.get("log_index")
    if tx_hash is None and log_index is None:
        return None
    if not isinstance(tx_hash, str) or re.fullmatch(r"0x[0-9a-fA-F]{64}", tx_hash) is None:
        raise InvalidField("transaction_hash", tx_hash, "0x + 64 hex digits")
    if isinstance(log_index, bool) or not isinstance(log_index, int) or log_index < 0:
        raise InvalidField("log_index", log_index, "non-negative integer")
    return {"transaction_hash": tx_hash.lower(), "log_index": log_index}
