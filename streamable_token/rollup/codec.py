"""Bytes in and out of the rollup: hex, advance metadata, portal deposits, vouchers.

Pure functions; nothing here speaks HTTP or touches the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

from streamable_token.addresses import checksum, parse_address
from streamable_token.errors import InvalidInput
from streamable_token.constants import ERC20_TRANSFER_SELECTOR, MAX_BLOCK, MAX_UINT256, PORTALS  # noqa: F401
from streamable_token.fastpaths import canonical_json  # noqa: F401

# ERC20_TRANSFER_SELECTOR, PORTALS and canonical_json are imported from here by callers too.
ZERO_VALUE = "0x" + "00" * 32
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def to_hex(data: bytes) -> str:
    return "0x" + data.hex()


def from_hex(value: Any, field: str = "payload") -> bytes:
    """Strict: a str, ``0x`` prefix, even number of hex digits (``"0x"`` is empty)."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) % 2:
        raise InvalidInput(field, value, "0x-prefixed hex with an even number of digits")
    digits = value[2:]
    if not _HEX_DIGITS.issuperset(digits):
        raise InvalidInput(field, value[:80], "hex digits after 0x")
    return bytes.fromhex(digits)


# --- advance metadata -----------------------------------------------------------------


class Metadata(NamedTuple):
    """What the rollup says about an advance input. ``block_number`` is the DApp's clock.
    (A named tuple: one is made per input, in a third of a frozen dataclass's time.)"""

    msg_sender: bytes
    block_number: int
    input_index: int
    timestamp: int
    chain_id: Optional[int] = None
    app_contract: Optional[bytes] = None
    prev_randao: Optional[str] = None
    epoch_index: Optional[int] = None


def _uint(meta: dict, key: str, high: Optional[int] = None) -> int:
    value = meta.get(key)
    if type(value) is not int or value < 0 or (high is not None and value > high):
        raise InvalidInput(f"metadata.{key}", value, "a non-negative integer" + (f" <= {high}" if high else ""))
    return value


def parse_metadata(meta: Any, version: str) -> Metadata:
    """v2: chain_id, app_contract, msg_sender, block_number, block_timestamp, prev_randao,
    input_index. v1: msg_sender, epoch_index, input_index, block_number, timestamp."""
    if not isinstance(meta, dict):
        raise InvalidInput("metadata", meta, "a JSON object")
    sender = parse_address(meta.get("msg_sender"), "metadata.msg_sender")
    if version == "v1":
        return Metadata(
            msg_sender=sender,
            block_number=_uint(meta, "block_number", MAX_BLOCK),
            input_index=_uint(meta, "input_index"),
            timestamp=_uint(meta, "timestamp"),
            epoch_index=_uint(meta, "epoch_index"),
        )
    randao = meta.get("prev_randao")
    if isinstance(randao, int) and not isinstance(randao, bool):
        if not 0 <= randao <= MAX_UINT256:
            raise InvalidInput("metadata.prev_randao", randao, "a uint256 or 0x-prefixed hex")
        randao = "0x" + randao.to_bytes(32, "big").hex()
    elif randao is not None:
        from_hex(randao, "metadata.prev_randao")
    return Metadata(
        msg_sender=sender,
        block_number=_uint(meta, "block_number", MAX_BLOCK),
        input_index=_uint(meta, "input_index"),
        timestamp=_uint(meta, "block_timestamp"),
        chain_id=_uint(meta, "chain_id"),
        app_contract=parse_address(meta.get("app_contract"), "metadata.app_contract"),
        prev_randao=randao,
    )


# --- ERC-20 portal deposits -----------------------------------------------------------


@dataclass(frozen=True)
class Deposit:
    success: bool
    token: bytes
    sender: bytes
    amount: int
    exec_layer_data: bytes


def decode_deposit(payload: bytes, version: str) -> Deposit:
    """Packed portal payload: v2 token(20) ‖ sender(20) ‖ value(32) ‖ execLayerData;
    v1 prefixes a success byte (0 means the L1 transfer failed: nothing to credit)."""
    success = True
    if version == "v1":
        if len(payload) < 73:
            raise InvalidInput("payload", f"{len(payload)} bytes", "a v1 ERC-20 deposit of at least 73 bytes")
        if payload[0] not in (0, 1):
            raise InvalidInput("payload.success", payload[0], "0 or 1")
        success, payload = payload[0] == 1, payload[1:]
    elif len(payload) < 72:
        raise InvalidInput("payload", f"{len(payload)} bytes", "a v2 ERC-20 deposit of at least 72 bytes")
    return Deposit(
        success=success,
        token=payload[:20],
        sender=payload[20:40],
        amount=int.from_bytes(payload[40:72], "big"),
        exec_layer_data=payload[72:],
    )


def encode_deposit(token: str, sender: str, amount: int, exec_layer_data: bytes = b"", version: str = "v2") -> bytes:
    """The portal's packed encoding (for tests, the notebook and the local host)."""
    body = parse_address(token) + parse_address(sender) + amount.to_bytes(32, "big") + exec_layer_data
    return (b"\x01" + body) if version == "v1" else body


# --- vouchers -------------------------------------------------------------------------


def transfer_call(receiver: bytes, amount: int) -> bytes:
    """Calldata of ERC-20 ``transfer(address,uint256)``: the selector, then the address
    and the amount as 32-byte big-endian words (two static types: no offsets). Written
    out because ``eth_abi.encode`` spent ~50 µs here on these 68 bytes."""
    if len(receiver) != 20 or not 0 <= amount <= MAX_UINT256:
        raise ValueError(f"transfer({receiver!r}, {amount}): not an address and a uint256")
    return ERC20_TRANSFER_SELECTOR + bytes(12) + receiver + amount.to_bytes(32, "big")


def voucher_body(token: bytes, payload: bytes, version: str) -> dict:
    """v2 ``{destination, value, payload}`` (value: 0x + 64 hex digits), v1 without value."""
    body = {"destination": checksum(token), "payload": to_hex(payload)}
    if version != "v1":
        body["value"] = ZERO_VALUE
    return body
