"""The input router: one rollup input in, one transaction, outputs out.

The service layer of the DApp. It decodes an advance input, runs it against the engine in
ONE SQLite transaction, hands each output to ``emit`` (the shell posts it over HTTP and
raises :class:`OutputRefused` if the server refuses it), and commits only when every
output was accepted. Any refusal or exception rolls everything back and leaves one error
report. Inspects run read-only and are always rolled back.

Crash safety: an accepted input's outputs are stored with it, so if the rollup node
re-delivers an input whose transaction already committed (the DApp died before
``/finish``), the same outputs are emitted again instead of applying it twice.
An output that may or may not have reached the server (:class:`OutputNotDelivered`)
decides nothing: the input is rolled back and the exception goes up to the shell.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

from streamable_token import store
from streamable_token.schema import connect_read_only
from streamable_token.rollup import inspect as inspect_routes
from streamable_token.rollup.codec import (
    PORTALS,
    Metadata,
    canonical_json,
    decode_deposit,
    from_hex,
    parse_metadata,
    to_hex,
    transfer_call,
    voucher_body,
)
from streamable_token.rollup.ops import SCHEMAS, Op, OpSpec, Schema, check_schema, parse_command
from streamable_token import StreamableToken, StreamError
from streamable_token.addresses import checksum, parse_address
from streamable_token.errors import InvalidInput
from streamable_token.unit_of_work import InputWork, Nested, ReadOnly

log = logging.getLogger("dapp.router")


@dataclass(frozen=True)
class Output:
    """A notice, a report, or a voucher (``body`` is the JSON the rollup server takes)."""

    kind: str
    body: dict
    fields: Optional[dict] = field(default=None, compare=False, repr=False)
    """A notice's fields before encoding (for a batch to read a stream id back)."""


class OutputRefused(Exception):
    """The rollup server did not accept an output; the input must be rolled back."""


class OutputNotDelivered(Exception):
    """The rollup server could not be reached or failed (5xx, timeout, dropped connection),
    so whether it kept the output is unknown. Not a verdict on the input: the router rolls
    back and re-raises, and the shell has the node deliver the input again."""


@dataclass(frozen=True)
class Config:
    version: str = "v2"
    portal: Optional[str] = None
    app: Optional[str] = None

    @property
    def portal_bytes(self) -> bytes:
        return parse_address(self.portal or PORTALS[self.version], "portal")

    @property
    def app_bytes(self) -> Optional[bytes]:
        return parse_address(self.app, "app") if self.app else None


def notice(event: str, **fields) -> Output:
    return Output("notice", {"payload": to_hex(canonical_json({"event": event, **fields}))}, fields)


def report(obj: dict) -> Output:
    return Output("report", {"payload": to_hex(canonical_json(obj))})


def error_report(err: BaseException) -> Output:
    body = {"type": type(err).__name__, "message": str(err)}
    if isinstance(err, InvalidInput):
        body["field"] = err.field
    return report({"error": body})


Emit = Callable[[Output], None]
LAST_INPUT = "last_input"
LAST_BLOCK = "last_block"


def input_key(metadata: dict, payload: bytes) -> bytes:
    """What tells a re-delivered input from a new one: its metadata and payload, hashed."""
    return hashlib.sha256(canonical_json(metadata) + payload).digest()


def committed_input_key(conn: sqlite3.Connection) -> Optional[bytes]:
    """The key of the last input committed to this database, None before the first."""
    raw = store.get_meta(conn, LAST_INPUT)
    return raw[:32] if raw else None


