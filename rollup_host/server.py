"""Local Cartesi rollup host: the rollup HTTP API the DApp talks to, plus a dev side.

Two halves in one process:

* ``HostState`` is the rollup's state machine (input queue, the input in flight, the
  finished inputs and their outputs, the block number). It knows nothing of HTTP; every
  method takes and returns plain Python values and is guarded by one
  ``threading.Condition`` so the DApp's long-poll and the developer's waiting calls
  wake each other.
* ``Handler`` maps HTTP requests onto it. The server sets ``TCP_NODELAY`` and writes
  each response in one buffered write with ``Content-Length`` over HTTP/1.1 keep-alive;
  without that every round trip pays ~40 ms of Nagle + delayed-ACK.

Local-host extension (not part of Cartesi's API): a ``POST /finish`` carrying the
header ``X-Rollup-Restart: 1`` ignores its status, drops the partial outputs of the
input in flight and delivers that same input again (same index, same metadata). A DApp
sends it on its first ``/finish`` after starting, so a crash mid-input replays the input
instead of losing it or half-applying it.
"""

from __future__ import annotations

import collections
import email.parser
import functools
import http.client
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, unquote, unquote_to_bytes, urlsplit

from streamable_token.constants import PORTALS

from .chain_file import ChainFile
from .codec import (
    DEFAULT_APP_ADDRESS,
    DEFAULT_APP_NAME,
    DEFAULT_INPUT_BOX,
    DEFAULT_CHAIN_ID,
    InvalidField,
    block_timestamp,
    check_node_fields,
    check_voucher_value,
    erc20_deposit_payload,
    from_hex,
    normalize_address,
    parse_uint256,
    prev_randao,
    to_hex,
)

from .rpc import NodeApi  # noqa: E402 (after the codec imports it shares)

if TYPE_CHECKING:
    from .web import WebApp

__all__ = [
    "HostConfig",
    "HostState",
    "HostRequest",
    "Handler",
    "RollupHostServer",
    "HostError",
    "make_server",
    "serve_in_thread",
    "start_in_thread",
]

RESTART_HEADER = "X-Rollup-Restart"
MAX_INSPECT_BODY = 2 << 20  # a node refuses a larger inspect payload (2 MiB)
# Browser frontends call /rpc and /inspect/<app> from another origin.
CORS_HEADERS = ("Access-Control-Allow-Origin: *\r\n"
                "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
                "Access-Control-Max-Age: 86400\r\n")

ADVANCE = "advance"
INSPECT = "inspect"

QUEUED = "queued"
PROCESSING = "processing"
ACCEPTED = "accepted"
REJECTED = "rejected"
EXCEPTION = "exception"
FINAL_STATUSES = (ACCEPTED, REJECTED, EXCEPTION)


class HostError(Exception):
    """A request the host refuses; ``status`` is the HTTP code the handler answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HostConfig:
    """Everything that shapes the inputs the DApp sees; fixed for a server's life."""

    rollups: str = "v2"
    portal: str | None = None  # None: the version's default ERC20Portal
    app: str = DEFAULT_APP_ADDRESS
    chain_id: int = DEFAULT_CHAIN_ID
    block: int = 1
    finish_timeout: float = 10.0
    wait_timeout: float = 60.0
    verbose: bool = False
    chain_file: str | None = None  # where the chain is kept across restarts (None: memory only)
    # What the node JSON-RPC (rollup_host/rpc.py) and node inspect report: the
    # application's name, its epoch length (blocks), InputBox, consensus, template hash
    # and the block the InputBox was deployed in (``--deployment`` fills them).
    name: str = DEFAULT_APP_NAME
    epoch_length: int = 10
    input_box: str = DEFAULT_INPUT_BOX
    consensus: str | None = None
    template_hash: str = "0x" + "00" * 32
    input_box_block: int = 0

    def __post_init__(self) -> None:
        if self.rollups not in ("v1", "v2"):
            raise ValueError(f"rollups must be 'v1' or 'v2', got {self.rollups!r}")
        # the ERC20Portal of each Rollups version; contracts 2.1+ deploy it elsewhere (--portal)
        self.portal = normalize_address(self.portal or PORTALS[self.rollups], "portal")
        self.app = normalize_address(self.app, "app")
        if self.block < 0:
            raise ValueError("block must be >= 0")
        check_node_fields(self)

    def names_application(self, ident: str) -> bool:
        """True when ``ident`` is this application's name, or its address in any case."""
        return ident == self.name or ident.lower() == self.app.lower()


