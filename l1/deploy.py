"""Deploy the Cartesi Rollups v2 contracts and a test token on a running node.

``python -m l1.deploy --rpc http://127.0.0.1:8545 --out l1/deployment.json``

Deploys, from anvil's first unlocked account unless told otherwise:
``InputBox``; ``ERC20Portal(inputBox)``; ``Authority(owner, epochLength)``;
``Application(authority, owner, templateHash, dataAvailability)`` where
``dataAvailability = DataAvailability.InputBox(inputBox)`` ABI-encoded call, as the
Cartesi factories and node expect; and ``TestToken("Test Token", "TST")``.
The JSON written has ``chain_id, input_box, erc20_portal, authority, application, token,
deploy_block, rpc_url`` plus ``epoch_length, authority_owner, rollups_version, addresses``.

**Addresses the official clients know.** The Cartesi CLI and ``@cartesi/viem`` have the
InputBox and ERC20Portal addresses built in (no flag changes them), so by default
(``--addresses cli``) the two contracts are moved where the pinned ``@cartesi/cli``
2.0.0-alpha.2 sends inputs and deposits: InputBox is deployed, its runtime code is placed
at the official address with anvil's ``anvil_setCode``, then an ERC20Portal bound to that
address (its InputBox is an immutable in its code) is deployed and placed the same way.
``--addresses rollups-2.2`` uses the addresses ``@cartesi/viem`` 2.0.0-alpha.31 has built
in for Rollups 2.2; ``--addresses fresh`` leaves both where they were deployed. Only a node
with ``anvil_setCode`` (anvil, a dev chain) can do the first two.
"""

import argparse
import json

from rollup_host import cli

from eth_utils import keccak, to_checksum_address

from .contracts import Contract, deploy, encode_call, rollups_version
from .errors import L1Error, RpcError
from .rpc import Rpc

DEFAULT_EPOCH_LENGTH = 10
# (InputBox, ERC20Portal) where each client looks for them.
OFFICIAL_ADDRESSES = {
    "cli": ("0x593E5BCf894D6829Dd26D0810DA7F064406aebB6",       # @cartesi/cli 2.0.0-alpha.2
            "0xB0e28881FF7ee9CD5B1229d570540d74bce23D39"),
    "rollups-2.2": ("0x346B3df038FE9f8380071eC6514D5a83aD143939",  # @cartesi/viem 2.0.0-alpha.31
                    "0x22E57511C30CcE6CDaa742E13CE3b774fDC663b1"),
    "fresh": None,
}
DEFAULT_TEMPLATE_HASH = keccak(text="streamable-token-dapp")
REQUIRED_KEYS = ("chain_id", "input_box", "erc20_portal", "authority", "application",
                 "token", "deploy_block", "rpc_url")


def place_at(rpc, contract, address):
    """Put ``contract``'s runtime code at ``address`` (``anvil_setCode``); return the
    contract handle there. Raises ``L1Error`` if the node lacks the method or the code
    did not land."""
    code = rpc.get_code(contract.address)
    try:
        rpc.call("anvil_setCode", address, "0x" + code.hex())
    except RpcError as exc:
        raise L1Error(f"cannot place code at {address}: the node has no anvil_setCode "
                      f"({exc}); use --addresses fresh") from exc
    if rpc.get_code(address) != code:
        raise L1Error(f"anvil_setCode did not place the code at {address}")
    return Contract(rpc, address, contract.abi)


def deploy_all(rpc, epoch_length=DEFAULT_EPOCH_LENGTH, deployer=None, owner=None,
               template_hash=DEFAULT_TEMPLATE_HASH, addresses="cli"):
    """Deploy the whole stack; return the deployment dict (see module doc).

    Parameters: ``rpc`` (``Rpc``), ``epoch_length`` in blocks (claims may only name the
    last block of an epoch), ``deployer`` and ``owner`` (authority and application owner,
    the account that submits claims) default to the node's first account,
    ``template_hash`` (bytes32; no machine template is checked on chain), ``addresses``
    (a key of ``OFFICIAL_ADDRESSES``: where InputBox and ERC20Portal end up).
    """
    if addresses not in OFFICIAL_ADDRESSES:
        raise ValueError(f"addresses must be one of {sorted(OFFICIAL_ADDRESSES)}, "
                         f"got {addresses!r}")
    official = OFFICIAL_ADDRESSES[addresses]
    accounts = rpc.accounts()
    deployer = to_checksum_address(deployer or accounts[0])
    owner = to_checksum_address(owner or deployer)
    input_box, receipt = deploy(rpc, "InputBox", sender=deployer)
    deploy_block = int(receipt["blockNumber"], 16)
    if official:
        input_box = place_at(rpc, input_box, official[0])
    portal, _ = deploy(rpc, "ERC20Portal", input_box.address, sender=deployer)
    if official:
        portal = place_at(rpc, portal, official[1])
    authority, _ = deploy(rpc, "Authority", owner, epoch_length, sender=deployer)
    data_availability = encode_call("InputBox(address)", input_box.address)
    application, _ = deploy(rpc, "Application", authority.address, owner, template_hash,
                            data_availability, sender=deployer)
    token, _ = deploy(rpc, "TestToken", "Test Token", "TST", sender=deployer)
    return {
        "chain_id": rpc.chain_id(),
        "input_box": input_box.address,
        "erc20_portal": portal.address,
        "authority": authority.address,
        "application": application.address,
        "token": token.address,
        "deploy_block": deploy_block,
        "rpc_url": rpc.url,
        "epoch_length": epoch_length,
        "authority_owner": owner,
        "template_hash": "0x" + bytes(template_hash).hex(),
        "rollups_version": rollups_version(),
        "addresses": addresses,
    }


def write_deployment(deployment, path):
    """Write the deployment dict as JSON to ``path``."""
    with open(path, "w") as fh:
        json.dump(deployment, fh, indent=2)
        fh.write("\n")


def load_deployment(path):
    """Read a deployment JSON; raise ``KeyError`` naming any missing required key."""
    with open(path) as fh:
        deployment = json.load(fh)
    missing = [k for k in REQUIRED_KEYS if k not in deployment]
    if missing:
        raise KeyError(f"{path}: missing keys {missing}")
    return deployment


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m l1.deploy", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="the L1 node's JSON-RPC URL")
    parser.add_argument("--out", default="l1/deployment.json",
                        help="where to write the deployment JSON (also printed)")
    parser.add_argument("--epoch-length", type=int, default=DEFAULT_EPOCH_LENGTH,
                        help="blocks per epoch of the Authority")
    parser.add_argument("--addresses", choices=sorted(OFFICIAL_ADDRESSES), default="cli",
                        help="where InputBox and ERC20Portal go: the pinned Cartesi CLI's "
                             "built-in addresses (cli), @cartesi/viem's for Rollups "
                             "2.2 (rollups-2.2), or where they were deployed (fresh)")
    args = parser.parse_args(argv)
    rpc = Rpc(args.rpc)
    rpc.wait_ready()
    deployment = deploy_all(rpc, epoch_length=args.epoch_length, addresses=args.addresses)
    write_deployment(deployment, args.out)
    print(json.dumps(deployment, indent=2))


if __name__ == "__main__":
    cli.run(main)
