"""The rollup's state machine: the input queue, the request in flight, the finished
inputs and their outputs, the block number. It knows nothing of HTTP; every method takes
and returns plain Python values and is guarded by one ``threading.Condition``, so the
DApp's long-poll and the developer's waiting calls wake each other.

Local-host extension (not part of Cartesi's API): ``finish(..., restart=True)`` (a
``POST /finish`` with ``X-Rollup-Restart: 1``) ignores its status, drops the partial
outputs of the input in flight and delivers that same input again (same index, same
metadata). A DApp sends it on its first ``/finish`` after starting, so a crash mid-input
replays the input instead of losing it or half-applying it. Every delivery is an attempt
with an id of its own (``rollup_host.attempts``); a call that echoes another attempt than
the latest is stale and refused, so a late call can never drop or add outputs.
"""

from __future__ import annotations

import collections
import sys
import threading
from typing import Any, Callable

from .attempts import Attempts
from .chain_file import ChainFile, replay
from .codec import (
    InvalidField,
    block_timestamp,
    check_voucher_value,
    erc20_deposit_payload,
    from_hex,
    normalize_address,
    prev_randao,
    to_hex,
)
from .model import (
    ACCEPTED,
    ADVANCE,
    EXCEPTION,
    FINAL_STATUSES,
    INSPECT,
    PROCESSING,
    QUEUED,
    REJECTED,
    HostConfig,
    HostError,
    HostRequest,
    halted_reason,
)

