"""Streaming balances for ERC-20 tokens inside a Cartesi rollup: the library a DApp embeds.

The public API: :class:`StreamableToken` (the engine), its errors and :class:`Stream`.
The rollup adapter a DApp mounts (op and route tables, the router) is
:mod:`streamable_token.rollup`.
"""

__version__ = "0.2.0"

from streamable_token.errors import (
    InsufficientAllowance,
    InsufficientFunds,
    InvalidInput,
    StreamClosed,
    StreamError,
    Unauthorized,
    UnknownStream,
)
from streamable_token.stream import Status, Stream
from streamable_token.constants import MAX_UINT256
from streamable_token.token import Balance, StreamableToken

__all__ = [
    "__version__",
    "Balance",
    "InsufficientAllowance",
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