@dataclass
class HostRequest:
    """One queued request (advance or inspect) and, once processed, its outcome."""

    kind: str
    payload: bytes
    metadata: dict[str, Any] | None = None
    input_index: int | None = None
    block_number: int | None = None
    status: str = QUEUED
    notices: list[dict[str, Any]] = field(default_factory=list)
    vouchers: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    exception: str | None = None
    processed_input_count: int | None = None
    reference: dict[str, Any] | None = None  # L1 transaction_hash / log_index (bridge)

    def rollup_json(self) -> dict[str, Any]:
        """The body ``/finish`` returns to the DApp for this request."""
        if self.kind == ADVANCE:
            return {
                "request_type": "advance_state",
                "data": {"metadata": self.metadata, "payload": to_hex(self.payload)},
            }
        return {"request_type": "inspect_state", "data": {"payload": to_hex(self.payload)}}

    def result_json(self) -> dict[str, Any]:
        """The developer-side view: status and outputs (plus metadata for advances)."""
        if self.kind == INSPECT:
            out: dict[str, Any] = {
                "status": self.status,
                "reports": list(self.reports),
                "processed_input_count": self.processed_input_count,
            }
        else:
            out = {
                "input_index": self.input_index,
                "status": self.status,
                "block_number": self.block_number,
                "msg_sender": (self.metadata or {}).get("msg_sender"),
                "metadata": self.metadata,
                "payload": to_hex(self.payload),
                "notices": list(self.notices),
                "vouchers": list(self.vouchers),
                "reports": list(self.reports),
            }
        if self.exception is not None:
            out["exception_payload"] = self.exception
        return out

    def discard_outputs(self, keep_reports: bool) -> None:
        self.notices.clear()
        self.vouchers.clear()
        if not keep_reports:
            self.reports.clear()


