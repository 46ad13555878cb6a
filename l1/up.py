"""``make l1-up``: start anvil, deploy the contracts, write the deployment, wait.

Uses the requested port (default 8545) when free, else any free port; the deployment
JSON records the URL. Anvil mines a block every ``--block-time`` seconds (default 1) so
that epochs close and a bridge running alongside can claim without mining itself.
"""

import argparse
import socket
import time

from rollup_host import cli

from .anvil import Anvil
from .deploy import DEFAULT_EPOCH_LENGTH, OFFICIAL_ADDRESSES, deploy_all, write_deployment


def port_free(port, host="127.0.0.1"):
    """True when nothing listens on ``host:port``."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m l1.up", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--port", type=int, default=8545,
                        help="anvil's port; any free one when it is taken")
    parser.add_argument("--epoch-length", type=int, default=DEFAULT_EPOCH_LENGTH,
                        help="blocks per epoch of the Authority (claims name an epoch's last block)")
    parser.add_argument("--block-time", type=float, default=1.0,
                        help="seconds between the blocks anvil mines on its own (0: only one per "
                             "transaction)")
    parser.add_argument("--out", default="l1/deployment.json",
                        help="where to write the deployment JSON (addresses, chain id, rpc_url)")
    parser.add_argument("--addresses", choices=sorted(OFFICIAL_ADDRESSES), default="cli",
                        help="InputBox/ERC20Portal at the pinned Cartesi CLI's addresses "
                             "(cli), at @cartesi/viem's for Rollups 2.2 (rollups-2.2), or where "
                             "deployed (fresh)")
    args = parser.parse_args(argv)
    cli.stop_on_signals()  # SIGTERM stops anvil the same way Ctrl-C does
    port = args.port if port_free(args.port) else 0
    block_time = args.block_time if args.block_time > 0 else None
    # Mixed mining: each transaction is mined at once, and a block comes every
    # block_time seconds besides.
    extra = ["--mixed-mining"] if block_time else []
    with Anvil(port=port, block_time=block_time, extra=extra) as anvil:
        deployment = deploy_all(anvil.rpc, epoch_length=args.epoch_length,
                                addresses=args.addresses)
        write_deployment(deployment, args.out)
        print(f"anvil on {anvil.url}; deployment written to {args.out}:")
        for key, value in deployment.items():
            print(f"  {key}: {value}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while anvil.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    cli.run(main)
