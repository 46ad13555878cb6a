"""Streaming balances for ERC-20 tokens inside a Cartesi rollup: the domain."""
from streamable_token.errors import (
    InsufficientFunds,
    InvalidInput,
    StreamClosed,
    StreamError,
    Unauthorized,
    UnknownStream,
)
from streamable_token.stream import Status, Stream
from streamable_token.token import MAX_UINT256, Balance, StreamableToken

__all__ = [
    "Balance",
    "InsufficientFunds",
    "InvalidInput",
    "MAX_UINT256",
    "Status",
    "Stream",
    "StreamClosed",
    "StreamError",
    "StreamableToken",
    "Unauthorized",
    "UnknownStream",
]