class Router:
    def __init__(self, engine: StreamableToken, config: Config = Config()) -> None:
        self.engine = engine
        self.conn = engine.conn
        self.config = config
        self.portal = config.portal_bytes
        self.app = config.app_bytes
        # Inspects read through a second, read-only connection to the same file when there
        # is one. Toggling ``PRAGMA query_only`` on the writing connection instead would
        # expire every prepared statement, so each inspect would compile its SQL again.
        ro = connect_read_only(self.conn)
        self.reader = StreamableToken(ro) if ro is not None else None
        # The key of the last input this router committed: an input with another key is
        # not a re-delivery, so its advance need not read the stored one back.
        self._committed: Optional[bytes] = None
        # The op and route tables of this router: ours, then whatever the host registers.
        self.ops: dict[str, OpSpec] = dict(OPS)
        self.routes: dict[str, inspect_routes.Route] = dict(inspect_routes.ROUTES)

    def close(self) -> None:
        """Close the engine's connection and the inspect reader's."""
        if self.reader is not None:
            self.reader.close()
        self.engine.close()

    # --- advance --------------------------------------------------------------------

    def advance(self, metadata: dict, payload_hex: str, emit: Emit) -> str:
        """Run one advance input; returns ``"accept"`` or ``"reject"``."""
        try:
            meta = parse_metadata(metadata, self.config.version)
            payload = from_hex(payload_hex)
            if self.app is not None and meta.app_contract not in (None, self.app):
                raise InvalidInput("metadata.app_contract", checksum(meta.app_contract), checksum(self.app))
        except StreamError as err:
            return self._reject(err, emit)
        key = input_key(metadata, payload)
        try:
            with InputWork(self.conn) as work:  # rolled back on leaving unless committed
                replay = self._stored_outputs(key)
                if replay is None:
                    with self.engine.undone_by_caller():  # any failure below rolls it all back
                        outputs = self._run(meta, payload)
                    store.set_meta(self.conn, {
                        LAST_BLOCK: meta.block_number.to_bytes(8, "big"),
                        LAST_INPUT: key + canonical_json([[o.kind, o.body] for o in outputs]),
                    })
                    for out in outputs:
                        emit(out)
                    work.commit()
                    self._committed = key
                    return "accept"
        except OutputNotDelivered:
            raise
        except (StreamError, OutputRefused) as err:
            return self._reject(err, emit)
        except Exception as err:  # a bug must not take the node down, nor half-apply
            log.error("input %d failed: %s", meta.input_index, traceback.format_exc())
            return self._reject(RuntimeError(f"internal error: {type(err).__name__}"), emit)
        log.info("input %d re-delivered after commit: re-emitting its outputs", meta.input_index)
        for out in replay:
            emit(out)
        return "accept"

    def _reject(self, err: BaseException, emit: Emit) -> str:
        try:
            emit(error_report(err))
        except OutputRefused:
            log.warning("the rollup server refused the error report too")
        return "reject"

    def _stored_outputs(self, key: bytes) -> Optional[list[Output]]:
        """The outputs of the last committed input if ``key`` is its key, else None."""
        if self._committed is not None and key != self._committed:
            return None
        raw = store.get_meta(self.conn, LAST_INPUT)
        if raw is None or raw[:32] != key:
            return None
        return [Output(kind, body) for kind, body in json.loads(raw[32:])]

    def last_block(self, conn: Optional[sqlite3.Connection] = None) -> int:
        raw = store.get_meta(conn or self.conn, LAST_BLOCK)
        return int.from_bytes(raw, "big") if raw else 0

    def _run(self, meta: Metadata, payload: bytes) -> list[Output]:
        if meta.msg_sender == self.portal:
            return self._deposit(meta, payload)
        try:
            op = parse_command(payload, self.ops)
        except InvalidInput as err:
            # A binary payload of deposit size from a user is most likely a deposit sent
            # past the portal; text that starts like JSON is a malformed command.
            if len(payload) >= 72 and err.field == "payload" and payload.lstrip()[:1] not in (b"{", b"["):
                raise InvalidInput(
                    "msg_sender", checksum(meta.msg_sender),
                    f"the ERC-20 portal {checksum(self.portal)} for a deposit payload; other senders send UTF-8 JSON commands",
                ) from None
            raise
        return self._apply(op, meta.msg_sender, meta.block_number)

    def _deposit(self, meta: Metadata, payload: bytes) -> list[Output]:
        dep = decode_deposit(payload, self.config.version)
        token, account = checksum(dep.token), checksum(dep.sender)
        if not dep.success:
            return [report({"deposit": "failed on L1: nothing credited", "token": token, "account": account})]
        outputs = []
        if dep.amount:
            self.engine.mint(dep.token, dep.sender, dep.amount, block=meta.block_number)
            outputs.append(notice("deposit", token=token, account=account, amount=str(dep.amount), block=meta.block_number))
        if dep.exec_layer_data:
            # The deposit stands whatever its attached command does: tokens already sit
            # in the application on L1, so refusing the input would strand them.
            try:
                with Nested(self.conn, "st_exec_layer"):
                    outputs += self._apply(parse_command(dep.exec_layer_data, self.ops), dep.sender, meta.block_number)
            except StreamError as err:
                outputs.append(error_report(err))
        return outputs

    def _apply(self, op: Op, caller: bytes, block: int) -> list[Output]:
        spec = self.ops.get(op.name)
        if spec is None:  # parse_op only yields names of this table; never fall through
            raise InvalidInput("op", op.name, f"one of {', '.join(self.ops)}")
        return spec.handler(Call(self, caller, block), op.fields)

    def register_op(self, name: str, schema: Schema, handler: Callable[["Call", dict], list[Output]]) -> None:
        """Add a host DApp's op beside the built-in ones. Its payload is
        ``{"op": name, <fields>}``, parsed by ``schema`` (``{field: (kind, required)}``,
        kinds ``address``, ``amount``, ``uint``, ``int`` (0..2^62), ``positive`` (1..2^62),
        ``ops``); ``handler(call, fields)`` runs in the input's transaction (``call.conn``) and returns the outputs. A name already
        taken is refused: no op can replace another."""
        if name in self.ops:
            raise ValueError(f"op {name!r} is already registered")
        if not callable(handler):
            raise ValueError(f"op {name!r}: the handler must be callable")
        self.ops[name] = OpSpec(check_schema(name, schema), handler)

    def register_route(self, name: str, positional: list[str], optional: list[str],
                       handler: Callable[[StreamableToken, dict, int], dict]) -> None:
        """Add a host DApp's inspect route: ``name/<positional>...[?optional=...]`` or
        ``{"route": name, ...}``; ``handler(engine, fields, last_block)`` answers
        read-only with a JSON object. A name already taken is refused."""
        if name in self.routes:
            raise ValueError(f"route {name!r} is already registered")
        self.routes[name] = inspect_routes.Route(list(positional), list(optional), handler)

    # --- inspect --------------------------------------------------------------------

    def inspect(self, payload_hex: str) -> tuple[str, list[Output]]:
        """Answer a query read-only: ``("accept", [report])`` or ``("reject", [error])``."""
        engine = self.reader or self.engine
        try:
            with ReadOnly(engine.conn, guard=self.reader is None):
                answer = inspect_routes.answer(engine, from_hex(payload_hex), self.last_block(engine.conn), self.routes)
            return "accept", [report(answer)]
        except StreamError as err:
            return "reject", [error_report(err)]
        except Exception as err:
            log.error("inspect failed: %s", traceback.format_exc())
            return "reject", [error_report(RuntimeError(f"internal error: {type(err).__name__}"))]


