"""Contract artifacts, ABI encoding and deployment.

The Cartesi Rollups v2 contracts come compiled in the npm package ``@cartesi/rollups``
(``out/<Name>.sol/<Name>.json``: ``abi``, ``bytecode.object``); the test token comes from
``l1/contracts/TestToken.json`` (built by ``l1.compile`` from ``TestToken.sol``).
"""

import json
from pathlib import Path

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from . import NODE_MODULES
from .errors import Reverted, RpcError, ToolMissing
from .rpc import from_data

ROLLUPS_OUT = NODE_MODULES / "@cartesi" / "rollups" / "out"
LOCAL_CONTRACTS = Path(__file__).resolve().parent / "contracts"


def rollups_version():
    """Return the installed ``@cartesi/rollups`` version string."""
    pkg = ROLLUPS_OUT.parent / "package.json"
    if not pkg.exists():
        raise ToolMissing(f"{pkg} not found: run `make l1-deps`")
    return json.loads(pkg.read_text())["version"]


def load_artifact(name):
    """Load a compiled contract by name; return ``(abi, bytecode)``.

    Looks in ``@cartesi/rollups/out`` first, then ``l1/contracts/<name>.json``.
    Raises ``ToolMissing`` when neither exists.
    """
    local = LOCAL_CONTRACTS / f"{name}.json"
    path = ROLLUPS_OUT / f"{name}.sol" / f"{name}.json"
    if path.exists():
        art = json.loads(path.read_text())
        return art["abi"], from_data(art["bytecode"]["object"])
    if local.exists():
        art = json.loads(local.read_text())
        return art["abi"], from_data(art["bytecode"])
    raise ToolMissing(f"artifact {name} not found in {ROLLUPS_OUT} or {LOCAL_CONTRACTS}: "
                      "run `make l1-deps`")


def abi_type(param):
    """The canonical ABI type string of an ABI parameter (tuples expanded)."""
    typ = param["type"]
    if typ.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){typ[len('tuple'):]}"
    return typ


def signature(item):
    """``name(type,...)`` of an ABI function, event or error."""
    return f"{item['name']}({','.join(abi_type(p) for p in item.get('inputs', []))})"


def selector(sig):
    """The 4-byte selector of a signature string such as ``transfer(address,uint256)``."""
    return keccak(text=sig)[:4]


def encode_call(sig, *args):
    """Calldata for ``sig`` (e.g. ``"transfer(address,uint256)"``) with ``args``."""
    types = _split_types(sig[sig.index("(") + 1:-1])
    return selector(sig) + abi_encode(types, list(args))


