"""The outputs Merkle tree of Cartesi Rollups v2, as the contracts compute it (pure).

Mirrors ``LibMerkle32`` and ``LibOutputValidityProof`` of ``@cartesi/rollups`` 2.2.0:

- leaves are ``keccak256(output)`` in output-index order; missing leaves are
  ``bytes32(0)``, and an empty subtree of height h hashes to ``zero[h]`` where
  ``zero[0] = 0`` and ``zero[h+1] = keccak256(zero[h] ‖ zero[h])``;
- a parent is ``keccak256(left ‖ right)``;
- the tree has height ``CanonicalMachine.LOG2_MAX_OUTPUTS = 63``;
- a proof (``OutputValidityProof``) is ``(outputIndex, outputHashesSiblings)`` with
  exactly 63 siblings, bottom-up; the root is rebuilt by hashing the leaf with each
  sibling, on the left when the index bit is 0 (``merkleRootAfterReplacement``).

Roots and proofs cost O(n + height) for n leaves.
"""

from eth_utils import keccak

LOG2_MAX_OUTPUTS = 63
ZERO = b"\x00" * 32


def _zero_hashes(height):
    out = [ZERO]
    for _ in range(height):
        out.append(keccak(out[-1] + out[-1]))
    return out


ZERO_HASHES = _zero_hashes(LOG2_MAX_OUTPUTS)


def parent(left, right):
    """Hash of an inner node: ``keccak256(left ‖ right)``."""
    return keccak(left + right)


def output_hash(output):
    """Leaf of an output: ``keccak256(output)`` (``output`` is the encoded bytes)."""
    return keccak(output)


def _check(leaves, height):
    if not 0 <= height <= LOG2_MAX_OUTPUTS:
        raise ValueError(f"height {height} out of range 0..{LOG2_MAX_OUTPUTS}")
    if len(leaves) > 1 << height:
        raise ValueError(f"{len(leaves)} leaves do not fit a tree of height {height}")
    for leaf in leaves:
        if len(leaf) != 32:
            raise ValueError("leaves must be 32-byte hashes")


def _parent_level(nodes, default):
    return [parent(nodes[i], nodes[i + 1] if i + 1 < len(nodes) else default)
            for i in range(0, len(nodes), 2)]


def merkle_root(leaves, height=LOG2_MAX_OUTPUTS):
    """Root of the tree whose first leaves are ``leaves`` (bytes32 each), rest zero."""
    leaves = list(leaves)
    _check(leaves, height)
    for level in range(height):
        if not leaves:
            return ZERO_HASHES[height]
        leaves = _parent_level(leaves, ZERO_HASHES[level])
    return leaves[0] if leaves else ZERO_HASHES[height]


def siblings(leaves, index, height=LOG2_MAX_OUTPUTS):
    """The ``height`` siblings, bottom-up, proving leaf ``index`` in ``leaves``' tree."""
    leaves = list(leaves)
    _check(leaves, height)
    if not 0 <= index < 1 << height:
        raise ValueError(f"index {index} out of range for height {height}")
    out = []
    for level in range(height):
        sib = index ^ 1
        out.append(leaves[sib] if sib < len(leaves) else ZERO_HASHES[level])
        leaves = _parent_level(leaves, ZERO_HASHES[level])
        index >>= 1
    return out


def root_from_proof(leaf, index, sibs):
    """The root a proof implies (``merkleRootAfterReplacement``); ValueError if the
    index does not fit ``len(sibs)`` levels, as the contract requires."""
    node = leaf
    for sib in sibs:
        node = parent(node, sib) if index & 1 == 0 else parent(sib, node)
        index >>= 1
    if index != 0:
        raise ValueError("index out of bounds for the number of siblings")
    return node


class OutputsTree:
    """Append-only list of output hashes with roots and proofs of any prefix.

    ``append(output)`` adds the leaf of the next output index; ``root(n)`` and
    ``proof(index, n)`` refer to the tree holding the first ``n`` outputs (default all),
    which is what a claim made after ``n`` outputs commits to.
    """

    def __init__(self, height=LOG2_MAX_OUTPUTS):
        self.height = height
        self.leaves = []

    def __len__(self):
        return len(self.leaves)

    def append(self, output):
        """Add ``output`` (bytes) as the next leaf; return its index."""
        self.leaves.append(output_hash(output))
        return len(self.leaves) - 1

    def root(self, n=None):
        """Root of the first ``n`` leaves."""
        return merkle_root(self.leaves[:len(self.leaves) if n is None else n], self.height)

    def proof(self, index, n=None):
        """``(index, siblings)`` for output ``index`` in the tree of the first ``n``."""
        n = len(self.leaves) if n is None else n
        if not 0 <= index < n:
            raise ValueError(f"output {index} is not among the first {n} outputs")
        return index, siblings(self.leaves[:n], index, self.height)
