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
"""
from __future__ import annotations

import json
import os
from typing import IO, Any

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
