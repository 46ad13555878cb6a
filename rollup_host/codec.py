"""Byte-level helpers shared by the local host's server, client and CLI.

Everything that crosses the rollup HTTP API is ``0x``-hex; this module is the one place
that checks and converts it, builds the ERC-20 portal deposit payload and decodes the
vouchers a client wants to show. It knows nothing of HTTP or threads, so it is tested
and reused without a server.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from streamable_token.constants import ERC20_TRANSFER_SELECTOR, MAX_UINT256

__all__ = [
    "DEFAULT_APP_ADDRESS",
    "DEFAULT_CHAIN_ID",
    "ERC20_TRANSFER_SELECTOR",
    "GENESIS_TIMESTAMP",
    "SECONDS_PER_BLOCK",
    "InvalidField",
    "block_timestamp",
    "decode_payload",
    "decode_transfer",
    "erc20_deposit_payload",
    "from_hex",
    "normalize_address",
    "parse_uint256",
    "prev_randao",
    "to_hex",
    "to_payload_bytes",
]

DEFAULT_APP_ADDRESS = "0xab7528bb862fB57E8A2BCd567a2e929a0Be56a5e"
DEFAULT_CHAIN_ID = 31337
# The application's name on the node JSON-RPC and in ``/inspect/<name>``.
DEFAULT_APP_NAME = "streamable-token"
# Where the pinned Cartesi CLI (npm @cartesi/cli 2.0.0-alpha.2) sends inputs and
# deposits; ``make l1-up`` puts the contracts there (l1/deploy.py, OFFICIAL_ADDRESSES).
DEFAULT_INPUT_BOX = "0x593E5BCf894D6829Dd26D0810DA7F064406aebB6"
_APP_NAME_RE = re.compile(r"[a-z0-9_-]{3,}")
_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}")

# Inputs must not depend on the wall clock (same inputs -> same state on any machine),
# so the local chain's clock is a pure function of the block number.
GENESIS_TIMESTAMP = 1_700_000_000
SECONDS_PER_BLOCK = 12


_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_VALUE_RE = re.compile(r"0x[0-9a-fA-F]{64}")


class InvalidField(ValueError):
    """A request field has the wrong shape; the server answers it with HTTP 400.

    Carries the field name, the offending value and what was expected so the message
    tells the DApp author exactly which part of the body to fix.
    """

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}: expected {expected}, got {shown}")


def check_node_fields(config: Any) -> None:
    """Check and normalize the node-facing fields of a ``HostConfig`` (name, epoch
    length, InputBox, consensus, template hash, InputBox block); ``ValueError`` names
    the bad one. A name is what the node accepts: 3+ characters in ``[a-z0-9_-]``."""
    if not isinstance(config.name, str) or _APP_NAME_RE.fullmatch(config.name) is None:
        raise ValueError(f"name must be 3+ characters in [a-z0-9_-], got {config.name!r}")
    for attr in ("epoch_length", "input_box_block"):
        value = getattr(config, attr)
        if isinstance(value, bool) or not isinstance(value, int) or value < (attr == "epoch_length"):
            raise ValueError(f"{attr} must be an integer >= {int(attr == 'epoch_length')}, "
                             f"got {value!r}")
    config.input_box = normalize_address(config.input_box, "input_box")
    if config.consensus is not None:
        config.consensus = normalize_address(config.consensus, "consensus")
    if not isinstance(config.template_hash, str) or _HASH_RE.fullmatch(config.template_hash) is None:
        raise ValueError(f"template_hash must be 0x + 64 hex digits, got {config.template_hash!r}")
    config.template_hash = config.template_hash.lower()


def from_hex(value: Any, field: str = "payload") -> bytes:
    """Decode a ``0x``-prefixed, even-length hex string (``"0x"`` is empty bytes).

    Raises ``InvalidField`` for anything else, including non-strings, so a malformed
    DApp output is refused instead of silently stored.
    """
    if isinstance(value, str) and value[:2] == "0x":
        try:
            data = bytes.fromhex(value[2:])
        except ValueError:
            pass
        else:
            # fromhex also skips whitespace between bytes: the length shows there was none.
            # (Six times faster than a pattern on a notice's payload, on every output.)
            if 2 * len(data) == len(value) - 2:
                return data
    raise InvalidField(field, value, "0x-prefixed even-length hex string")


def to_hex(data: bytes) -> str:
    """Encode bytes the way the rollup API does: lowercase, ``0x``-prefixed."""
    return "0x" + bytes(data).hex()


def normalize_address(value: Any, field: str = "address") -> str:
    """Accept a 20-byte address in any letter case; return it checksummed.

    Addresses are compared case-insensitively on input and always shown checksummed,
    so two spellings of one account never look like two accounts.
    """
    if not isinstance(value, str) or _ADDRESS_RE.fullmatch(value) is None:
        raise InvalidField(field, value, "0x-prefixed 20-byte hex address")
    return _checksummed(value.lower())


@functools.lru_cache(maxsize=8192)
def _checksummed(address: str) -> str:
    """EIP-55 through eth_utils costs ~55 us (a keccak and a string walk), paid on every
    queued input and every voucher; the same few accounts come back again and again."""
    return to_checksum_address(address)


def parse_uint256(value: Any, field: str = "amount") -> int:
    """Parse a uint256 given as a decimal string (or a non-negative int).

    Decimal strings are the public format for amounts because JSON numbers lose
    precision above 2**53.
    """
    if isinstance(value, bool):
        raise InvalidField(field, value, "decimal string of a uint256")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise InvalidField(field, value, "decimal string of a uint256")
    if not 0 <= number <= MAX_UINT256:
        raise InvalidField(field, value, "value in [0, 2**256-1]")
    return number


def check_voucher_value(value: Any, field: str = "value") -> str:
    """Check a v2 voucher value (``0x`` + 64 hex digits, big-endian uint256)."""
    if not isinstance(value, str) or _VALUE_RE.fullmatch(value) is None:
        raise InvalidField(field, value, "0x followed by 64 hex digits")
    return value.lower()


def erc20_deposit_payload(
    token: str, sender: str, amount: int, exec_layer_data: bytes = b"", rollups: str = "v2"
) -> bytes:
    """Build the packed payload the ERC20Portal sends to the application.

    v2: ``token(20) ‖ sender(20) ‖ value(32) ‖ execLayerData``; v1 puts a success byte
    (``0x01``) in front. Built here byte for byte so local deposits reach the DApp
    exactly as a real portal's would.
    """
    if rollups not in ("v1", "v2"):
        raise InvalidField("rollups", rollups, "'v1' or 'v2'")
    if not 0 <= amount <= MAX_UINT256:
        raise InvalidField("amount", amount, "value in [0, 2**256-1]")
    body = (
        bytes.fromhex(normalize_address(token, "token")[2:])
        + bytes.fromhex(normalize_address(sender, "sender")[2:])
        + amount.to_bytes(32, "big")
        + bytes(exec_layer_data)
    )
    return (b"\x01" + body) if rollups == "v1" else body


def block_timestamp(block_number: int) -> int:
    """Timestamp (seconds) of a local block: a fixed genesis plus 12 s per block."""
    return GENESIS_TIMESTAMP + SECONDS_PER_BLOCK * block_number


def prev_randao(block_number: int) -> str:
    """Deterministic stand-in for PREVRANDAO: keccak of the 32-byte block number."""
    return to_hex(keccak(block_number.to_bytes(32, "big")))


def to_payload_bytes(payload: Any) -> bytes:
    """Turn what a caller means by "payload" into bytes.

    ``bytes`` pass through; a ``str`` starting with ``0x`` is hex; any other ``str`` is
    UTF-8 text (JSON ops are text); a ``dict``/``list`` is compact JSON. This lets tests
    and notebooks write ``advance(sender, {"op": ...})`` without encoding by hand.
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        if payload.startswith("0x"):
            return from_hex(payload)
        return payload.encode("utf-8")
    if isinstance(payload, (dict, list)):
        return json.dumps(payload, separators=(",", ":")).encode("utf-8")
    raise InvalidField("payload", payload, "bytes, 0x-hex, text or JSON object")


def decode_payload(payload_hex: str) -> Any:
    """Best-effort human view of a payload: parsed JSON, else text, else the hex.

    Used for display only; the server never interprets payloads.
    """
    data = from_hex(payload_hex)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return payload_hex
    try:
        return json.loads(text)
    except ValueError:
        return text


def decode_transfer(payload_hex: str) -> tuple[str, int] | None:
    """Decode an ERC-20 ``transfer(address,uint256)`` call; ``None`` if it is not one."""
    data = from_hex(payload_hex)
    if len(data) != 4 + 64 or data[:4] != ERC20_TRANSFER_SELECTOR:
        return None
    try:
        to, amount = abi_decode(["address", "uint256"], data[4:])
    except Exception:  # eth_abi raises several types for non-canonical encodings
        return None
    return to_checksum_address(to), int(amount)
