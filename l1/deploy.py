"""Deploy the Cartesi Rollups v2 contracts and a test token on a running node.

``python -m l1.deploy --rpc http://127.0.0.1:8545 --out l1/deployment.json``

Deploys, from anvil's first unlocked account unless told otherwise:
``InputBox``; ``ERC20Portal(inputBox)``; ``Authority(owner, epochLength)``;
``Application(authority, owner, templateHash, dataAvailability)`` where
``dataAvailability = DataAvailability.InputBox(inputBox)`` ABI-encoded call, as the
Cartesi factories and node expect; and ``TestToken("Test Token", "TST")``.
The JSON written has ``chain_id, input_box, erc20_portal, authority, application, token,
deploy_block, rpc_url`` plus ``epoch_length, authority_owner, rollups_version``.
"""

import argparse
import json

from eth_utils import keccak, to_checksum_address

from .contracts import deploy, encode_call, rollups_version
from .rpc import Rpc

DEFAULT_EPOCH_LENGTH = 10
DEFAULT_TEMPLATE_HASH = keccak(text="streamable-token-dapp")
REQUIRED_KEYS = ("chain_id", "input_box", "erc20_portal", "authority", "application",
                 "token", "deploy_block", "rpc_url")


def deploy_all(rpc, epoch_length=DEFAULT_EPOCH_LENGTH, deployer=None, owner=None,
               template_hash=DEFAULT_TEMPLATE_HASH):
    """Deploy the whole stack; return the deployment dict (see module doc).

    Parameters: ``rpc`` (``Rpc``), ``epoch_length`` in blocks (claims may only name the
    last block of an epoch), ``deployer`` and ``owner`` (authority and application owner,
    the account that submits claims) default to the node's first account,
    ``template_hash`` (bytes32; no machine template is checked on chain).
    """
    accounts = rpc.accounts()
    deployer = to_checksum_address(deployer or accounts[0])
    owner = to_checksum_address(owner or deployer)
    input_box, receipt = deploy(rpc, "InputBox", sender=deployer)
    deploy_block = int(receipt["blockNumber"], 16)
    portal, _ = deploy(rpc, "ERC20Portal", input_box.address, sender=deployer)
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
    parser = argparse.ArgumentParser(description="Deploy Rollups v2 + test token")
    parser.add_argument("--rpc", default="http://127.0.0.1:8545")
    parser.add_argument("--out", default="l1/deployment.json")
    parser.add_argument("--epoch-length", type=int, default=DEFAULT_EPOCH_LENGTH)
    args = parser.parse_args(argv)
    rpc = Rpc(args.rpc)
    rpc.wait_ready()
    deployment = deploy_all(rpc, epoch_length=args.epoch_length)
    write_deployment(deployment, args.out)
    print(json.dumps(deployment, indent=2))


if __name__ == "__main__":
    main()