class HostState:
    """The rollup as the DApp and the developer see it, minus HTTP.

    Requests go to the DApp strictly one at a time in FIFO order (advances and inspects
    share the queue). Output indices follow Rollups v2: notices and vouchers share one
    index space counted over accepted outputs only, so a rejected input leaves no gap.
    With ``rollups="v1"`` indices count per input and per kind, as v1 proofs do.
    """

    def __init__(self, config: HostConfig | None = None) -> None:
        self.config = config or HostConfig()
        self._cond = threading.Condition()
        self._queue: collections.deque[HostRequest] = collections.deque()
        self._current: HostRequest | None = None
        self._finished: list[HostRequest] = []  # advance inputs, index order
        self._next_input_index = 0
        self._output_count = 0  # accepted notices + vouchers (v2 global index)
        self._block = self.config.block
        self._closed = False
        self._halted: str | None = None  # why the application stopped (an exception)
        self._long_polls = 0  # /finish calls waiting for a request right now
        self._chain: ChainFile | None = None
        if self.config.chain_file:
            self._chain = ChainFile(self.config.chain_file)
            self._restore(self._chain.load(self.chain_header()))

    # ----------------------------------------------------------------- rollup side

    def finish(self, status: str | None, restart: bool = False,
               timeout: float | None = None,
               peer_alive: Callable[[], bool] | None = None) -> HostRequest | None:
        """Close the request in flight with ``status``, then wait for the next one.

        Returns the request now in flight, or ``None`` when nothing arrived within
        ``timeout`` (the HTTP layer answers 202). With ``restart`` the status is ignored
        and the request in flight, if any, is handed out again with its outputs dropped.
        ``peer_alive`` is asked before a request that came in during the long-poll is
        handed out: a DApp that died while it waited must not take an input with it. (One
        that finds a request queued has only just sent its call, so it is not asked.)
        """
        if not restart and status not in ("accept", "reject"):
            raise HostError(f"status: expected 'accept' or 'reject', got {status!r}")
        timeout = self.config.finish_timeout if timeout is None else timeout
        with self._cond:
            if self._current is not None:
                if restart:
                    self._current.discard_outputs(keep_reports=False)
                    self._current.exception = None
                    return self._current
                self._complete(ACCEPTED if status == "accept" else REJECTED)
            waited = not self._queue
            # After an exception the application is halted, as a node halts it: nothing
            # more is handed to the DApp (its /finish answers 202 from then on).
            self._long_polls += 1
            try:
                self._cond.wait_for(lambda: (self._queue and self._halted is None)
                                    or self._closed, timeout)
            finally:
                self._long_polls -= 1
            if self._closed or not self._queue or self._halted is not None:
                return None
            if waited and peer_alive is not None and not peer_alive():
                return None
            request = self._queue.popleft()
            request.status = PROCESSING
            if request.kind == INSPECT:
                request.processed_input_count = len(self._finished)
            self._current = request
            return request

    def add_notice(self, payload: str) -> int:
        """Record a notice for the advance in flight; return its output index."""
        data = from_hex(payload)
        with self._cond:
            request = self._require_current("notice", advance_only=True)
            index = self._output_index(request, request.notices)
            request.notices.append({"index": index, "payload": to_hex(data)})
            return index

    def add_voucher(self, destination: str, payload: str, value: str | None = None) -> int:
        """Record a voucher for the advance in flight; return its output index."""
        destination = normalize_address(destination, "destination")
        data = from_hex(payload)
        voucher: dict[str, Any] = {"destination": destination}
        if self.config.rollups == "v2":
            voucher["value"] = check_voucher_value(value)
        voucher["payload"] = to_hex(data)
        with self._cond:
            request = self._require_current("voucher", advance_only=True)
            index = self._output_index(request, request.vouchers)
            request.vouchers.append({"index": index, **voucher})
            return index

    def add_report(self, payload: str) -> None:
        """Record a report for the request in flight (advance or inspect)."""
        data = from_hex(payload)
        with self._cond:
            request = self._require_current("report", advance_only=False)
            request.reports.append({"payload": to_hex(data)})

    def add_exception(self, payload: str) -> None:
        """The DApp gave up on the request in flight: finish it like a reject.

        During an advance this halts the application, as a Cartesi node does: no further
        input or inspect is processed (they stay queued, status ``NONE`` over the node
        JSON-RPC) and the host says why on stderr, ``/dev/status`` and the RPC's
        application ``status``/``reason``. An exception in an inspect ends that inspect only.
        """
        data = from_hex(payload)
        with self._cond:
            request = self._require_current("exception", advance_only=False)
            request.exception = to_hex(data)
            if request.kind == ADVANCE:
                self._halted = halted_reason(request)
                print(f"rollup host: {self._halted}", file=sys.stderr, flush=True)
            self._complete(EXCEPTION)

    def _require_current(self, what: str, advance_only: bool) -> HostRequest:
        request = self._current
        if request is None:
            raise HostError(f"no request in flight: cannot accept a {what}")
        if advance_only and request.kind != ADVANCE:
            raise HostError(f"a {what} is not allowed while processing an inspect")
        return request

    def _output_index(self, request: HostRequest, same_kind: list[Any]) -> int:
        if self.config.rollups == "v1":
            return len(same_kind)
        return self._output_count + len(request.notices) + len(request.vouchers)

    def _complete(self, status: str) -> None:
        """Finalize the request in flight (caller holds the lock) and wake waiters."""
        request = self._current
        assert request is not None
        if status != ACCEPTED:
            request.discard_outputs(keep_reports=True)
        request.status = status
        if request.kind == ADVANCE:
            if self.config.rollups == "v2":
                self._output_count += len(request.notices) + len(request.vouchers)
            self._finished.append(request)
            self._record({"done": request.input_index, "status": status, "notices": request.notices,
                          "vouchers": request.vouchers, "reports": request.reports,
                          "exception": request.exception})
        self._current = None
        self._cond.notify_all()

    # -------------------------------------------------------------- developer side

    def enqueue_advance(self, payload: bytes, sender: str | None = None,
                        block: int | None = None,
                        metadata: dict[str, Any] | None = None,
                        reference: dict[str, Any] | None = None) -> HostRequest:
        """Queue an advance input, building its metadata unless one is given verbatim.

        A verbatim ``metadata`` (from the L1 bridge) must carry this host's next
        ``input_index`` if it carries one at all, so proofs built from ``/dev/outputs``
        refer to the same inputs the chain has.
        """
        with self._cond:
            self._check_open()
            index = self._next_input_index
            if metadata is not None:
                if not isinstance(metadata, dict):
                    raise InvalidField("metadata", metadata, "a metadata object")
                metadata = dict(metadata)
                given = metadata.setdefault("input_index", index)
                if given != index:
                    raise HostError(f"metadata.input_index is {given!r}, host expects {index}")
                number = metadata.get("block_number")
                if isinstance(number, int) and not isinstance(number, bool):
                    self._block = max(self._block, number)
            else:
                if sender is None:
                    raise InvalidField("sender", sender, "0x-prefixed 20-byte hex address")
                sender = normalize_address(sender, "sender")
                number = self._use_block(block)
                metadata = self._metadata(sender, number, index)
            request = HostRequest(ADVANCE, payload, metadata=metadata, input_index=index,
                                  block_number=metadata.get("block_number"),
                                  reference=reference)
            event = {"input": index, "metadata": metadata, "payload": to_hex(payload)}
            if reference is not None:
                event["reference"] = reference
            self._record(event)
            self._next_input_index += 1
            self._queue.append(request)
            self._cond.notify_all()
            return request

    def enqueue_deposit(self, token: str, sender: str, amount: int,
                        exec_layer_data: bytes = b"", block: int | None = None) -> HostRequest:
        """Queue an ERC-20 portal deposit exactly as the portal would send it."""
        payload = erc20_deposit_payload(token, sender, amount, exec_layer_data,
                                        self.config.rollups)
        return self.enqueue_advance(payload, sender=self.config.portal, block=block)

    def enqueue_inspect(self, payload: bytes) -> HostRequest:
        """Queue an inspect request behind whatever is already queued."""
        with self._cond:
            self._check_open()
            if self._halted is not None:
                raise HostError(self._halted, status=503)
            request = HostRequest(INSPECT, payload)
            self._queue.append(request)
            self._cond.notify_all()
            return request

    def wait(self, request: HostRequest, timeout: float | None = None) -> bool:
        """Block until ``request`` is finished; ``False`` on timeout or shutdown.

        A timed-out inspect still waiting in the queue is withdrawn: nobody is left to
        read its answer. A timed-out advance stays queued (it is an input, not a query).
        """
        timeout = self.config.wait_timeout if timeout is None else timeout
        with self._cond:
            done = self._cond.wait_for(
                lambda: request.status in FINAL_STATUSES or self._closed
                or (self._halted is not None and request.status == QUEUED), timeout)
            finished = request.status in FINAL_STATUSES
            if not finished and request.kind == INSPECT and request.status == QUEUED:
                self._queue.remove(request)
            return bool(done) and finished

    def mine(self, blocks: int = 1) -> int:
        """Advance the block number by ``blocks``; return the new block number."""
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
            raise InvalidField("blocks", blocks, "non-negative integer")
        with self._cond:
            self._block += blocks
            if blocks:
                self._record({"block": self._block})
            return self._block

    @property
    def block_number(self) -> int:
        with self._cond:
            return self._block

    def outputs(self, start: int = 0) -> list[dict[str, Any]]:
        """Finished advance inputs with ``input_index >= start``, with their outputs."""
        with self._cond:
            return [r.result_json() for r in self._finished if r.input_index >= start]

    def status(self) -> dict[str, Any]:
        """A snapshot for humans and health checks."""
        with self._cond:
            current = self._current
            return {
                "rollups": self.config.rollups,
                "block_number": self._block,
                "queued": len(self._queue),
                "in_flight": None if current is None else {
                    "kind": current.kind, "input_index": current.input_index},
                "processed_input_count": len(self._finished),
                "output_count": self._output_count,
                "long_polls": self._long_polls,
                "app_contract": self.config.app,
                "portal": self.config.portal,
                "chain_id": self.config.chain_id,
                "halted": self._halted,
            }

    def node_snapshot(self) -> tuple[list[HostRequest], list[HostRequest], int, str | None]:
        """For the node JSON-RPC: finished inputs (index order; they no longer change),
        the inputs not finished yet (in flight, then queued), the block, why halted."""
        with self._cond:
            current = [self._current] if (self._current is not None
                                          and self._current.kind == ADVANCE) else []
            pending = current + [r for r in self._queue if r.kind == ADVANCE]
            return list(self._finished), pending, self._block, self._halted

    @property
    def halted(self) -> str | None:
        """Why the application stopped processing (after an exception), else None."""
        with self._cond:
            return self._halted

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake every long-poll and waiter so threads end promptly on shutdown."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            if self._chain is not None:
                self._chain.close()
                self._chain = None

    # ------------------------------------------------------------- the kept chain

    def chain_header(self) -> dict[str, Any]:
        """What shapes the inputs: a kept chain is only valid under the same values."""
        cfg = self.config
        return {"rollups": cfg.rollups, "portal": cfg.portal, "app": cfg.app, "chain_id": cfg.chain_id}

    def resume_points(self) -> tuple[HostRequest | None, HostRequest | None]:
        """(the last accepted input, the first one not finished): the DApp's database
        must have committed one of the two last, or none if both are None."""
        with self._cond:
            accepted = [r for r in self._finished if r.status == ACCEPTED]
            pending = [r for r in self._queue if r.kind == ADVANCE]
            return (accepted[-1] if accepted else None), (pending[0] if pending else None)

    def _record(self, event: dict[str, Any]) -> None:
        if self._chain is not None:
            self._chain.append(event)

    def _restore(self, events: list[dict[str, Any]]) -> None:
        """Rebuild the inputs, their outcomes and the block from the kept chain; inputs
        not finished (queued or in flight when the host stopped) are queued again."""
        inputs: dict[int, HostRequest] = {}
        for event in events:
            if "input" in event:
                meta = event["metadata"]
                request = HostRequest(ADVANCE, from_hex(event["payload"]), metadata=meta,
                                      input_index=event["input"], block_number=meta.get("block_number"),
                                      reference=event.get("reference"))
                inputs[request.input_index] = request
                if isinstance(request.block_number, int):
                    self._block = max(self._block, request.block_number)
            elif "done" in event:
                request = inputs[event["done"]]
                request.status = event["status"]
                request.notices, request.vouchers = event["notices"], event["vouchers"]
                request.reports, request.exception = event["reports"], event["exception"]
                self._finished.append(request)
                if self.config.rollups == "v2":
                    self._output_count += len(request.notices) + len(request.vouchers)
            else:
                self._block = max(self._block, event["block"])
        self._next_input_index = len(inputs)
        self._queue.extend(r for r in inputs.values() if r.status == QUEUED)
        broke = next((r for r in self._finished if r.status == EXCEPTION), None)
        if broke is not None:  # a node keeps a failed application failed across restarts
            self._halted = halted_reason(broke)

    def _check_open(self) -> None:
        if self._closed:
            raise HostError("host is shutting down", status=503)

    def _use_block(self, block: int | None) -> int:
        if block is None:
            return self._block
        if isinstance(block, bool) or not isinstance(block, int) or block < self._block:
            raise InvalidField("block", block, f"integer >= current block {self._block}")
        self._block = block
        return block

    def _metadata(self, sender: str, block: int, index: int) -> dict[str, Any]:
        if self.config.rollups == "v1":
            return {
                "msg_sender": sender,
                "epoch_index": 0,
                "input_index": index,
                "block_number": block,
                "timestamp": block_timestamp(block),
            }
        return {
            "chain_id": self.config.chain_id,
            "app_contract": self.config.app,
            "msg_sender": sender,
            "block_number": block,
            "block_timestamp": block_timestamp(block),
            "prev_randao": prev_randao(block),
            "input_index": index,
        }


