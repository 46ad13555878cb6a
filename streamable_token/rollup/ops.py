"""User commands: strict JSON in, validated ops out.

The field names are the public interface. Everything that is not exactly right is refused
with the field it concerns: unknown ops, extra or missing fields, wrong types, floats,
exponents, leading zeros, signs or spaces in amounts, duplicated keys, deep nesting.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from streamable_token import amounts
from streamable_token.addresses import parse_address
from streamable_token.constants import MAX_BLOCK
from streamable_token.errors import InvalidInput
from streamable_token.rollup.json_position import malformed_at

MAX_INT = MAX_BLOCK
MAX_PAYLOAD = 64 * 1024
MAX_BATCH = 256
MAX_INT_DIGITS = 100
"""Longer integer literals are refused before ``int()``: no field takes one, and Python's
int_max_str_digits limit (4300 by default, set per process) would otherwise decide."""
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,77})")
MAX_DEPTH = 64
"""Deeper JSON is refused before ``json.loads`` runs. Python's own limit differs by version
(a RecursionError near 1,000 levels on 3.11, less whatever stack the caller already uses;
about 9,000 on 3.13, the Cartesi machine's), so without this the same payload would get
a different report in CI and in the machine. A batch nests 3 deep."""
# A JSON string (escapes included), else one bracket, else a quote that opens a string
# never closed (the JSON is invalid from there on: stop counting).
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}"]', re.DOTALL)


@dataclass(frozen=True)
class Op:
    name: str
    fields: dict


Schema = dict[str, tuple[str, bool]]
"""field -> (kind, required); kinds are the keys of :data:`KINDS`."""


@dataclass(frozen=True)
class OpSpec:
    """One row of an op table: the op's fields and the handler that runs it.

    The handler is called as ``handler(call, fields)`` with a
    :class:`streamable_token.rollup.builtin_ops.Call` and the validated fields, inside the
    input's transaction, and returns the input's outputs. An op that is not ``nestable``
    may not appear inside a batch."""

    schema: Schema
    handler: Callable[..., list]
    nestable: bool = True


class OpTable(dict):
    """name -> :class:`OpSpec`: each op declared once, its fields and handler together
    (eth-abi's registry is the model: a name maps to a parser and a handler, a host
    registers its own beside ours, and nothing falls through to a default)."""

    def register(self, name: str, schema: Schema, handler: Callable[..., list], nestable: bool = True) -> None:
        """Add an op. Its payload is ``{"op": name, <fields>}``, parsed by ``schema``
        (``{field: (kind, required)}``, kinds the keys of :data:`KINDS`). A name already
        taken is refused: no op can replace another."""
        if name in self:
            raise ValueError(f"op {name!r} is already registered")
        if not callable(handler):
            raise ValueError(f"op {name!r}: the handler must be callable")
        self[name] = OpSpec(check_schema(name, schema), handler, nestable)

    def op(self, name: str, schema: Schema, nestable: bool = True) -> Callable[[Callable[..., list]], Callable[..., list]]:
        """:meth:`register` as a decorator of the handler: ``@table.op("tip", {...})``."""
        def declare(handler: Callable[..., list]) -> Callable[..., list]:
            self.register(name, schema, handler, nestable)
            return handler
        return declare


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise InvalidInput(key, value, "each key once (duplicated key)")
        out[key] = value
    return out


class BadNumber:
    """A JSON number no field takes (a fraction, an exponent, NaN, -0, too many digits).

    The decoder's hooks cannot know which key a number sits under, so they return this
    instead of raising; the field's own check then refuses it under the field's name."""

    __slots__ = ("text", "expected")

    def __init__(self, text: str, expected: str) -> None:
        self.text, self.expected = text, expected

    def __repr__(self) -> str:
        return self.text


def _refuse_float(text: str) -> BadNumber:
    return BadNumber(text, "an integer (amounts as decimal strings); no fractions or exponents")


def _strict_int(text: str) -> int | BadNumber:
    if text == "-0":
        return BadNumber(text, "an integer without a sign on zero")
    if len(text) > MAX_INT_DIGITS:
        return BadNumber(f"{text[:20]}... ({len(text)} characters)", f"an integer of at most {MAX_INT_DIGITS} digits")
    return int(text)


def _refuse_constant(text: str) -> BadNumber:
    return BadNumber(text, "a finite integer")


def nests_deeper_than(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether the arrays and objects of JSON ``text`` nest more than ``limit`` deep.
    Brackets inside strings do not count; text with at most ``limit`` opening brackets in
    all is not scanned; one pass, linear in the length whatever the text."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _STRUCTURE.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
        elif char == '"':
            return False
    return False


_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_float=_refuse_float,
    parse_int=_strict_int,
    parse_constant=_refuse_constant,
)
"""One decoder for every input (``json.loads`` with hooks builds a new one each call)."""


def load_json(payload: bytes) -> Any:
    """Decode UTF-8 JSON strictly (no floats, NaN, -0, huge integers, duplicate keys),
    within a size and a nesting limit. Every refusal reads the same on every Python:
    none quotes the json module's own messages, which change between versions (3.13
    reports a trailing comma as such, at the comma; 3.11 at the bracket after it): a
    malformed text is located by :func:`malformed_json`."""
    if len(payload) > MAX_PAYLOAD:
        raise InvalidInput("payload", f"{len(payload)} bytes", f"at most {MAX_PAYLOAD} bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput("payload", f"byte {err.start}", "UTF-8 encoded JSON") from None
    if nests_deeper_than(text, MAX_DEPTH):
        raise InvalidInput("payload", "deeply nested JSON", f"JSON nested at most {MAX_DEPTH} deep")
    try:
        return _DECODER.decode(text)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: only below MAX_DEPTH if the
        # process's recursion limit were set absurdly low; refused all the same
        pass
    raise malformed_json(text)


def malformed_json(text: str) -> InvalidInput:
    """The refusal of JSON ``text`` that does not parse: where it goes wrong (line,
    column, byte) and why, found by :func:`json_position.malformed_at`, never by the json
    module's own words or positions."""
    found = malformed_at(text)
    where = "malformed JSON" if found is None else found.describe()
    err = InvalidInput("payload", where, "valid JSON")
    err.args = (f"invalid payload: {where}; expected valid JSON",)
    return err