# --- the built-in ops: name -> schema (streamable_token.rollup.ops) -> handler ----------


class Call:
    """What an op handler gets besides its fields: the router (its engine, its
    connection inside the input's transaction, its config), the caller and the block.
    (A plain class: one is made per op, in a third of a frozen dataclass's time.)"""

    __slots__ = ("router", "caller", "block")

    def __init__(self, router: Router, caller: bytes, block: int) -> None:
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


def _batch(c: Call, f: dict) -> list[Output]:
    outputs: list[Output] = []
    ids: list[int] = []
    for op in f["ops"]:
        out = c.apply(op)
        if op.name == "open_stream":
            ids.append(out[0].fields["id"])
        outputs += out
    outputs.append(notice("batch", ops=len(f["ops"]), stream_ids=ids, block=c.block))
    return outputs


def _transfer(c: Call, f: dict) -> list[Output]:
    c.engine.transfer(f["token"], c.caller, f["receiver"], f["amount"], c.block)
    return [notice("transfer", token=checksum(f["token"]), sender=checksum(c.caller),
                   receiver=checksum(f["receiver"]), amount=str(f["amount"]), block=c.block)]


def _open_stream(c: Call, f: dict) -> list[Output]:
    """The caller's own stream, or with ``sender`` another account's, the caller opening
    it as that account's operator (on its allowance)."""
    start = f.get("start_block", c.block)
    if "sender" not in f or f["sender"] == c.caller:
        stream = c.engine.new_stream(f["token"], c.caller, f["receiver"], f["amount"], start, f["duration"], c.block)
        return [notice("stream_opened", **stream.to_json(c.block))]
    stream = c.engine.new_stream(f["token"], f["sender"], f["receiver"], f["amount"], start, f["duration"], c.block,
                                 by=c.caller)
    return [notice("stream_opened", **stream.to_json(c.block), operator=checksum(c.caller))]


