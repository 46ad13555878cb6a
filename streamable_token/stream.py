"""A stream and its life: how much it has paid at any block, and which state it is in."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from streamable_token.schedule import segment_streamed


class Status(str, Enum):
    """Moves only forward: PENDING -> STREAMING -> SETTLED, or to CANCELED before the end."""

    PENDING = "pending"
    STREAMING = "streaming"
    SETTLED = "settled"
    CANCELED = "canceled"


@dataclass(frozen=True)
class Stream:
    """``amount`` of ``token`` from ``sender`` to ``receiver`` over [start_block, end_block).

    The current rate applies from ``seg_start``; ``streamed_before`` is what was paid before
    it (non-zero only after an update, which re-spreads what is left from the update block).
    A canceled stream pays nothing after ``canceled_block``.
    """

    id: int
    token: str
    sender: str
    receiver: str
    amount: int
    start_block: int
    end_block: int
    opened_block: int
    seg_start: int
    rate: int
    remainder: int
    streamed_before: int
    canceled_block: Optional[int]
    # where the stream's rows are (set when loaded from the database; not part of its value)
    token_id: int = field(default=0, compare=False, repr=False)
    sender_id: int = field(default=0, compare=False, repr=False)
    receiver_id: int = field(default=0, compare=False, repr=False)

    @property
    def duration(self) -> int:
        return self.end_block - self.start_block

    def streamed_at(self, block: int) -> int:
        """What the receiver has been paid by ``block`` (exact, never above amount)."""
        if self.canceled_block is not None:
            block = min(block, self.canceled_block)
        return self.streamed_before + segment_streamed(
            self.seg_start, self.end_block, self.rate, self.remainder, block
        )

    def status_at(self, block: int) -> Status:
        if self.canceled_block is not None and block >= self.canceled_block:
            return Status.CANCELED
        if block < self.start_block:
            return Status.PENDING
        if block < self.end_block:
            return Status.STREAMING
        return Status.SETTLED

    def to_json(self, block: int) -> dict:
        """The stream as notices and inspects show it at ``block`` (amounts as strings)."""
        return {
            "id": self.id,
            "token": self.token,
            "sender": self.sender,
            "receiver": self.receiver,
            "amount": str(self.amount),
            "start_block": self.start_block,
            "end_block": self.end_block,
            "duration": self.duration,
            "rate": str(self.rate),
            "remainder": str(self.remainder),
            "canceled_block": self.canceled_block,
            "status": self.status_at(block).value,
            "streamed": str(self.streamed_at(block)),
            "block": block,
        }
