"""Where malformed JSON goes wrong, the same on every Python.

The json module's messages and positions differ between versions (3.13 reports a trailing
comma at the comma, 3.11 at the bracket after it), so a report that quoted them would read
differently in CI (3.11) and in the Cartesi machine (3.13). :func:`malformed_at` finds the
place itself, by one rule: the first character that no valid JSON text could have there
(every character before it is a prefix of some valid text), or the end of the text when it
stops too early. It accepts what ``json.loads`` accepts (``NaN``, ``Infinity`` and
``-Infinity`` included; no control characters inside strings) and runs only once a payload
was refused, in one pass without recursion.
"""
from __future__ import annotations

import re
from typing import Any, NamedTuple, Optional

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')
_DIGITS = re.compile(r"[0-9]*")
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = frozenset('"\\/bfnrtu')
_LITERALS = {"t": "true", "f": "false", "n": "null", "N": "NaN", "I": "Infinity"}

# Runs of complete "scalar ," elements of an array, or '"key": scalar ,' members of an
# object, skipped in one regex call: a refused payload of 64 KiB made of tiny elements
# would otherwise cost one pass of the Python loop per element (hundreds of millions of
# cycles in the Cartesi machine). Only whole valid pairs are skipped, so where the text
# goes wrong is still found by the loop, at the same place.
_WS = r"[ \t\n\r]*"
_STR = r'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"'
_SCALAR = (r"(?:" + _STR + r"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
           r"|true|false|null|NaN|-?Infinity)")
# At most this many steps of the loop below (a step is a token the runs did not skip):
# every payload a person writes, a batch of 256 ops included, takes far fewer; a refused
# payload made to cost (64 KiB of `[{},{},...`) stops here, and says how far it is valid.
STEP_BUDGET = 4096
_ARRAY_RUN = re.compile(r"(?:" + _WS + _SCALAR + _WS + r",)*")
_OBJECT_RUN = re.compile(r"(?:" + _WS + _STR + _WS + r":" + _WS + _SCALAR + _WS + r",)*")

# what the parser expects next (_END: nothing, the scan has its answer)
_VALUE, _VALUE_OR_CLOSE, _KEY, _KEY_OR_CLOSE, _COLON, _AFTER, _END = range(7)
_WANTED = {
    _VALUE: "a value",
    _VALUE_OR_CLOSE: "a value or ']'",
    _KEY: "a key in double quotes",
    _KEY_OR_CLOSE: "a key in double quotes or '}'",
    _COLON: "':'",
}


class Malformed(NamedTuple):
    """Where and why: ``offset`` in characters from 0, ``line`` and ``column`` from 1
    (columns count characters), ``byte`` the offset in the UTF-8 payload, and ``what``."""

    offset: int
    line: int
    column: int
    byte: int
    what: str

    def describe(self) -> str:
        return f"malformed JSON at line {self.line}, column {self.column} (byte {self.byte}): {self.what}"


def show(char: str) -> str:
    """A character as a report shows it: printable ASCII quoted, anything else as U+XXXX
    (never ``repr``, whose idea of printable follows the Python's Unicode version)."""
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return f"'{char}'" if char != "'" else '"\'"'
    return f"U+{code:04X}"


def malformed_at(text: str) -> Optional[Malformed]:
    """Where ``text`` stops being JSON, or None if it is one valid JSON value."""
    found = _scan(text)
    if found is None:
        return None
    offset, what = found
    newline = text.rfind("\n", 0, offset)
    return Malformed(offset, text.count("\n", 0, offset) + 1, offset - newline,
                     len(text[:offset].encode("utf-8", "surrogatepass")), what)


def _unexpected(text: str, i: int, wanted: str) -> tuple[int, str]:
    if i >= len(text):
        return i, f"the text ends where {wanted} was expected"
    char = text[i]
    hint = ""
    if char == "'":
        hint = " (JSON strings and keys take double quotes)"
    elif char == "/":
        hint = " (JSON has no comments)"
    elif char in "}]" and text[:i].rstrip(" \t\n\r").endswith(","):
        hint = " (a trailing comma)"
    return i, f"{show(char)} where {wanted} was expected{hint}"


_Step = tuple[int, Any]
"""What a step gives: the next state and the offset to go on from, or ``_END`` and the
scan's answer."""


def _scan(text: str) -> Optional[tuple[int, str]]:
    """Where ``text`` goes wrong and why, None if it is JSON: one step per token, each
    step the reader of what is expected next (:data:`_STEPS`), until the text ends, a step
    finds the mistake, or the budget is spent."""
    stack: list[str] = []  # the open containers, '[' or '{'
    state, i = _VALUE, 0
    for _ in range(STEP_BUDGET):
        state, i = _STEPS[state](text, i, state, stack)
        if state == _END:
            return i  # here the answer: None, or (offset, what)
    return i, (f"valid JSON up to here, and no more is searched: past {STEP_BUDGET} tokens the"
               " position of the mistake is not given")


