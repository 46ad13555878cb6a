"""What the local host is made of, without threads or HTTP: its configuration, one
request (advance or inspect) and its outcome, and the error the handler answers.

``HostConfig`` is fixed for a server's life; ``HostRequest`` is one queued input or
inspect with the outputs the DApp posted for it; ``HostError`` carries the HTTP status
a refusal is answered with. ``rollup_host.state.HostState`` moves requests through their
statuses (``QUEUED`` -> ``PROCESSING`` -> one of ``FINAL_STATUSES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamable_token.constants import PORTALS

from .codec import (
    DEFAULT_APP_ADDRESS,
    DEFAULT_APP_NAME,
    DEFAULT_CHAIN_ID,
    DEFAULT_INPUT_BOX,
    check_node_fields,
    normalize_address,
    to_hex,
)

__all__ = [
    "ACCEPTED",
    "ADVANCE",
    "EXCEPTION",
    "FINAL_STATUSES",
    "INSPECT",
    "PROCESSING",
    "QUEUED",
    "REJECTED",
    "HostConfig",
    "HostError",
    "HostRequest",
    "halted_reason",
]

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


def halted_reason(request: HostRequest) -> str:
    """Why the application stopped: the advance whose DApp posted ``/exception``."""
    return (f"the DApp raised an exception on input {request.input_index} "
            f"(payload {(request.exception or '0x')[:130]}); the application is halted and "
            "processes no further input or inspect, as a Cartesi node stops it: fix the DApp "
            "and start the host on a new chain")
