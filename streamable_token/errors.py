"""One exception tree for the package, so the router can turn any refusal into one report.

Callers catch :class:`StreamError`; tests assert the leaf. Every message names the field,
the value that was given and what was expected, so a user can fix the input without
reading the code.
"""
from __future__ import annotations

from typing import Any


class StreamError(Exception):
    """Base of every refusal raised by the engine. A refused call changes nothing."""


class InvalidInput(StreamError):
    """A field has a value the engine cannot accept."""

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field, self.value, self.expected = field, value, expected
        # ascii(), not repr(): repr shows a character raw or escaped by whether the running
        # Python's Unicode database calls it printable (U+1FAE8 is escaped on 3.11, raw on
        # 3.13), so the same refusal would read differently in CI and in the machine.
        super().__init__(f"invalid {field}: got {ascii(value)}, expected {expected}")

    @classmethod
    def missing(cls, field: str, why: str) -> "InvalidInput":
        """A required field that is absent: said as such, not as a value of None."""
        err = cls(field, None, why)
        err.args = (f"missing field {field!r}: {why}",)
        return err


class Unauthorized(StreamError):
    """The caller is not allowed to act on this object."""


class InsufficientFunds(StreamError):
    """The account's available balance does not cover the amount."""

    def __init__(self, account: str, needed: int, available: int, block: int, token: str | None = None) -> None:
        self.account, self.needed, self.available, self.block = account, needed, available, block
        self.token = token
        of = "" if token is None else f" of token {token}"
        super().__init__(
            f"insufficient funds: {account} has {available}{of} available at block {block}, needs {needed}"
        )


class InsufficientAllowance(StreamError):
    """The spender's allowance from the owner does not cover the amount."""

    def __init__(self, owner: str, spender: str, needed: int, allowance: int, token: str | None = None) -> None:
        self.owner, self.spender, self.needed, self.allowance = owner, spender, needed, allowance
        self.token = token
        of = "" if token is None else f" of token {token}"
        super().__init__(
            f"insufficient allowance: {owner} allows {spender} {allowance}{of}, needs {needed}"
        )


class UnknownStream(StreamError):
    """No stream with this id exists."""

    def __init__(self, stream_id: Any) -> None:
        self.stream_id = stream_id
        super().__init__(f"unknown stream: no stream with id {stream_id!r}")


class StreamClosed(StreamError):
    """The stream is already canceled or fully streamed, so it can no longer change."""