def _cancel_stream(c: Call, f: dict) -> list[Output]:
    streamed, refunded = c.engine.cancel_stream(f["stream_id"], c.caller, c.block)
    return [notice("stream_canceled", id=f["stream_id"], by=checksum(c.caller), streamed=str(streamed),
                   refunded=str(refunded), block=c.block)]


def _update_stream(c: Call, f: dict) -> list[Output]:
    stream = c.engine.update_stream(f["stream_id"], c.caller, c.block, new_amount=f.get("amount"),
                                    new_end_block=f.get("end_block"))
    return [notice("stream_updated", **stream.to_json(c.block))]


def _approve(c: Call, f: dict) -> list[Output]:
    c.engine.approve(f["token"], c.caller, f["spender"], f["amount"], c.block)
    return [notice("approval", token=checksum(f["token"]), owner=checksum(c.caller),
                   spender=checksum(f["spender"]), amount=str(f["amount"]), block=c.block)]


def _transfer_from(c: Call, f: dict) -> list[Output]:
    c.engine.transfer_from(f["token"], c.caller, f["owner"], f["receiver"], f["amount"], c.block)
    return [notice("transfer", token=checksum(f["token"]), sender=checksum(f["owner"]),
                   receiver=checksum(f["receiver"]), amount=str(f["amount"]), spender=checksum(c.caller),
                   block=c.block)]


def _withdraw(c: Call, f: dict) -> list[Output]:
    c.engine.burn(f["token"], c.caller, f["amount"], c.block)
    voucher = Output("voucher", voucher_body(f["token"], transfer_call(c.caller, f["amount"]), c.router.config.version))
    return [voucher, notice("withdrawal", token=checksum(f["token"]), account=checksum(c.caller),
                            amount=str(f["amount"]), block=c.block)]


HANDLERS: dict[str, Callable[[Call, dict], list[Output]]] = {
    "transfer": _transfer,
    "open_stream": _open_stream,
    "cancel_stream": _cancel_stream,
    "update_stream": _update_stream,
    "withdraw": _withdraw,
    "approve": _approve,
    "transfer_from": _transfer_from,
    "batch": _batch,
}
if set(HANDLERS) != set(SCHEMAS):  # every schema has a handler and every handler a schema
    raise ImportError(f"op tables disagree: schemas {sorted(SCHEMAS)}, handlers {sorted(HANDLERS)}")
OPS: dict[str, OpSpec] = {name: OpSpec(SCHEMAS[name], HANDLERS[name]) for name in SCHEMAS}
