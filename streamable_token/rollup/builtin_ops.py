"""The DApp's ops, each declared once: its name, its fields and its handler together.

An op is ``{"op": name, <fields>}`` from a user (or a deposit's attached command): the
parser (:mod:`streamable_token.rollup.ops`) checks its shape by the fields declared here,
the handler asks the engine, which checks what the values mean, and returns the outputs.
A host DApp declares its own ops the same way on its router (``router.op`` or
``router.register_op``). The order of declaration is the order a refusal lists them in.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from streamable_token import StreamableToken
from streamable_token.addresses import checksum
from streamable_token.rollup.codec import transfer_call, voucher_body
from streamable_token.rollup.ops import Op, OpTable
from streamable_token.rollup.outputs import Output, notice

OPS = OpTable()
"""The built-in ops: name -> :class:`~streamable_token.rollup.ops.OpSpec`."""


class Call:
    """What an op handler gets besides its fields: the router
    (:class:`~streamable_token.rollup.router.Router`: its engine, its connection inside
    the input's transaction, its config), the caller and the block. (A plain class: one
    is made per op, in a third of a frozen dataclass's time.)"""

    __slots__ = ("router", "caller", "block")

    def __init__(self, router: Any, caller: bytes, block: int) -> None:
        self.router, self.caller, self.block = router, caller, block

    @property
    def engine(self) -> StreamableToken:
        return self.router.engine

    @property
    def conn(self) -> sqlite3.Connection:
        return self.router.conn

    def apply(self, op: Op) -> list[Output]:
        """Run another (already parsed) op for the same caller at the same block."""
        return self.router._apply(op, self.caller, self.block)


@OPS.op("transfer", {"token": ("address", True), "receiver": ("address", True), "amount": ("amount", True)})
def transfer(c: Call, f: dict) -> list[Output]:
    c.engine.transfer(f["token"], c.caller, f["receiver"], f["amount"], c.block)
    return [notice("transfer", token=checksum(f["token"]), sender=checksum(c.caller),
                   receiver=checksum(f["receiver"]), amount=str(f["amount"]), block=c.block)]


@OPS.op("open_stream", {
    "token": ("address", True),
    "receiver": ("address", True),
    "amount": ("amount", True),
    "duration": ("positive", True),
    "start_block": ("int", False),
    "sender": ("address", False),
})
def open_stream(c: Call, f: dict) -> list[Output]:
    """The caller's own stream, or with ``sender`` another account's, the caller opening
    it as that account's operator (on its allowance)."""
    start = f.get("start_block", c.block)
    if "sender" not in f or f["sender"] == c.caller:
        stream = c.engine.new_stream(f["token"], c.caller, f["receiver"], f["amount"], start, f["duration"], c.block)
        return [notice("stream_opened", **stream.to_json(c.block))]
    stream = c.engine.new_stream(f["token"], f["sender"], f["receiver"], f["amount"], start, f["duration"], c.block,
                                 by=c.caller)
    return [notice("stream_opened", **stream.to_json(c.block), operator=checksum(c.caller))]


@OPS.op("cancel_stream", {"stream_id": ("positive", True)})
def cancel_stream(c: Call, f: dict) -> list[Output]:
    streamed, refunded = c.engine.cancel_stream(f["stream_id"], c.caller, c.block)
    return [notice("stream_canceled", id=f["stream_id"], by=checksum(c.caller), streamed=str(streamed),
                   refunded=str(refunded), block=c.block)]


@OPS.op("update_stream", {"stream_id": ("positive", True), "amount": ("amount", False), "end_block": ("int", False)})
def update_stream(c: Call, f: dict) -> list[Output]:
    stream = c.engine.update_stream(f["stream_id"], c.caller, c.block, new_amount=f.get("amount"),
                                    new_end_block=f.get("end_block"))
    return [notice("stream_updated", **stream.to_json(c.block))]


@OPS.op("withdraw", {"token": ("address", True), "amount": ("amount", True)})
def withdraw(c: Call, f: dict) -> list[Output]:
    c.engine.burn(f["token"], c.caller, f["amount"], c.block)
    voucher = Output("voucher", voucher_body(f["token"], transfer_call(c.caller, f["amount"]), c.router.config.version))
    return [voucher, notice("withdrawal", token=checksum(f["token"]), account=checksum(c.caller),
                            amount=str(f["amount"]), block=c.block)]


@OPS.op("approve", {"token": ("address", True), "spender": ("address", True), "amount": ("uint", True)})
def approve(c: Call, f: dict) -> list[Output]:
    c.engine.approve(f["token"], c.caller, f["spender"], f["amount"], c.block)
    return [notice("approval", token=checksum(f["token"]), owner=checksum(c.caller),
                   spender=checksum(f["spender"]), amount=str(f["amount"]), block=c.block)]


@OPS.op("transfer_from", {
    "token": ("address", True),
    "owner": ("address", True),
    "receiver": ("address", True),
    "amount": ("amount", True),
})
def transfer_from(c: Call, f: dict) -> list[Output]:
    c.engine.transfer_from(f["token"], c.caller, f["owner"], f["receiver"], f["amount"], c.block)
    return [notice("transfer", token=checksum(f["token"]), sender=checksum(f["owner"]),
                   receiver=checksum(f["receiver"]), amount=str(f["amount"]), spender=checksum(c.caller),
                   block=c.block)]


@OPS.op("batch", {"ops": ("ops", True)}, nestable=False)
def batch(c: Call, f: dict) -> list[Output]:
    outputs: list[Output] = []
    ids: list[int] = []
    for op in f["ops"]:
        out = c.apply(op)
        if op.name == "open_stream":
            ids.append(out[0].fields["id"])
        outputs += out
    outputs.append(notice("batch", ops=len(f["ops"]), stream_ids=ids, block=c.block))
    return outputs
