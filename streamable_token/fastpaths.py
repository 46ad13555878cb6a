"""The one home of other libraries' private APIs, each behind the public way to the same
result.

Three hot spots go faster through a door their library does not promise to keep open:

- :func:`keccak256`: pycryptodome's own one-call C function (``Crypto.Util._raw_api``,
  ``keccak._raw_keccak_lib.keccak_oneshot``) instead of its hash object (2.9 µs against
  6.6 µs for an address's digest here), for EIP-55 checksums;
- :func:`canonical_json`: the json module's C encoder made once
  (``json.encoder.c_make_encoder``) instead of one per call, with its dict to catch cycles,
  by ``JSONEncoder.encode`` (17-29% of the time of an input's small documents);
- :func:`skip_caller_lookup`: ``logging._srcfile = None``, so that no log record looks up
  the file and line of its caller, which the DApp's log format never shows.

Each is chosen once, at import, and only where the private door is there and gives, on
probe inputs, exactly what the public way gives; anywhere else (another version of the
library, another Python) the public way runs. Either way the result is byte for byte the
same (tests/test_fastpaths.py holds the two equal), and no other module of the package,
the DApp or its host touches these names (tests/test_fastpaths.py greps for them).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from Crypto.Hash import keccak

try:
    from Crypto.Util._raw_api import c_size_t, c_ubyte, create_string_buffer, get_raw_buffer
except ImportError:  # another pycryptodome: the hash object below does the same work
    c_size_t = c_ubyte = create_string_buffer = get_raw_buffer = None

__all__ = ["FAST", "canonical_json", "keccak256", "skip_caller_lookup"]

# --- keccak-256 -----------------------------------------------------------------------

_KECCAK_PROBES = {
    b"": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    b"abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    bytes(range(256)) * 3: "00e77ce2c4f77212a0d5df106b08157b77058479357a98a6039b457c469723e4",  # > 5 blocks
}
"""Known keccak-256 digests (Ethereum's keccak, not SHA3-256) the one-call path must give."""


def _keccak_public(data: bytes) -> bytes:
    """keccak-256 through pycryptodome's public hash object."""
    return keccak.new(data=data, digest_bits=256).digest()


def _keccak_oneshot_with(oneshot: Callable) -> Callable[[bytes], bytes]:
    """keccak-256 in one call of ``oneshot``, pycryptodome's C function that its hash
    object calls in three (init, absorb, digest), each through a Python wrapper."""

    def keccak256(data: bytes) -> bytes:
        out = create_string_buffer(32)
        # input, its length, output, its length, capacity (2 x 32 bytes), rounds, keccak's padding
        if oneshot(data, c_size_t(len(data)), out, c_size_t(32), c_size_t(64), c_ubyte(24), c_ubyte(1)):
            raise ValueError("keccak failed")
        return get_raw_buffer(out)

    return keccak256


def _pick_keccak() -> Callable[[bytes], bytes]:
    oneshot = getattr(getattr(keccak, "_raw_keccak_lib", None), "keccak_oneshot", None)
    if oneshot is None or create_string_buffer is None:
        return _keccak_public
    fast = _keccak_oneshot_with(oneshot)
    try:
        agrees = all(fast(data).hex() == digest for data, digest in _KECCAK_PROBES.items())
    except Exception:  # a changed signature: refused arguments, a failed call
        return _keccak_public
    return fast if agrees else _keccak_public


keccak256: Callable[[bytes], bytes] = _pick_keccak()
"""keccak-256 of bytes (Ethereum's hash of an address's hex for its EIP-55 checksum)."""

# --- canonical JSON -------------------------------------------------------------------

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_JSON_PROBE = ({"b": [1, -2**64, 1.5, float("inf"), None, True, False], "a": {"é": "\u20ac\n\"\\", "1": ()}},
               '{"a":{"1":[],"é":"€\\n\\"\\\\"},"b":[1,-18446744073709551616,1.5,Infinity,null,true,false]}'.encode())
"""A document and its canonical bytes, written out (not computed by the json module, whose
public encoder a changed C encoder would change too)."""


def _canonical_json_public(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, through ``JSONEncoder.encode``."""
    return _CANONICAL.encode(obj).encode()


def _unencodable(obj: Any) -> Any:
    # the words of JSONEncoder.default, the fallback's refusal
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _pick_canonical_json() -> Callable[[Any], bytes]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _canonical_json_public
    try:
        # markers (no cycle check), default, string encoder, indent, key and item
        # separators, sort_keys, skipkeys, allow_nan: the options of _CANONICAL
        encoder = make(None, _unencodable, json.encoder.encode_basestring, None, ":", ",", True, False, True)

        def canonical_json(obj: Any) -> bytes:
            return "".join(encoder(obj, 0)).encode()

        agrees = canonical_json(_JSON_PROBE[0]) == _JSON_PROBE[1]
    except Exception:  # a changed signature
        return _canonical_json_public
    return canonical_json if agrees else _canonical_json_public


canonical_json: Callable[[Any], bytes] = _pick_canonical_json()
"""Sorted keys, no whitespace, UTF-8: byte-identical on every machine (every input encodes
three documents: its metadata for its key, its notices, its outputs)."""

# --- logging --------------------------------------------------------------------------


def skip_caller_lookup() -> bool:
    """Have log records skip finding their caller's file, line and function (which a format
    without ``%(pathname)s``, ``%(lineno)d`` or ``%(funcName)s`` never shows), where this
    Python's logging keeps that switch where it always has; else change nothing. Returns
    whether the lookup is now skipped."""
    if isinstance(getattr(logging, "_srcfile", None), str):
        logging._srcfile = None
    return getattr(logging, "_srcfile", "") is None


FAST: dict[str, bool] = {
    "keccak256": keccak256 is not _keccak_public,
    "canonical_json": canonical_json is not _canonical_json_public,
}
"""Which private door each function goes through on this machine (False: the public way)."""
