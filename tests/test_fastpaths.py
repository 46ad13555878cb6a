"""streamable_token.fastpaths: each private door (pycryptodome's one-call keccak, the json
module's C encoder, logging's caller-lookup switch) is taken only where it is there and
agrees with the public way; with the door closed the public way runs and gives the same
bytes; and no other module of the repository touches those private names."""
from __future__ import annotations

import ast
import importlib.util
import io
import json
import logging
import math
import os
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from Crypto.Hash import keccak
from eth_utils import keccak as eth_keccak, to_checksum_address
from hypothesis import given, strategies as st

from streamable_token import addresses, fastpaths

pytestmark = pytest.mark.unit


ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "streamable_token" / "fastpaths.py"


def fresh_fastpaths() -> object:
    """A new copy of the module, imported as things stand now (the real one is untouched)."""
    spec = importlib.util.spec_from_file_location("fastpaths_under_test", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def public():
    """fastpaths imported where no private door is open: no ``Crypto.Util._raw_api``, no C
    JSON encoder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "Crypto.Util._raw_api", None)  # its import fails
        mp.setattr(json.encoder, "c_make_encoder", None)
        module = fresh_fastpaths()
    assert module.FAST == {"keccak256": False, "canonical_json": False}
    return module


def outcome(fn, *args):
    """What a call gives: its value, or the type and words of what it raised."""
    try:
        return "value", fn(*args)
    except Exception as err:  # noqa: BLE001 - compared, not handled
        return type(err).__name__, str(err)


def test_the_pinned_libraries_take_the_fast_paths():
    assert fastpaths.FAST == {"keccak256": True, "canonical_json": True}
    assert addresses.keccak256 is fastpaths.keccak256


# --- keccak-256 -----------------------------------------------------------------------


def _raises(*args):
    raise TypeError("argument 3: wrong type")


@pytest.mark.parametrize("close", [
    pytest.param(lambda mp: mp.setitem(sys.modules, "Crypto.Util._raw_api", None), id="no _raw_api module"),
    pytest.param(lambda mp: mp.delattr(keccak, "_raw_keccak_lib"), id="no C library object"),
    pytest.param(lambda mp: mp.setattr(keccak, "_raw_keccak_lib", SimpleNamespace()), id="no keccak_oneshot"),
    pytest.param(lambda mp: mp.setattr(keccak, "_raw_keccak_lib", SimpleNamespace(keccak_oneshot=lambda *a: 0)),
                 id="a oneshot that writes nothing"),
    pytest.param(lambda mp: mp.setattr(keccak, "_raw_keccak_lib", SimpleNamespace(keccak_oneshot=lambda *a: 1)),
                 id="a oneshot that fails"),
    pytest.param(lambda mp: mp.setattr(keccak, "_raw_keccak_lib", SimpleNamespace(keccak_oneshot=_raises)),
                 id="a oneshot with other arguments"),
])
def test_keccak_falls_back_to_the_hash_object(close):
    with pytest.MonkeyPatch.context() as mp:
        close(mp)
        module = fresh_fastpaths()
    assert module.FAST["keccak256"] is False and module.keccak256 is module._keccak_public
    assert module.FAST["canonical_json"] is True  # one closed door closes no other
    assert module.keccak256(b"abc") == fastpaths.keccak256(b"abc") == eth_keccak(b"abc")


@given(st.binary(max_size=300))
def test_keccak_fast_and_public_give_the_same_digest(public, data):
    assert fastpaths.keccak256(data) == public.keccak256(data) == eth_keccak(data)


def test_keccak_known_digests_and_every_length_around_a_block(public):
    assert fastpaths.keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    for n in range(0, 300):  # 136 bytes is keccak-256's block: lengths on both sides of 1 and 2 blocks
        data = bytes(range(256))[:n] if n <= 256 else bytes(n)
        assert fastpaths.keccak256(data) == public.keccak256(data)


# The EIP-55 examples: mixed case, all upper and all lower case checksums.
EIP55 = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
]


def spellings(address: str) -> list[tuple[object, bool]]:
    """Every way an address can be handed in, and whether it is valid: checksummed, lower,
    upper, 0X, bytes, and one letter's case turned (a wrong checksum, unless that leaves
    the digits all one case)."""
    digits = address[2:]
    out = [(address, True), ("0x" + digits.lower(), True), ("0x" + digits.upper(), True),
           ("0X" + digits, True), (bytes.fromhex(digits), True)]
    letter = next((i for i, c in enumerate(digits) if c.isalpha()), None)
    if letter is not None:
        turned = digits[:letter] + digits[letter].swapcase() + digits[letter + 1:]
        out.append(("0x" + turned, turned in (turned.lower(), turned.upper())))
    return out


def through(keccak256, fn, *args):
    """``fn(*args)`` with addresses hashing by ``keccak256`` and no cache in between."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(addresses, "keccak256", keccak256)
        mp.setattr(addresses, "checksum", addresses.checksum.__wrapped__)
        mp.setattr(addresses, "_from_text", addresses._from_text.__wrapped__)
        return outcome(fn, *args)