# ------------------------------------------------------------------------- HTTP

# A header line the ``email`` parser would read as one plain field: a name of visible
# characters other than ":", a value with no CR or LF inside; leading blanks are not kept.
_PLAIN_HEADER = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")  # on ISO-8859-1 text
_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps(..., separators=) builds one per call
_MAX_LINE = 65536  # http.client's limits, so the same requests are refused
_MAX_HEADERS = 100
# A DApp's call as dapp.py and the usual HTTP clients send it: POST to a rollup route,
# HTTP/1.1, plain CRLF header lines (at most 99, as read_headers allows), a blank line.
_DAPP_CALL = re.compile(
    rb"POST (/finish|/notice|/voucher|/report|/exception) HTTP/1\.1\r\n"
    rb"((?:[!-9;-~]+:[ \t]*[^\r\n]*\r\n){0,99})\r\n"
)


class PlainHeaders:
    """The header lines of a request when every one is a plain ``Name: value``: read as
    ``http.client.HTTPMessage`` reads them (``get`` ignores case and gives the first
    line of a name, ``items`` keeps every line in order), without building an ``email``
    message, which costs more than all the rest of a small request."""

    __slots__ = ("_lines", "_first")

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self._lines = lines
        self._first: dict[str, str] = {}
        for name, value in lines:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    @classmethod
    def decoded(cls, block: bytes) -> PlainHeaders:
        """From plain header lines as read off the wire, decoded at once as ISO-8859-1
        (as http.client decodes them)."""
        return cls(_PLAIN_HEADER.findall(block.decode("iso-8859-1")))


