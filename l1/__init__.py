"""L1 side of the local round trip: anvil, the Cartesi Rollups v2 contracts, a node bridge.

Modules, one concern each:

- ``errors``: the package's exception tree (``L1Error`` at the root).
- ``rpc``: a small JSON-RPC client over ``requests`` (anvil's unlocked accounts).
- ``contracts``: artifacts from ``node_modules/@cartesi/rollups/out``, ABI encoding, deploys.
- ``compile``: builds the test ERC-20 with the pinned solc-js.
- ``anvil``: starts and stops a local anvil.
- ``deploy``: deploys InputBox, ERC20Portal, Authority, Application and the test token.
- ``codec``: v2 input (``EvmAdvance``) and output (``Notice``/``Voucher``) encodings.
- ``merkle``: the outputs Merkle tree, as ``LibMerkle32`` computes it (pure).
- ``bridge``: InputBox events -> rollup host ``/dev/advance``; claims; voucher execution.
- ``app``: ``make app``, the whole stack behind the web page (``Stack`` for tests).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"
