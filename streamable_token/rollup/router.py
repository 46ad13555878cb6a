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
from dataclasses import dataclass
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
)
from streamable_token.rollup.builtin_ops import OPS, Call
from streamable_token.rollup.ops import Op, OpTable, Schema, parse_command
from streamable_token.rollup.outputs import Output, error_report, notice, report
from streamable_token import StreamableToken, StreamError
from streamable_token.addresses import checksum, parse_address
from streamable_token.errors import InvalidInput
from streamable_token.unit_of_work import InputWork, Nested, ReadOnly

log = logging.getLogger("dapp.router")


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
        self.ops = OpTable(OPS)
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

    def register_op(self, name: str, schema: Schema, handler: Callable[[Call, dict], list[Output]],
                    nestable: bool = True) -> None:
        """Add a host DApp's op beside the built-in ones, as they are declared
        (:mod:`streamable_token.rollup.builtin_ops`). Its payload is ``{"op": name,
        <fields>}``, parsed by ``schema`` (``{field: (kind, required)}``, kinds
        ``address``, ``amount``, ``uint``, ``int`` (0..2^62), ``positive`` (1..2^62),
        ``ops``); ``handler(call, fields)`` runs in the input's transaction
        (``call.conn``) and returns the outputs. A name already taken is refused: no op
        can replace another."""
        self.ops.register(name, schema, handler, nestable)

    def op(self, name: str, schema: Schema, nestable: bool = True) -> Callable[[Callable], Callable]:
        """:meth:`register_op` as a decorator: ``@router.op("tip", {...})`` on the handler."""
        return self.ops.op(name, schema, nestable)

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