def _value(text: str, i: int, state: int, stack: list[str]) -> _Step:
    """A value: a container opens, a scalar is read whole, or ']' where the array may
    close; in an array, first past a run of whole scalar elements (:data:`_ARRAY_RUN`)."""
    if stack and stack[-1] == "[":
        end = _ARRAY_RUN.match(text, i).end()
        if end > i:
            state, i = _VALUE, end
    i = _WHITESPACE.match(text, i).end()
    char = text[i] if i < len(text) else ""
    if char == "]" and state == _VALUE_OR_CLOSE:
        stack.pop()
        return _AFTER, i + 1
    if char in ("{", "["):
        stack.append(char)
        return (_KEY_OR_CLOSE if char == "{" else _VALUE_OR_CLOSE), i + 1
    return _then(_AFTER, _scalar(text, i, char, _WANTED[state]))


def _key(text: str, i: int, state: int, stack: list[str]) -> _Step:
    """A key in double quotes, or '}' where the object may close (empty so far); first
    past a run of whole members (:data:`_OBJECT_RUN`)."""
    end = _OBJECT_RUN.match(text, i).end()
    if end > i:
        state, i = _KEY, end
    i = _WHITESPACE.match(text, i).end()
    char = text[i] if i < len(text) else ""
    if char == "}" and state == _KEY_OR_CLOSE:
        stack.pop()
        return _AFTER, i + 1
    if char != '"':
        return _END, _unexpected(text, i, _WANTED[state])
    return _then(_COLON, _string(text, i))


def _colon(text: str, i: int, state: int, stack: list[str]) -> _Step:
    """The ':' after a key."""
    i = _WHITESPACE.match(text, i).end()
    if i < len(text) and text[i] == ":":
        return _VALUE, i + 1
    return _END, _unexpected(text, i, "':'")


def _after_value(text: str, i: int, state: int, stack: list[str]) -> _Step:
    """After a value: the end of the text at the top level, else ',' or the closing
    bracket of the innermost container."""
    i = _WHITESPACE.match(text, i).end()
    char = text[i] if i < len(text) else ""
    if not stack:
        return _END, (i, f"{show(char)} after the end of the JSON value (one value per payload)") if char else None
    close = "}" if stack[-1] == "{" else "]"
    if char == ",":
        return (_KEY if close == "}" else _VALUE), i + 1
    if char == close:
        stack.pop()
        return _AFTER, i + 1
    return _END, _unexpected(text, i, f"',' or '{close}'")


def _then(state: int, found: int | tuple[int, str]) -> _Step:
    """``state`` at the offset after a token, or the end of the scan where it went wrong."""
    return (_END, found) if isinstance(found, tuple) else (state, found)


def _scalar(text: str, i: int, char: str, wanted: str) -> int | tuple[int, str]:
    """The offset after the string, number or literal at ``i``, or where it goes wrong."""
    if char == '"':
        return _string(text, i)
    if char == "-" or "0" <= char <= "9":
        return _number(text, i)
    if char in _LITERALS:
        return _literal(text, i, _LITERALS[char])
    return _unexpected(text, i, wanted)


# what is expected next -> the step that reads it (each first skips whitespace)
_STEPS = {
    _VALUE: _value, _VALUE_OR_CLOSE: _value,
    _KEY: _key, _KEY_OR_CLOSE: _key,
    _COLON: _colon,
    _AFTER: _after_value,
}


def _string(text: str, i: int) -> int | tuple[int, str]:
    """The offset after the string opening at ``i``, or where it goes wrong."""
    n = len(text)
    i += 1
    while True:
        i = _STRING_PLAIN.match(text, i).end()
        if i >= n:
            return i, "the text ends inside a string (no closing '\"')"
        char = text[i]
        if char == '"':
            return i + 1
        if char != "\\":
            return i, f"{show(char)} inside a string (control characters must be escaped)"
        if i + 1 >= n:
            return i + 1, "the text ends inside an escape"
        escape = text[i + 1]
        if escape not in _ESCAPES:
            return i + 1, f"{show(escape)} after '\\' (escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)"
        i += 2
        if escape == "u":
            for k in range(i, i + 4):
                if k >= n:
                    return k, "the text ends inside a \\u escape"
                if text[k] not in _HEX:
                    return k, f"{show(text[k])} in a \\u escape (4 hex digits)"
            i += 4


def _number(text: str, i: int) -> int | tuple[int, str]:
    """The offset after the number (or ``-Infinity``) at ``i``, or where it goes wrong."""
    n = len(text)
    if text[i] == "-":
        i += 1
        if i < n and text[i] == "I":
            return _literal(text, i, "Infinity")
        if i >= n or not "0" <= text[i] <= "9":
            return _unexpected(text, i, "a digit after '-'")
    i = i + 1 if text[i] == "0" else _DIGITS.match(text, i).end()
    if i < n and text[i] == ".":
        i += 1
        if i >= n or not "0" <= text[i] <= "9":
            return _unexpected(text, i, "a digit after '.'")
        i = _DIGITS.match(text, i).end()
    if i < n and text[i] in "eE":
        i += 1
        if i < n and text[i] in "+-":
            i += 1
        if i >= n or not "0" <= text[i] <= "9":
            return _unexpected(text, i, "a digit in the exponent")
        i = _DIGITS.match(text, i).end()
    return i


def _literal(text: str, i: int, word: str) -> int | tuple[int, str]:
    for k, want in enumerate(word):
        if i + k >= len(text) or text[i + k] != want:
            return _unexpected(text, i + k, f"'{word}'")
    return i + len(word)
