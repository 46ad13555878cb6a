"""The outputs as the node knows them: every accepted output as the Application contract
executes it (``Notice(bytes)`` / ``Voucher(address,uint256,bytes)`` calls) by global
index, their Merkle tree (``l1.merkle``'s, the one the bridge claims with), the claims
the Authority accepted and the vouchers executed on L1, as the bridge reports them.

``OutputBook`` holds no lock: ``NodeApi`` calls it under its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from l1.codec import encode_notice, encode_voucher
from l1.merkle import LOG2_MAX_OUTPUTS, ZERO_HASHES, parent

from .codec import InvalidField, from_hex, to_hex
from .rpc_params import HASH, INTERNAL_ERROR, RpcError, qty

__all__ = ["Claim", "OutputBook", "OutputTree", "check_claim", "check_execution"]


@dataclass
class Claim:
    """A claim the bridge submitted and the Authority accepted."""

    last_block: int
    root: bytes
    output_count: int
    transaction_hash: str | None


class OutputTree:
    """The outputs Merkle tree of ``l1.merkle`` with every level kept, per prefix size,
    so a sibling is a lookup (a page of 50 proofs costs no rehashing)."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self._levels: dict[int, list[list[bytes]]] = {}

    def levels(self, n: int) -> list[list[bytes]]:
        cached = self._levels.get(n)
        if cached is None:
            level = self.leaves[:n]
            cached = [level]
            for height in range(LOG2_MAX_OUTPUTS):
                if len(level) <= 1 and height:
                    break
                level = [parent(level[i], level[i + 1] if i + 1 < len(level)
                                else ZERO_HASHES[height]) for i in range(0, len(level), 2)]
                cached.append(level)
            if len(self._levels) >= 8:
                self._levels.pop(next(iter(self._levels)))
            self._levels[n] = cached
        return cached

    def root(self, n: int) -> bytes:
        if n == 0:
            return ZERO_HASHES[LOG2_MAX_OUTPUTS]
        levels = self.levels(n)
        node = levels[-1][0]
        for height in range(len(levels) - 1, LOG2_MAX_OUTPUTS):
            node = parent(node, ZERO_HASHES[height])
        return node

    def siblings(self, index: int, n: int) -> list[bytes]:
        levels = self.levels(n)
        out = []
        for height in range(LOG2_MAX_OUTPUTS):
            nodes = levels[height] if height < len(levels) else []
            sib = (index >> height) ^ 1
            out.append(nodes[sib] if sib < len(nodes) else ZERO_HASHES[height])
        return out