def read_headers(rfile: Any, message_class: type) -> PlainHeaders | http.client.HTTPMessage:
    """``http.client.parse_headers`` with a fast path: the same lines read under the same
    limits (raising the same errors); when every line is a plain ``Name: value`` they
    are kept as ``PlainHeaders``. Anything else (folded lines, stray CRs, lines without
    a name) goes to the ``email`` parser, so what a name reads as never differs."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    fields = [_PLAIN_HEADER.fullmatch(line.decode("iso-8859-1")) for line in lines[:-1]]
    if not all(fields):
        return email.parser.Parser(_class=message_class).parsestr(b"".join(lines).decode("iso-8859-1"))
    return PlainHeaders([(m[1], m[2]) for m in fields])


class Handler(BaseHTTPRequestHandler):
    """Maps HTTP onto ``HostState``. One instance per connection (keep-alive)."""

    protocol_version = "HTTP/1.1"  # keep-alive: one TCP connection per client
    wbufsize = -1  # buffered: headers and body leave in one segment on flush
    server: RollupHostServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        """Serve this connection's requests until it closes.

        A DApp makes two or three calls per input and waits for each answer, so the host's
        own cost per call is a large share of an input's time, and the stdlib reads a
        request line by line (request line, each header, the body). A call that already
        sits whole in the read buffer, in the shape of ``_DAPP_CALL``, is taken in one read
        instead; anything else (another route or method, a header line that is not plain,
        a body still on its way) goes through the stdlib's ``handle_one_request``, which
        reads the same buffer. Both end in ``_route``. With a DApp that does nothing but
        answer, on one core: 2,827 -> 3,229 inputs/s (medians of five interleaved runs).
        """
        self.close_connection = True
        while True:
            if not self._buffered_call():
                self.handle_one_request()
            # A stopped host answers every long-poll at once; keeping the connection would
            # let a client that polls in a loop spin on it: close it after the answer.
            if self.close_connection or self.server.host.closed:
                return

    def _buffered_call(self) -> bool:
        """Answer the next request if it is a whole DApp call in the buffer; False (with
        nothing read) otherwise."""
        data = self.rfile.peek()  # waits for the first bytes, as readline would
        head = _DAPP_CALL.match(data)
        if head is None:
            return False
        headers = PlainHeaders.decoded(head[2])
        length = headers.get("Content-Length", "")
        if (not (length.isascii() and length.isdigit()) or headers.get("Transfer-Encoding") is not None
                or headers.get("Expect") is not None):
            return False
        end = head.end() + int(length)
        if end > len(data):
            return False
        self.rfile.read(end)
        self.raw_requestline = data[:data.index(b"\n") + 1]
        self.requestline = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        self.command, self.path, self.request_version = "POST", head[1].decode("ascii"), "HTTP/1.1"
        self.headers = headers
        self.close_connection = headers.get("Connection", "").lower() == "close"
        self._body = data[head.end():end]
        self._route(functools.partial(_POST_ROUTES[self.path], self), self.path)
        self.wfile.flush()
        return True

    def parse_request(self) -> bool:
        """The stdlib's ``parse_request`` for a plain ``METHOD path HTTP/1.1`` line, with
        the headers read by ``read_headers``; any other request line goes to the stdlib."""
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if len(words) != 3 or words[2] != "HTTP/1.1":
            return super().parse_request()
        self.requestline = requestline
        self.command, path, self.request_version = words
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path  # as the stdlib
        self.close_connection = False
        try:
            self.headers = read_headers(self.rfile, self.MessageClass)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
        if self.headers.get("Expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        if self.server.host.config.verbose:
            super().log_message(format, *args)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        super().log_message(format, *args)  # errors are always shown

    def handle_expect_100(self) -> bool:
        """Send ``100 Continue`` now: with a buffered ``wfile`` it would otherwise wait
        in the buffer and clients such as curl would stall a second before the body."""
        ok = super().handle_expect_100()
        self.wfile.flush()
        return ok

    # -- plumbing

    def _send(self, status: int, body: Any = None, raw: bytes | None = None,
              headers: str = "") -> None:
        """Status line, headers and body in one write (no Server/Date: fewer bytes, no
        clock), formatted at once rather than header by header: this runs two or three
        times per input."""
        data = raw if raw is not None else (b"" if body is None else _JSON.encode(body).encode())
        if self.server.host.config.verbose:
            self.log_request(status, len(data))
        if self.request_version == "HTTP/0.9":  # no status line nor headers in 0.9
            self.wfile.write(data)
            return
        kind = "Content-Type: application/json\r\n" if data else ""
        head = (f"{_STATUS_LINES.get(status) or f'HTTP/1.1 {status} '}\r\n{kind}{headers}"
                f"Content-Length: {len(data)}\r\n\r\n")
        self.wfile.flush()  # nothing is buffered here, but order must hold if it ever is
        self.connection.sendall(head.encode("latin-1") + data)

    def _read_body(self) -> bytes:
        """Read the whole body up front, even for requests we will refuse: bytes left
        unread would be parsed as the next request on this keep-alive connection."""
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise HostError("bad Content-Length") from None
        return self.rfile.read(size)

    def _json_body(self) -> dict[str, Any]:
        raw = self._body
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise HostError("body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HostError("body must be a JSON object")
        return body

    def _dispatch(self, routes: dict[str, Callable[[Handler], None]]) -> None:
        path = self.path
        if "?" in path or "#" in path:
            path = urlsplit(path).path
        self._route(lambda: self._find_route(routes, path), path)

    def _find_route(self, routes: dict[str, Callable[[Handler], None]], path: str) -> None:
        self._body = self._read_body()
        if path.startswith("/inspect/") and self.command == "POST":
            self._node_inspect(path[len("/inspect/"):])
            return
        if path == "/inspect" or path.startswith("/inspect/"):
            self._inspect_route()
            return
        handler = routes.get(path)
        if handler is None:
            web = self.server.web  # the page's routes (rollup_host/web.py), if attached
            if web is not None and (web.post(self, path, self._body, CORS_HEADERS)
                                    if self.command == "POST" else web.get(self, path)):
                return
            raise HostError(f"no route {self.command} {path}", status=404)
        handler(self)

    def _route(self, run: Callable[[], None], path: str) -> None:
        """Run a route and answer any error it raises."""
        try:
            run()
        except InvalidField as exc:
            self._send(400, {"error": str(exc)})
        except HostError as exc:
            cors = CORS_HEADERS if path.startswith(("/rpc", "/inspect/", "/anvil")) else ""
            self._send(exc.status, {"error": str(exc)}, headers=cors)
        except ConnectionError:  # the peer went away (e.g. a killed DApp mid long-poll)
            self.close_connection = True
        except Exception as exc:  # a host bug must not kill the connection silently
            self.log_error("internal error on %s %s: %r", self.command, path, exc)
            try:
                self._send(500, {"error": f"internal error: {exc!r}"})
            except ConnectionError:
                self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        self._dispatch(_POST_ROUTES)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(_GET_ROUTES)

    def do_OPTIONS(self) -> None:  # noqa: N802
        """CORS preflight of a browser frontend: allowed for the node API (/rpc and
        /inspect/<app>) and the L1 proxy (/anvil) only, so a web page cannot send JSON to /dev/* or the DApp's routes."""
        self._body = self._read_body()
        path = urlsplit(self.path).path
        self._send(204, headers=CORS_HEADERS if path in ("/rpc", "/anvil") or path.startswith("/inspect/")
                   else "")

    @property
    def host(self) -> HostState:
        return self.server.host

    # -- rollup side

    def _peer_alive(self) -> bool:
        """Peek at the socket without blocking: EOF or an error means the DApp left."""
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True  # nothing to read: connection open, peer waiting
        except OSError:
            return False

    def _finish(self) -> None:
        restart = self.headers.get(RESTART_HEADER, "").strip() == "1"
        raw = self._body
        status = None
        if not restart:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise HostError("body is not valid JSON") from None
            status = body.get("status") if isinstance(body, dict) else None
        request = self.host.finish(status, restart=restart, peer_alive=self._peer_alive)
        if request is None:
            self._send(202)
        else:
            self._send(200, request.rollup_json())

    def _notice(self) -> None:
        body = self._json_body()
        self._send(201, {"index": self.host.add_notice(body.get("payload"))})

    def _voucher(self) -> None:
        body = self._json_body()
        index = self.host.add_voucher(body.get("destination"), body.get("payload"),
                                      body.get("value"))
        self._send(201, {"index": index})

    def _report(self) -> None:
        self.host.add_report(self._json_body().get("payload"))
        self._send(201, {})

    def _exception(self) -> None:
        self.host.add_exception(self._json_body().get("payload"))
        self._send(200, {})

    # -- developer side

    def _wait_and_answer(self, request: HostRequest, body: dict[str, Any]) -> None:
        if body.get("wait", True) is False:
            self._send(202, {"input_index": request.input_index, "status": request.status,
                             "block_number": request.block_number})
            return
        timeout = body.get("timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float))):
            raise InvalidField("timeout", timeout, "number of seconds")
        if not self.host.wait(request, timeout):
            if self.host.closed:
                raise HostError("host is shutting down", status=503)
            if self.host.halted is not None:
                self._send(503, {"error": self.host.halted, "input_index": request.input_index,
                                 "status": request.status})
                return
            self._send(504, {"error": "timed out waiting for the DApp",
                             "input_index": request.input_index, "status": request.status})
            return
        self._send(200, request.result_json())

    def _dev_advance(self) -> None:
        body = self._json_body()
        payload = from_hex(body.get("payload", "0x"))
        block = body.get("block")
        metadata = body.get("metadata")
        request = self.host.enqueue_advance(payload, sender=body.get("sender"),
                                            block=block, metadata=metadata,
                                            reference=input_reference(body))
        self._wait_and_answer(request, body)

    def _dev_deposit(self) -> None:
        body = self._json_body()
        request = self.host.enqueue_deposit(
            body.get("token"), body.get("sender"), parse_uint256(body.get("amount")),
            from_hex(body.get("exec_layer_data", "0x"), "exec_layer_data"),
            block=body.get("block"))
        self._wait_and_answer(request, body)

    def _dev_inspect(self) -> None:
        body = self._json_body()
        request = self.host.enqueue_inspect(from_hex(body.get("payload", "0x")))
        self._wait_and_answer(request, body)

    def _inspect_route(self) -> None:
        """v1 ``GET /inspect/<path>`` (URL-decoded path bytes, query string included)
        and ``POST /inspect[/<anything>]`` (raw body), as the nodes accept them."""
        if self.command == "GET":
            raw_path = self.path.split("/inspect", 1)[1]
            payload = unquote_to_bytes(raw_path[1:] if raw_path.startswith("/") else raw_path)
        else:
            payload = self._body
        request = self.host.enqueue_inspect(payload)
        self._wait_and_answer(request, {})

    def _node_inspect(self, ident: str) -> None:
        """``POST /inspect/<application name or address>`` as a Rollups v2 node answers."""
        ident = unquote(ident)
        if not self.host.config.names_application(ident):
            raise HostError(f"application {ident!r} not found: this host runs "
                            f"{self.host.config.name!r} at {self.host.config.app}", status=404)
        if len(self._body) > MAX_INSPECT_BODY:
            raise HostError(f"inspect payload of {len(self._body)} bytes: the node takes at "
                            f"most {MAX_INSPECT_BODY}", status=413)
        request = self.host.enqueue_inspect(self._body)
        if not self.host.wait(request):
            if self.host.halted is not None:
                raise HostError(self.host.halted, status=503)
            raise HostError("timed out waiting for the DApp", status=503)
        self._send(200, node_inspect_answer(request), headers=CORS_HEADERS)

    def _rpc(self) -> None:
        """``POST /rpc``: the node's JSON-RPC API (rollup_host/rpc.py)."""
        if self.host.config.rollups != "v2":
            raise HostError("the node JSON-RPC at /rpc is a Rollups v2 API; this host runs "
                            "v1 (start it with --rollups v2)", status=404)
        status, data = self.server.node.handle(self._body)
        self._send(status, raw=data, headers=CORS_HEADERS)

    def _dev_claim(self) -> None:
        """The bridge reports a claim accepted on L1: proofs become available."""
        body = self._json_body()
        self._send(200, self.server.node.add_claim(
            body.get("last_block"), body.get("outputs_merkle_root"),
            body.get("output_count"), body.get("transaction_hash")))

    def _dev_executed(self) -> None:
        """The bridge reports a voucher executed on L1 (``OutputExecuted``)."""
        body = self._json_body()
        self._send(200, self.server.node.add_execution(body.get("output_index"),
                                                       body.get("transaction_hash")))

    def _dev_mine(self) -> None:
        body = self._json_body()
        self._send(200, {"block_number": self.host.mine(body.get("blocks", 1))})

    def _dev_block(self) -> None:
        self._send(200, {"block_number": self.host.block_number})

    def _dev_outputs(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        raw = query.get("from", ["0"])[0]
        if not raw.isdigit():
            raise InvalidField("from", raw, "non-negative integer")
        self._send(200, self.host.outputs(int(raw)))

    def _dev_status(self) -> None:
        self._send(200, self.host.status())


_POST_ROUTES: dict[str, Callable[[Handler], None]] = {
    "/finish": Handler._finish,
    "/notice": Handler._notice,
    "/voucher": Handler._voucher,
    "/report": Handler._report,
    "/exception": Handler._exception,
    "/dev/advance": Handler._dev_advance,
    "/dev/deposit": Handler._dev_deposit,
    "/dev/inspect": Handler._dev_inspect,
    "/dev/mine": Handler._dev_mine,
    "/dev/claim": Handler._dev_claim,
    "/dev/executed": Handler._dev_executed,
    "/rpc": Handler._rpc,
}
_GET_ROUTES: dict[str, Callable[[Handler], None]] = {
    "/dev/block": Handler._dev_block,
    "/dev/outputs": Handler._dev_outputs,
    "/dev/status": Handler._dev_status,
}
_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}" for status in HTTPStatus}


def halted_reason(request: HostRequest) -> str:
    """Why the application stopped: the advance whose DApp posted ``/exception``."""
    return (f"the DApp raised an exception on input {request.input_index} "
            f"(payload {(request.exception or '0x')[:130]}); the application is halted and "
            "processes no further input or inspect, as a Cartesi node stops it: fix the DApp "
            "and start the host on a new chain")


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


class RollupHostServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that owns one ``HostState``.

    One thread per connection: the DApp's long-poll on ``/finish`` must not block the
    developer's ``/dev/advance`` that will end it.
    """

    daemon_threads = True
    request_queue_size = 64
    web: WebApp | None = None  # the page's routes, set by rollup_host.web.attach

    def __init__(self, address: tuple[str, int], host: HostState) -> None:
        self.host = host
        self.node = NodeApi(host)  # POST /rpc and /dev/claim
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        addr, port = self.server_address[:2]
        return f"http://{addr}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops its connection; report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def stop(self) -> None:
        """Wake long-polls, stop ``serve_forever`` (if running) and close the socket."""
        self.host.close()
        if getattr(self, "_serving", False):
            self.shutdown()
        self.server_close()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving = True
        try:
            super().serve_forever(poll_interval)
        finally:
            self._serving = False


def make_server(host: str = "127.0.0.1", port: int = 5004,
                **options: Any) -> RollupHostServer:
    """Bind a server (``port=0`` picks a free port); ``options`` are ``HostConfig`` fields."""
    return RollupHostServer((host, port), HostState(HostConfig(**options)))


def serve_in_thread(server: RollupHostServer) -> None:
    """Run ``server`` in a daemon thread; return once it serves, so ``stop()`` can end it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="rollup-host", daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not getattr(server, "_serving", False) and time.monotonic() < deadline:
        time.sleep(0.001)


def start_in_thread(port: int = 0, host: str = "127.0.0.1",
                    **options: Any) -> tuple[RollupHostServer, str]:
    """Start a server in a daemon thread; return it and its base URL.

    For tests and notebooks: call ``server.stop()`` when done.
    """
    server = make_server(host, port, **options)
    serve_in_thread(server)
    return server, server.url