def check_address(public, raw: bytes) -> None:
    expected = to_checksum_address(raw)
    for keccak256 in (fastpaths.keccak256, public.keccak256):
        assert through(keccak256, addresses.checksum, raw) == ("value", expected)
    for spelling, valid in spellings(expected):
        fast = through(fastpaths.keccak256, addresses.parse_address, spelling)
        assert fast == through(public.keccak256, addresses.parse_address, spelling), spelling
        assert (fast == ("value", raw)) is valid, (spelling, fast)


@pytest.mark.parametrize("address", EIP55)
def test_eip55_examples_in_every_case_the_same_both_ways(public, address):
    check_address(public, bytes.fromhex(address[2:]))


@given(st.binary(min_size=20, max_size=20))
def test_addresses_in_every_case_the_same_both_ways(public, raw):
    check_address(public, raw)


# --- canonical JSON -------------------------------------------------------------------

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**300, 2**300)
           | st.floats() | st.text() | st.text(st.characters(min_codepoint=0x80)))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
                   | st.tuples(inner, inner)),
    max_leaves=40,
)


def public_json(obj) -> bytes:
    """The public way, written out: json.dumps with the canonical options."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_json(public, doc) -> None:
    fast = outcome(fastpaths.canonical_json, doc)
    assert fast == outcome(public.canonical_json, doc) == outcome(public_json, doc)
    with pytest.MonkeyPatch.context() as mp:  # and where json has no C encoder at all
        mp.setattr(json.encoder, "c_make_encoder", None)
        assert fast == outcome(public.canonical_json, doc)


@given(DOCUMENTS)
def test_json_fast_and_public_give_the_same_bytes(public, doc):
    check_json(public, doc)


@pytest.mark.parametrize("doc", [
    {"amount": str(2**256 - 1), "big": 2**256 - 1, "negative": -2**255, "huge": 10**400},
    {"é": "日本語 \u20ac \U0001FAE8", "emoji\U0001F600": ["\u0000\u001f\u007f\u2028\u2029", "\"\\/"]},
    {"b": {"z": [1, {"y": [[], {}, ()]}], "a": None}, "a": [True, False, 0, -0.0, 1e300, 5e-324]},
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf},
    {1: "int key", 2: "sorted as ints"}, {1.5: "float key"}, {True: "bool key"}, {None: "null key"},
    {"lone surrogate": "\ud800"},               # refused by UTF-8, the same way both ways
    {"mixed": {"a": 1, 1: "a"}},                # keys that do not sort: refused both ways
    {"set": {1, 2}}, [b"bytes"], [Decimal("1.5")], [object()],  # unencodable, same words
    "a bare string", 2**64, None, [],
])
def test_json_edge_documents_the_same_both_ways(public, doc):
    check_json(public, doc)


def _wrong_encoder(*args):
    return lambda obj, level: ["{}"]


@pytest.mark.parametrize("close", [
    pytest.param(lambda mp: mp.setattr(json.encoder, "c_make_encoder", None), id="no C encoder"),
    pytest.param(lambda mp: mp.setattr(json.encoder, "c_make_encoder", _raises), id="other arguments"),
    pytest.param(lambda mp: mp.setattr(json.encoder, "c_make_encoder", _wrong_encoder), id="other output"),
    pytest.param(lambda mp: mp.delattr(json.encoder, "c_make_encoder"), id="no such name"),
])
def test_json_falls_back_to_the_encoder_class(close):
    with pytest.MonkeyPatch.context() as mp:
        close(mp)
        module = fresh_fastpaths()
    assert module.FAST["canonical_json"] is False and module.canonical_json is module._canonical_json_public
    assert module.FAST["keccak256"] is True
    doc = {"b": [2**256, "é"], "a": {}}
    assert module.canonical_json(doc) == fastpaths.canonical_json(doc) == public_json(doc)


# --- logging --------------------------------------------------------------------------


def dapp_log_line(message: str) -> tuple[str, logging.LogRecord]:
    """A record logged with dapp.py's format (at a fixed time) and the line it prints."""
    stream, records = io.StringIO(), []
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def fix_time(record: logging.LogRecord) -> bool:
        record.created, record.msecs = 1_700_000_000.0, 0.0
        records.append(record)
        return True

    handler.addFilter(fix_time)
    logger = logging.getLogger("tests.fastpaths")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        logger.info("inspect: %s (%.1f ms)", message, 1.25)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue(), records[0]