class OutputBook:
    """Accepted outputs by global index (``outputs``: the input, ``raw`` and ``decoded``),
    their tree, the claims (sorted by last block) and the executions (output index ->
    L1 transaction hash)."""

    def __init__(self) -> None:
        self.claims: list[Claim] = []
        self.executions: dict[int, str] = {}  # output index -> L1 transaction hash
        self.tree = OutputTree()
        self.outputs: list[dict[str, Any]] = []   # accepted outputs by global index
        self.seen_inputs = 0                      # finished inputs folded into outputs

    def fold(self, finished: list[Any]) -> None:
        """Fold the outputs of inputs finished since the last call into the book."""
        for request in finished[self.seen_inputs:]:
            outputs = [("notice", n) for n in request.notices]
            outputs += [("voucher", v) for v in request.vouchers]
            outputs.sort(key=lambda item: item[1]["index"])
            for kind, item in outputs:
                if item["index"] != len(self.outputs):
                    raise RpcError(INTERNAL_ERROR, f"output index {item['index']} out of "
                                                   f"order (expected {len(self.outputs)})")
                payload = from_hex(item["payload"])
                if kind == "notice":
                    raw = encode_notice(payload)
                    decoded = {"type": "Notice", "payload": item["payload"]}
                else:
                    value = int(item.get("value", "0x0"), 16)
                    raw = encode_voucher(item["destination"], value, payload)
                    decoded = {"type": "Voucher", "destination": item["destination"],
                               "value": qty(value), "payload": item["payload"]}
                self.outputs.append({"input": request, "raw": raw, "decoded": decoded})
                self.tree.leaves.append(keccak(raw))
        self.seen_inputs = len(finished)

    def claim_for(self, index: int) -> Claim | None:
        """The earliest claim that holds output ``index`` (its proof is against it)."""
        for claim in self.claims:
            if claim.output_count > index:
                return claim
        return None

    def proof(self, index: int) -> tuple[str | None, list[str] | None]:
        """Output ``index``'s leaf hash and siblings (bottom-up), or ``(None, None)``
        until a claim holds it."""
        claim = self.claim_for(index)
        if claim is None:
            return None, None
        return (to_hex(self.tree.leaves[index]),
                [to_hex(s) for s in self.tree.siblings(index, claim.output_count)])

    def record_claim(self, last_block: int, root: str, output_count: int,
                     transaction_hash: str | None) -> None:
        """Keep a claim (fields checked by ``check_claim``) if its root is this book's; a
        second claim of the same epoch changes nothing. ``InvalidField`` if the count or
        the root differ."""
        root_bytes = from_hex(root, "outputs_merkle_root")
        if output_count > len(self.outputs):
            raise InvalidField("output_count", output_count,
                               f"at most the {len(self.outputs)} outputs this host has")
        mine = self.tree.root(output_count)
        if mine != root_bytes:
            raise InvalidField("outputs_merkle_root", root,
                               f"{to_hex(mine)}, the root of this host's first "
                               f"{output_count} outputs")
        if not any(c.last_block == last_block for c in self.claims):
            self.claims.append(Claim(last_block, root_bytes, output_count,
                                     transaction_hash and transaction_hash.lower()))
            self.claims.sort(key=lambda c: c.last_block)

    def record_execution(self, output_index: int, transaction_hash: str) -> None:
        """Keep that voucher ``output_index`` was executed; ``InvalidField`` if there is
        no such voucher here."""
        if (output_index >= len(self.outputs)
                or self.outputs[output_index]["decoded"]["type"] != "Voucher"):
            raise InvalidField("output_index", output_index,
                               f"the index of a voucher among this host's "
                               f"{len(self.outputs)} outputs")
        self.executions[output_index] = transaction_hash.lower()


def check_claim(last_block: Any, root: Any, output_count: Any, transaction_hash: Any,
                epoch_length: int) -> None:
    """Check a reported claim's fields (``InvalidField`` naming the one that is wrong):
    ``last_block`` ends an epoch of ``epoch_length`` blocks, the root is 32 bytes."""
    length = epoch_length
    if (isinstance(last_block, bool) or not isinstance(last_block, int) or last_block < 0
            or last_block % length != length - 1):
        raise InvalidField("last_block", last_block,
                           f"the last block of an epoch of {length} blocks "
                           f"(block % {length} == {length - 1}; is --epoch-length right?)")
    if isinstance(output_count, bool) or not isinstance(output_count, int) or output_count < 0:
        raise InvalidField("output_count", output_count, "non-negative integer")
    root_bytes = from_hex(root, "outputs_merkle_root")
    if len(root_bytes) != 32:
        raise InvalidField("outputs_merkle_root", root, "32-byte hex hash")
    if transaction_hash is not None and (not isinstance(transaction_hash, str)
                                         or HASH.fullmatch(transaction_hash) is None):
        raise InvalidField("transaction_hash", transaction_hash, "32-byte hex hash")


def check_execution(output_index: Any, transaction_hash: Any) -> None:
    """Check a reported execution's fields (``InvalidField`` naming the one that is wrong)."""
    if (isinstance(output_index, bool) or not isinstance(output_index, int)
            or output_index < 0):
        raise InvalidField("output_index", output_index, "non-negative integer")
    if not isinstance(transaction_hash, str) or HASH.fullmatch(transaction_hash) is None:
        raise InvalidField("transaction_hash", transaction_hash, "32-byte hex hash")
