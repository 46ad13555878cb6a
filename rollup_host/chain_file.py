"""The local host's chain kept on disk: every input, its outcome and the block number.

A real node never forgets its inputs: they are on L1. Our host keeps them in memory, so
without this file a restarted ``make run`` would start again at block 1 and input 0 while
the DApp's database remembers block 41, and the first command would be refused. With it,
the host goes on where it stopped: same inputs, same outputs and output indices, same
block, and an input that was in flight is queued again for the DApp (which re-emits its
stored outputs if it had committed it).

One JSON object per line, appended and flushed as things happen:

    {"chain": {"rollups", "portal", "app", "chain_id"}}   first line: what shaped the inputs
    {"input": i, "metadata": {...}, "payload": "0x..."}     an advance input was queued
    {"done": i, "status", "notices", "vouchers", "reports", "exception"}   it was finished
    {"block": n}                                            blocks were mined

A line cut short by a crash (no newline at the end) is ignored on load: the event it was
writing had not been acknowledged to anyone.

``ChainFile`` reads and appends the lines; ``replay`` turns the events read back into the
host's inputs, their outcomes and the block, with no file and no lock involved.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import IO, Any

from .codec import from_hex
from .model import ADVANCE, HostRequest

_LINE = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


class ChainMismatch(ValueError):
    """The kept chain was made with another configuration than the host's."""


class ChainFile:
    """Append-only log of the host's chain at ``path`` (created on first write)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def load(self, header: dict[str, Any]) -> list[dict[str, Any]]:
        """The events kept so far, after checking they were made under ``header``.

        A new or empty file gets ``header`` as its first line; a torn last line is cut off
        so that the next event starts on a line of its own."""
        events, kept = [], 0
        if os.path.exists(self.path):
            with open(self.path, "rb") as fh:
                for line in fh:
                    if not line.endswith(b"\n"):
                        break  # torn by a crash mid-write
                    events.append(json.loads(line))
                    kept += len(line)
        kept_header = events[0].get("chain", {}) if events else header
        if kept_header != header:
            differ = ", ".join(f"{key} {kept_header.get(key)} (now {value})"
                               for key, value in sorted(header.items()) if kept_header.get(key) != value)
            raise ChainMismatch(f"the chain kept in {self.path} was made with {differ}; start over with "
                                f"`make reset` (or delete that file and the DApp's database)")
        self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.truncate(kept)
        if not events:
            self.append({"chain": header})
        return events[1:]

    def append(self, event: dict[str, Any]) -> None:
        assert self._fh is not None, "load() first"
        self._fh.write(_LINE.encode(event) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class KeptChain:
    """What a kept chain holds once replayed: every input in index order (those never
    finished still ``queued``), the finished ones in the order they finished, and the
    highest block number it mentions (0 if none)."""

    inputs: list[HostRequest]
    finished: list[HostRequest]
    block: int


def replay(events: list[dict[str, Any]]) -> KeptChain:
    """Rebuild the inputs, their outcomes and the block from the events of ``ChainFile.load``."""
    inputs: dict[int, HostRequest] = {}
    finished: list[HostRequest] = []
    block = 0
    for event in events:
        if "input" in event:
            meta = event["metadata"]
            request = HostRequest(ADVANCE, from_hex(event["payload"]), metadata=meta,
                                  input_index=event["input"], block_number=meta.get("block_number"),
                                  reference=event.get("reference"))
            inputs[request.input_index] = request
            if isinstance(request.block_number, int):
                block = max(block, request.block_number)
        elif "done" in event:
            request = inputs[event["done"]]
            request.status = event["status"]
            request.notices, request.vouchers = event["notices"], event["vouchers"]
            request.reports, request.exception = event["reports"], event["exception"]
            finished.append(request)
        else:
            block = max(block, event["block"])
    return KeptChain(list(inputs.values()), finished, block)