@pytest.fixture
def restore_logging(monkeypatch):
    """logging with the caller lookup on, as it starts (dapp.main, which some tests run in
    a thread, turns it off for the rest of the session); put back as found afterwards."""
    monkeypatch.setattr(logging, "_srcfile", os.path.normcase(logging.addLevelName.__code__.co_filename))


def test_skipping_the_caller_lookup_prints_the_same_lines(restore_logging):
    looked_up, before = dapp_log_line("accept")
    assert before.lineno > 0 and before.funcName == "dapp_log_line"
    assert fastpaths.skip_caller_lookup() is True
    skipped, after = dapp_log_line("accept")
    assert (after.lineno, after.funcName) == (0, "(unknown function)")  # the lookup is skipped
    assert skipped == looked_up and "tests.fastpaths INFO inspect: accept (1.2 ms)" in skipped
    assert fastpaths.skip_caller_lookup() is True  # twice is once


@pytest.mark.parametrize("switch", ["missing", True, 0, lambda: None])
def test_a_logging_without_the_switch_is_left_alone(restore_logging, monkeypatch, switch):
    module = fresh_fastpaths()
    if switch == "missing":
        monkeypatch.delattr(logging, "_srcfile")
        assert module.skip_caller_lookup() is False and not hasattr(logging, "_srcfile")
    else:
        monkeypatch.setattr(logging, "_srcfile", switch)
        assert module.skip_caller_lookup() is False and logging._srcfile is switch


# --- nothing else touches them --------------------------------------------------------

PRIVATE_NAMES = ("_raw_api", "_raw_keccak_lib", "keccak_oneshot", "c_make_encoder", "_srcfile")
"""The private names fastpaths uses, looked for as text (getattr spells some as strings)."""


def repository_python() -> list[Path]:
    """Every Python file of the repository but the tests: the package, the host, the DApp,
    its database, the L1 tools, benchmarks, fuzzers and examples."""
    skip = {"tests", "node_modules", "build", "dist"}
    return sorted(p for p in ROOT.rglob("*.py")
                  if not any(part in skip or part.startswith(".") for part in p.relative_to(ROOT).parts[:-1]))


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def foreign_private_uses(tree: ast.Module, own: set[str]) -> list[str]:
    """Where a module imports a private module or name of another library, or reads a
    private attribute of a module it imported (``_x``, not ``__x__``)."""
    imported, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in own:
                    imported.add(alias.asname or alias.name.split(".")[0])
                    found += [f"import {alias.name}"] if any(map(private, alias.name.split("."))) else []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] not in own:
            found += [f"from {node.module}"] if any(map(private, node.module.split("."))) else []
            found += [f"from {node.module} import {a.name}" for a in node.names if private(a.name)]
            imported.update(a.asname or a.name for a in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in imported:
                found.append(ast.unparse(node))
    return found


def test_no_other_module_touches_a_private_api():
    files = repository_python()
    own = {p.name for p in ROOT.iterdir() if p.is_dir()} | {p.stem for p in ROOT.glob("*.py")}
    names = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"dapp.py", "streamable_token/addresses.py", "streamable_token/rollup/codec.py",
            "db/checkpoint.py", "rollup_host/server.py", "l1/bridge.py"} <= names  # the search reaches them
    offenders = {}
    for path in files:
        if path == SOURCE:
            continue
        text = path.read_text()
        hits = [n for n in PRIVATE_NAMES if n in text] + foreign_private_uses(ast.parse(text), own)
        if hits:
            offenders[path.relative_to(ROOT).as_posix()] = hits
    assert not offenders, f"private APIs of other libraries belong in streamable_token/fastpaths.py: {offenders}"


def test_the_search_finds_what_it_looks_for():
    own = {"streamable_token"}
    tree = ast.parse("import logging\nfrom Crypto.Util._raw_api import c_size_t\nfrom json import _x\n"
                     "import os.path as p\nlogging._srcfile = None\np._joinrealpath\nlogging.__name__\n"
                     "from streamable_token import _own\n")
    assert foreign_private_uses(tree, own) == [
        "from Crypto.Util._raw_api", "from json import _x", "logging._srcfile", "p._joinrealpath"]