def _split_types(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


# Errors every contract may raise, plus the errors of all artifacts loaded so far,
# so a revert that bubbles up from a callee (e.g. the token inside a voucher) decodes.
_ERRORS = {
    selector("Error(string)"): ("Error", ["string"]),
    selector("Panic(uint256)"): ("Panic", ["uint256"]),
}


def decode_error(data):
    """Decode revert data to ``(name, args)``; ``(None, ())`` if unknown or empty."""
    if not data or len(data) < 4 or data[:4] not in _ERRORS:
        return None, ()
    name, types = _ERRORS[data[:4]]
    try:
        return name, tuple(abi_decode(types, data[4:]))
    except Exception:  # malformed arguments: keep the name
        return name, ()


class Abi:
    """Index of one contract ABI: functions and events by name, errors by selector."""

    def __init__(self, abi):
        self.items = abi
        self.functions = {i["name"]: i for i in abi if i["type"] == "function"}
        self.events = {i["name"]: i for i in abi if i["type"] == "event"}
        self.constructor = next((i for i in abi if i["type"] == "constructor"), None)
        for item in abi:
            if item["type"] == "error":
                _ERRORS[selector(signature(item))] = (
                    item["name"], [abi_type(p) for p in item["inputs"]])

    def encode_function(self, name, args):
        """Calldata for function ``name`` with ``args`` (a sequence)."""
        fn = self.functions[name]
        types = [abi_type(p) for p in fn["inputs"]]
        return selector(signature(fn)) + abi_encode(types, list(args))

    def decode_function_output(self, name, data):
        """Decode the return data of ``name``: one value unwrapped, else a tuple."""
        types = [abi_type(p) for p in self.functions[name]["outputs"]]
        values = abi_decode(types, data)
        return values[0] if len(values) == 1 else values

    def encode_constructor(self, args):
        """ABI-encoded constructor arguments (appended to the creation bytecode)."""
        if self.constructor is None:
            if args:
                raise TypeError("contract has no constructor arguments")
            return b""
        types = [abi_type(p) for p in self.constructor["inputs"]]
        return abi_encode(types, list(args))

    def event_topic(self, name):
        """topic0 of event ``name``."""
        return keccak(text=signature(self.events[name]))

    def decode_log(self, name, log):
        """Decode a raw log of event ``name`` into a dict of its arguments."""
        ev = self.events[name]
        topics = [from_data(t) for t in log["topics"]]
        if topics[0] != self.event_topic(name):
            raise ValueError(f"log is not a {name} event")
        indexed = [p for p in ev["inputs"] if p.get("indexed")]
        plain = [p for p in ev["inputs"] if not p.get("indexed")]
        out = {}
        for p, topic in zip(indexed, topics[1:]):
            out[p["name"]] = abi_decode([abi_type(p)], topic)[0]
        values = abi_decode([abi_type(p) for p in plain], from_data(log["data"]))
        out.update(zip((p["name"] for p in plain), values))
        return out


def _revert_data(exc):
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return from_data(data)
    return None


class Contract:
    """A deployed contract: ``call`` for views, ``transact`` for transactions.

    Parameters: ``rpc`` (``l1.rpc.Rpc``), ``address`` (hex str), ``abi`` (list or ``Abi``).
    """

    def __init__(self, rpc, address, abi):
        self.rpc = rpc
        self.address = to_checksum_address(address)
        self.abi = abi if isinstance(abi, Abi) else Abi(abi)

    def call(self, name, *args, sender=None, block="latest"):
        """Call a function without a transaction; return its decoded result.

        Raises ``Reverted`` (with the decoded custom error) if the call reverts.
        """
        data = self.abi.encode_function(name, args)
        try:
            out = self.rpc.eth_call({"from": sender, "to": self.address, "data": data},
                                    block)
        except RpcError as exc:
            raw = _revert_data(exc)
            if raw is None and exc.code != 3:
                raise
            err, err_args = decode_error(raw)
            raise Reverted(f"{name}", raw, err, err_args) from exc
        return self.abi.decode_function_output(name, out)

    def transact(self, name, *args, sender, value=0, gas=None):
        """Send a transaction calling ``name``; return the receipt once mined.

        Without ``gas`` the node estimates it and a reverting call raises ``Reverted``
        before anything is mined; with ``gas`` the transaction is mined and a failure
        raises ``Reverted`` carrying the receipt (status 0).
        """
        data = self.abi.encode_function(name, args)
        tx = {"from": sender, "to": self.address, "data": data, "value": value, "gas": gas}
        return send(self.rpc, tx, what=name)

    def events(self, name, from_block=0, to_block="latest", topics=()):
        """Decoded ``name`` events emitted by this contract in a block range.

        ``topics``: extra topic filters after topic0 (bytes32 values or None).
        Returns a list of ``(args_dict, log)`` in chain order.
        """
        flt = [self.abi.event_topic(name), *topics]
        logs = self.rpc.get_logs(self.address, flt, from_block, to_block)
        return [(self.abi.decode_log(name, log), log) for log in logs]


def send(rpc, tx, what="transaction"):
    """Send ``tx`` and wait for its receipt; raise ``Reverted`` on failure."""
    try:
        tx_hash = rpc.send_transaction(tx)
    except RpcError as exc:
        raw = _revert_data(exc)
        if raw is None and exc.code != 3 and "revert" not in str(exc.message):
            raise
        err, err_args = decode_error(raw)
        raise Reverted(what, raw, err, err_args) from exc
    receipt = rpc.wait_receipt(tx_hash)
    if int(receipt["status"], 16) != 1:
        raw = _replay(rpc, tx, int(receipt["blockNumber"], 16))
        err, err_args = decode_error(raw)
        raise Reverted(what, raw, err, err_args, receipt=receipt)
    return receipt


def _replay(rpc, tx, block_number):
    # Re-run a failed transaction on the state before its block to learn why it reverted
    # (exact when the block holds just this transaction, as with anvil's automine).
    call = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value")}
    try:
        rpc.eth_call(call, block_number - 1)
    except RpcError as exc:
        return _revert_data(exc)
    return None


def deploy(rpc, name, *args, sender, abi=None, bytecode=None):
    """Deploy contract ``name`` (artifact) with constructor ``args`` from ``sender``.

    Returns ``(Contract, receipt)``.
    """
    if abi is None or bytecode is None:
        abi, bytecode = load_artifact(name)
    index = Abi(abi)
    data = bytecode + index.encode_constructor(args)
    receipt = send(rpc, {"from": sender, "data": data}, what=f"deploy {name}")
    return Contract(rpc, receipt["contractAddress"], index), receipt


def at(rpc, name, address):
    """A ``Contract`` for an already deployed ``name`` at ``address``."""
    abi, _ = load_artifact(name)
    return Contract(rpc, address, abi)