AMOUNT_IN_QUOTES = 'a whole number of base units as a decimal string in quotes, like "1000"'


def _amount(field: str, value: Any) -> int:
    if type(value) is int:  # a bare JSON number (bool is not int here)
        if value >= 0:
            raise InvalidInput(field, value, f'a decimal string: put the amount in quotes, "{value}"')
        raise InvalidInput(field, value, f"{AMOUNT_IN_QUOTES} (no sign)")
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise InvalidInput(field, value, "a decimal string like \"1000\" (no sign, spaces, leading zeros)")
    return amounts.amount(int(value), field, shown=value)


def _uint(field: str, value: Any) -> int:
    """As an amount, 0 included (an allowance may be set to 0)."""
    if value == "0":
        return 0
    return _amount(field, value)


def _int(field: str, value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise InvalidInput(field, value, "a JSON integer in 0..2^62")
    return value


def _positive(field: str, value: Any) -> int:
    """A count or an id: as ``int``, 0 excluded (a duration of 0 blocks, stream id 0)."""
    if type(value) is not int or not 1 <= value <= MAX_INT:
        raise InvalidInput(field, value, "a JSON integer in 1..2^62")
    return value


def _ops(field: str, value: Any, table: OpTable) -> list[Op]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_BATCH:
        raise InvalidInput(field, type(value).__name__, f"a list of 1..{MAX_BATCH} ops")
    return [parse_op(item, table, nested=True) for item in value]


KINDS: dict[str, Callable[[str, Any, dict], Any]] = {
    "address": lambda field, value, table: parse_address(value, field),
    "amount": lambda field, value, table: _amount(field, value),
    "uint": lambda field, value, table: _uint(field, value),
    "int": lambda field, value, table: _int(field, value),
    "positive": lambda field, value, table: _positive(field, value),
    "ops": _ops,
}
"""Field kind -> parser ``(field, value, op table) -> value``. A schema naming any other
kind is refused when it is registered (:func:`check_schema`), never guessed at."""


def check_schema(name: str, schema: Any) -> Schema:
    """Refuse an op schema that is not ``{field: (kind, required)}`` with known kinds."""
    if not isinstance(name, str) or not name or not isinstance(schema, dict):
        raise ValueError(f"op {name!r}: a non-empty name and a dict of fields")
    for field, spec in schema.items():
        if field == "op" or not isinstance(spec, tuple) or len(spec) != 2 or spec[0] not in KINDS \
                or not isinstance(spec[1], bool):
            raise ValueError(f"op {name!r} field {field!r}: (kind, required) with kind one of {', '.join(KINDS)}")
    return schema


def parse_op(obj: Any, table: OpTable, nested: bool = False) -> Op:
    """One op from a decoded JSON object, its fields in the shape ``table`` declares for
    it (what the values mean is the engine's to check)."""
    if not isinstance(obj, dict):
        given = obj if isinstance(obj, BadNumber) else type(obj).__name__
        raise InvalidInput("payload", given, "a JSON object with an \"op\" field")
    name = obj.get("op")
    if not isinstance(name, str) or name not in table or (nested and not table[name].nestable):
        allowed = ", ".join(n for n, spec in table.items() if not nested or spec.nestable)
        raise InvalidInput("op", name, f"one of {allowed}")
    schema = table[name].schema
    extra = sorted(set(obj) - set(schema) - {"op"})
    if extra:
        raise InvalidInput(extra[0], obj[extra[0]], f"no such field for {name}; fields are {', '.join(schema)}")
    fields: dict = {}
    for field, (kind, required) in schema.items():
        if field not in obj:
            if required:
                raise InvalidInput.missing(field, f"{name} requires {field}")
            continue
        value = obj[field]
        if isinstance(value, BadNumber):
            if kind in ("amount", "uint"):
                raise InvalidInput(field, value, f"{AMOUNT_IN_QUOTES} (no fractions or exponents)")
            raise InvalidInput(field, value, value.expected)
        fields[field] = KINDS[kind](field, value, table)
    return Op(name, fields)


def parse_command(payload: bytes, table: OpTable) -> Op:
    """A user's command (UTF-8 JSON) by the op table ``table``."""
    return parse_op(load_json(payload), table)
