"""A small Ethereum JSON-RPC client over ``requests``, for a local anvil.

Transactions are sent with ``eth_sendTransaction`` from the node's unlocked accounts:
no keys are handled here. Quantities go in and come out as Python ints, data as bytes.
"""

import itertools
import time

import requests

from .errors import L1Error, RpcError


def to_quantity(n):
    """Encode an int as a JSON-RPC quantity (``0x``-hex, no leading zeros)."""
    return hex(int(n))


def to_data(b):
    """Encode bytes (or pass through a ``0x`` string) as JSON-RPC data."""
    if isinstance(b, str):
        return b if b.startswith("0x") else "0x" + b
    return "0x" + bytes(b).hex()


def from_data(s):
    """Decode JSON-RPC data (``0x``-hex) to bytes."""
    return bytes.fromhex(s[2:] if s.startswith("0x") else s)


def block_tag(block):
    """A block argument: an int becomes a quantity, names ('latest', ...) stay."""
    return block if isinstance(block, str) else to_quantity(block)


class Rpc:
    """JSON-RPC client for one node.

    Parameters: ``url`` of the node; ``timeout`` per request in seconds.
    """

    def __init__(self, url, timeout=10.0):
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._ids = itertools.count(1)

    def close(self):
        """Release the HTTP connection pool."""
        self._session.close()

    def call(self, method, *params):
        """Send one request; return its ``result``, or raise ``RpcError``."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                "params": list(params)}
        try:
            resp = self._session.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise L1Error(f"{method}: cannot reach {self.url}: {exc}") from exc
        if resp.status_code // 100 != 2:
            raise L1Error(f"{method}: HTTP {resp.status_code} from {self.url}: {resp.text}")
        answer = resp.json()
        if answer.get("error"):
            err = answer["error"]
            raise RpcError(method, err.get("code"), err.get("message"), err.get("data"))
        return answer.get("result")

    def wait_ready(self, timeout=10.0):
        """Poll ``eth_chainId`` until the node answers; return the chain id."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.chain_id()
            except L1Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # -- chain state -------------------------------------------------------------
    def chain_id(self):
        """Return the chain id (int)."""
        return int(self.call("eth_chainId"), 16)

    def block_number(self):
        """Return the number of the latest block."""
        return int(self.call("eth_blockNumber"), 16)

    def get_block(self, block="latest"):
        """Return a block object (without full transactions)."""
        return self.call("eth_getBlockByNumber", block_tag(block), False)

    def accounts(self):
        """Return the node's unlocked accounts (checksummed strings as the node gives)."""
        return self.call("eth_accounts")

    def get_code(self, address, block="latest"):
        """Return the code at ``address`` as bytes."""
        return from_data(self.call("eth_getCode", address, block_tag(block)))

    def eth_call(self, tx, block="latest"):
        """Run a call (dict with ``to``, ``data``, optional ``from``); return bytes."""
        return from_data(self.call("eth_call", _tx_json(tx), block_tag(block)))

    def get_logs(self, address=None, topics=None, from_block=0, to_block="latest"):
        """Return raw logs (dicts as the node gives them) matching the filter."""
        flt = {"fromBlock": block_tag(from_block), "toBlock": block_tag(to_block)}
        if address is not None:
            flt["address"] = address
        if topics is not None:
            flt["topics"] = [to_data(t) if isinstance(t, (bytes, bytearray)) else t
                             for t in topics]
        return self.call("eth_getLogs", flt)

    # -- transactions ------------------------------------------------------------
    def send_transaction(self, tx):
        """Send a transaction from an unlocked account; return its hash (str).

        ``tx``: dict with ``from``, optional ``to``, ``data`` (bytes), ``value``, ``gas``.
        Without ``gas`` the node estimates it, so a reverting call raises ``RpcError``
        here, before anything is mined.
        """
        return self.call("eth_sendTransaction", _tx_json(tx))

    def wait_receipt(self, tx_hash, timeout=30.0):
        """Poll until the transaction is mined; return its receipt."""
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise L1Error(f"transaction {tx_hash} not mined after {timeout}s")
            time.sleep(0.02)

    # -- anvil test methods ------------------------------------------------------
    def mine(self, count=1):
        """Mine ``count`` empty blocks (``anvil_mine``, else ``evm_mine`` repeatedly)."""
        if count <= 0:
            return
        try:
            self.call("anvil_mine", to_quantity(count))
        except RpcError:
            for _ in range(count):
                self.call("evm_mine")

    def snapshot(self):
        """Take a state snapshot; return its id (pass it to ``revert``)."""
        return self.call("evm_snapshot")

    def revert(self, snapshot_id):
        """Return the chain to a snapshot; True if it existed."""
        return bool(self.call("evm_revert", snapshot_id))


def _tx_json(tx):
    out = {}
    for key, val in tx.items():
        if val is None:
            continue
        if key in ("value", "gas", "gasPrice", "nonce"):
            out[key] = to_quantity(val)
        elif key in ("data", "input"):
            out[key] = to_data(val)
        else:
            out[key] = val
    return out
