"""Encodings of Cartesi Rollups v2 inputs and outputs (pure).

Verified against ``@cartesi/rollups`` 2.2.0 (``src/common/Inputs.sol``, ``Outputs.sol``,
``src/inputs/InputBox.sol``): the InputBox emits ``InputAdded(appContract indexed,
index indexed, input)`` where ``input = abi.encodeCall(Inputs.EvmAdvance, (chainid,
appContract, msg.sender, block.number, block.timestamp, block.prevrandao, index,
payload))``; the machine's outputs are ``abi.encodeCall(Outputs.Notice, (payload))``
and ``abi.encodeCall(Outputs.Voucher, (destination, value, payload))``.
"""

from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

EVM_ADVANCE_SIG = ("EvmAdvance(uint256,address,address,uint256,uint256,uint256,uint256,"
                   "bytes)")
NOTICE_SIG = "Notice(bytes)"
VOUCHER_SIG = "Voucher(address,uint256,bytes)"
DELEGATE_CALL_VOUCHER_SIG = "DelegateCallVoucher(address,bytes)"

EVM_ADVANCE = keccak(text=EVM_ADVANCE_SIG)[:4]
NOTICE = keccak(text=NOTICE_SIG)[:4]
VOUCHER = keccak(text=VOUCHER_SIG)[:4]
DELEGATE_CALL_VOUCHER = keccak(text=DELEGATE_CALL_VOUCHER_SIG)[:4]

_EVM_ADVANCE_TYPES = ["uint256", "address", "address", "uint256", "uint256", "uint256",
                      "uint256", "bytes"]


class CodecError(ValueError):
    """Bytes that are not the encoding they claim to be."""


@dataclass(frozen=True)
class AdvanceInput:
    """A decoded ``EvmAdvance`` input: the metadata and the payload."""

    chain_id: int
    app_contract: str
    msg_sender: str
    block_number: int
    block_timestamp: int
    prev_randao: int
    index: int
    payload: bytes

    def metadata(self):
        """The metadata as the rollup host's ``/dev/advance`` takes it (JSON-ready)."""
        return {
            "chain_id": self.chain_id,
            "app_contract": self.app_contract,
            "msg_sender": self.msg_sender,
            "block_number": self.block_number,
            "block_timestamp": self.block_timestamp,
            "prev_randao": "0x" + self.prev_randao.to_bytes(32, "big").hex(),
            "input_index": self.index,
        }


def encode_evm_advance(chain_id, app_contract, msg_sender, block_number, block_timestamp,
                       prev_randao, index, payload):
    """The input bytes the InputBox would emit for these values."""
    return EVM_ADVANCE + abi_encode(_EVM_ADVANCE_TYPES, [
        chain_id, app_contract, msg_sender, block_number, block_timestamp, prev_randao,
        index, bytes(payload)])


def decode_evm_advance(data):
    """Decode an ``InputAdded`` event's ``input`` into an ``AdvanceInput``."""
    data = bytes(data)
    if data[:4] != EVM_ADVANCE:
        raise CodecError(f"not an EvmAdvance input (selector 0x{data[:4].hex()})")
    try:
        values = abi_decode(_EVM_ADVANCE_TYPES, data[4:])
    except Exception as exc:
        raise CodecError(f"malformed EvmAdvance input: {exc}") from exc
    chain_id, app, sender, block, ts, randao, index, payload = values
    return AdvanceInput(chain_id, to_checksum_address(app), to_checksum_address(sender),
                        block, ts, randao, index, payload)


def encode_notice(payload):
    """The output bytes of a notice: ``Notice(bytes)`` call."""
    return NOTICE + abi_encode(["bytes"], [bytes(payload)])


def encode_voucher(destination, value, payload):
    """The output bytes of a voucher: ``Voucher(address,uint256,bytes)`` call.

    ``value`` may be an int or a ``0x`` big-endian hex string (as v2 hosts give it).
    """
    if isinstance(value, str):
        value = int(value, 16) if value.startswith("0x") else int(value)
    return VOUCHER + abi_encode(["address", "uint256", "bytes"],
                                [to_checksum_address(destination), value, bytes(payload)])


def decode_output(output):
    """Decode an output to ``("notice", {"payload"})`` or ``("voucher", {...})``."""
    output = bytes(output)
    try:
        if output[:4] == NOTICE:
            (payload,) = abi_decode(["bytes"], output[4:])
            return "notice", {"payload": payload}
        if output[:4] == VOUCHER:
            dest, value, payload = abi_decode(["address", "uint256", "bytes"], output[4:])
            return "voucher", {"destination": to_checksum_address(dest), "value": value,
                               "payload": payload}
        if output[:4] == DELEGATE_CALL_VOUCHER:
            dest, payload = abi_decode(["address", "bytes"], output[4:])
            return "delegate_call_voucher", {"destination": to_checksum_address(dest),
                                             "payload": payload}
    except Exception as exc:
        raise CodecError(f"malformed output: {exc}") from exc
    raise CodecError(f"unknown output selector 0x{output[:4].hex()}")


def hex_bytes(s):
    """``0x``-hex string (or bytes) to bytes."""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return bytes.fromhex(s[2:] if s.startswith("0x") else s)