__all__ = ["HostState"]


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
        self._attempts = Attempts()  # which delivery of the request in flight is the latest
        self._chain: ChainFile | None = None
        if self.config.chain_file:
            self._chain = ChainFile(self.config.chain_file)
            self._restore(self._chain.load(self.chain_header()))

    # ----------------------------------------------------------------- rollup side

    def finish(self, status: str | None, restart: bool = False,
               timeout: float | None = None,
               peer_alive: Callable[[], bool] | None = None,
               attempt: str | None = None,
               request_id: str | None = None) -> tuple[HostRequest, str] | None:
        """Close the request in flight with ``status``, then wait for the next one.

        Returns the request now in flight and the id of this delivery of it (its attempt,
        ``rollup_host.attempts``), or ``None`` when nothing arrived within ``timeout`` (the
        HTTP layer answers 202). With ``restart`` the status is ignored and the request in
        flight, if any, is handed out again with its outputs dropped, as a new attempt
        (``request_id``: the restart's own id; a restart answered already is a duplicate).
        ``attempt``: the delivery this call answers; a stale one raises ``StaleCall``
        (409) and changes nothing. ``peer_alive`` is asked before a request that came in
        during the long-poll is handed out: a DApp that died while it waited must not take
        an input with it. (One that finds a request queued has only just sent its call, so
        it is not asked.)
        """
        if not restart and status not in ("accept", "reject"):
            raise HostError(f"status: expected 'accept' or 'reject', got {status!r}")
        timeout = self.config.finish_timeout if timeout is None else timeout
        with self._cond:
            if restart:
                again = self._redeliver(request_id)
                if again is not None:
                    return again
            else:
                self._attempts.check_finish(attempt)
                if self._current is not None:
                    self._complete(ACCEPTED if status == "accept" else REJECTED)
            return self._deliver_next(timeout, peer_alive, request_id)

    def _redeliver(self, request_id: str | None) -> tuple[HostRequest, str] | None:
        """A restart: the request in flight again as a new attempt, its outputs dropped
        (a duplicate restart gets its delivery again, unchanged); None if none is in flight."""
        request = self._current
        again = self._attempts.answered(request_id, in_flight=request is not None)
        if request is None:
            return None
        if again is None:  # a new restart: a new attempt, the outputs posted so far dropped
            request.discard_outputs(keep_reports=False)
            request.exception = None
            again = self._attempts.new(request_id)
        return request, again

    def _deliver_next(self, timeout: float, peer_alive: Callable[[], bool] | None,
                      request_id: str | None) -> tuple[HostRequest, str] | None:
        """Wait for a queued request while none is in flight; hand it out as a new attempt."""
        waited = not self._queue
        # After an exception the application is halted, as a node halts it: nothing
        # more is handed to the DApp (its /finish answers 202 from then on).
        self._long_polls += 1
        try:
            self._cond.wait_for(lambda: (self._queue and self._halted is None
                                         and self._current is None) or self._closed, timeout)
        finally:
            self._long_polls -= 1
        if self._closed or not self._queue or self._halted is not None or self._current is not None:
            return None
        if waited and peer_alive is not None and not peer_alive():
            return None
        self._attempts.answered(request_id, in_flight=False)  # a late duplicate takes nothing
        request = self._queue.popleft()
        request.status = PROCESSING
        if request.kind == INSPECT:
            request.processed_input_count = len(self._finished)
        self._current = request
        return request, self._attempts.new(request_id)

    def add_notice(self, payload: str, attempt: str | None = None) -> int:
        """Record a notice for the advance in flight; return its output index.

        ``attempt`` (every output takes it): the delivery the output belongs to; a stale
        one raises ``StaleCall`` (409) and keeps nothing."""
        data = from_hex(payload)
        with self._cond:
            request = self._require_current("notice", advance_only=True, attempt=attempt)
            index = self._output_index(request, request.notices)
            request.notices.append({"index": index, "payload": to_hex(data)})
            return index

    def add_voucher(self, destination: str, payload: str, value: str | None = None,
                    attempt: str | None = None) -> int:
        """Record a voucher for the advance in flight; return its output index."""
        destination = normalize_address(destination, "destination")
        data = from_hex(payload)
        voucher: dict[str, Any] = {"destination": destination}
        if self.config.rollups == "v2":
            voucher["value"] = check_voucher_value(value)
        voucher["payload"] = to_hex(data)
        with self._cond:
            request = self._require_current("voucher", advance_only=True, attempt=attempt)
            index = self._output_index(request, request.vouchers)
            request.vouchers.append({"index": index, **voucher})
            return index

    def add_report(self, payload: str, attempt: str | None = None) -> None:
        """Record a report for the request in flight (advance or inspect)."""
        data = from_hex(payload)
        with self._cond:
            request = self._require_current("report", advance_only=False, attempt=attempt)
            request.reports.append({"payload": to_hex(data)})

    def add_exception(self, payload: str, attempt: str | None = None) -> None:
        """The DApp gave up on the request in flight: finish it like a reject.

        During an advance this halts the application, as a Cartesi node does: no further
        input or inspect is processed (they stay queued, status ``NONE`` over the node
        JSON-RPC) and the host says why on stderr, ``/dev/status`` and the RPC's
        application ``status``/``reason``. An exception in an inspect ends that inspect only.
        """
        data = from_hex(payload)
        with self._cond:
            request = self._require_current("exception", advance_only=False, attempt=attempt)
            request.exception = to_hex(data)
            if request.kind == ADVANCE:
                self._halted = halted_reason(request)
                print(f"rollup host: {self._halted}", file=sys.stderr, flush=True)
            self._complete(EXCEPTION)

    def _require_current(self, what: str, advance_only: bool,
                         attempt: str | None = None) -> HostRequest:
        self._attempts.check_output(f"/{what}", attempt, in_flight=self._current is not None)
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
        """Take up the kept chain: its inputs, their outcomes and its block; inputs not
        finished (queued or in flight when the host stopped) are queued again."""
        kept = replay(events)
        self._block = max(self._block, kept.block)
        self._finished = kept.finished
        if self.config.rollups == "v2":
            self._output_count = sum(len(r.notices) + len(r.vouchers) for r in kept.finished)
        self._next_input_index = len(kept.inputs)
        self._queue.extend(r for r in kept.inputs if r.status == QUEUED)
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
