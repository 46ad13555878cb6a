"""``make app``: the whole local stack behind the web page, in one command.

anvil with the contracts (as ``make l1-up``, writing ``l1/deployment.json``), 1,000 test
tokens for anvil's accounts 1, 2 and 3, the rollup host serving the page (``--web``) on
that deployment, ``dapp.py`` beside it, and the bridge (feeds inputs, claims epochs; the
user executes vouchers). Blocks come every second on their own so streams visibly flow.
Ctrl-C or SIGTERM stops everything it started and prints ``stopped``.

The DApp's database and log live in a fresh temporary directory, removed at the stop:
a new chain needs a new database, and nothing is left to clean up (``make run``'s
``db/dapp.sqlite`` is never touched).

``Stack`` is the same stack as an object, for tests (the Playwright page test starts it
in-process, without automatic blocks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from eth_utils import to_checksum_address

from rollup_host import cli
from rollup_host.child import stop as stop_child
from rollup_host.deployment import deployment_options
from rollup_host.server import RollupHostServer, make_server, serve_in_thread
from rollup_host.web import attach

from . import REPO_ROOT
from .anvil import Anvil
from .bridge import Bridge
from .contracts import Contract, at
from .deploy import DEFAULT_EPOCH_LENGTH, OFFICIAL_ADDRESSES, deploy_all, write_deployment
from .up import port_free

__all__ = ["Stack", "build_page", "main", "TEST_ACCOUNTS", "TEST_TOKENS"]

TEST_ACCOUNTS = (1, 2, 3)   # anvil's mnemonic accounts that get test tokens at the start
TEST_TOKENS = 1_000         # whole tokens each (times 10**decimals)
DEFAULT_WEB = REPO_ROOT / "build" / "web"


class Stack:
    """anvil + contracts + rollup host (serving the page) + ``dapp.py`` + bridge.

    Why a class: ``python -m l1.app`` and the page's browser test must run the very same
    stack, and a test needs its pieces (the RPC, the token, the host URL) as objects.

    Constructor: ``tmp`` (a directory for the deployment, the DApp's database and its log
    ``dapp.log``), ``port`` (the host's; 0 picks a free one), ``block_time`` (seconds
    between anvil's automatic blocks, with ``--mixed-mining`` so transactions are mined at
    once too; None: a block per transaction only, a test mines with ``rpc.mine``),
    ``epoch_length`` (blocks), ``web_dir`` (the page served at ``/``; None: no page, still
    ``/deployment.json`` and ``/anvil``). Keywords: ``anvil_port`` (0: free),
    ``deployment_path`` (default ``tmp/deployment.json``), ``addresses`` (see
    ``l1.deploy``), ``bridge_interval`` (s), ``log`` (bridge lines; default kept in
    ``bridge_log``).

    ``start()`` brings everything up (and tears down what it started if a step fails);
    ``close()`` stops the bridge, the DApp, the host and anvil, in that order, and may be
    called more than once. Also a context manager. Attributes once started: ``url`` (the
    host, no trailing slash; the page is ``url + "/"``), ``deployment`` (dict) and
    ``deployment_path``, ``anvil``, ``rpc``, ``server``, ``dapp`` (``Popen``), ``bridge``,
    ``token`` (the TestToken ``Contract``), ``accounts`` (anvil's, checksummed),
    ``bridge_log``, ``bridge_errors`` (exceptions that ended the bridge thread).
    """

    def __init__(self, tmp: str | Path, port: int = 0, block_time: float | None = 1.0,
                 epoch_length: int = DEFAULT_EPOCH_LENGTH, web_dir: str | Path | None = None,
                 *, anvil_port: int = 0, deployment_path: str | Path | None = None,
                 addresses: str = "cli", bridge_interval: float = 0.2,
                 log: Callable[[str], None] | None = None) -> None:
        self.tmp = Path(tmp)
        self.port = port
        self.block_time = block_time
        self.epoch_length = epoch_length
        self.web_dir = None if web_dir is None else Path(web_dir)
        self.anvil_port = anvil_port
        self.deployment_path = Path(deployment_path or self.tmp / "deployment.json")
        self.addresses = addresses
        self.bridge_interval = bridge_interval
        self.bridge_log: list[str] = []
        self.bridge_errors: list[BaseException] = []
        self._log = log or self.bridge_log.append
        self._stop_bridge = threading.Event()
        self._thread: threading.Thread | None = None
        self.anvil: Anvil | None = None
        self.server: RollupHostServer | None = None
        self.dapp: subprocess.Popen[bytes] | None = None
        self.bridge: Bridge | None = None
        self.deployment: dict[str, Any] = {}
        self.token: Contract | None = None
        self.accounts: list[str] = []
        self.url = ""

    # -- lifecycle

    def start(self) -> Stack:
        """Start every piece in order; on failure stop what started and re-raise."""
        try:
            self._start_chain()
            self._start_host()
            self._start_dapp()
            self._start_bridge()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the bridge, then the DApp (so it never sees its host vanish mid-call),
        then the host, then anvil. Safe to call again or after a failed start."""
        self._stop_bridge.set()
        if self._thread is not None:
            self._thread.join(timeout=max(10.0, 5 * self.bridge_interval))
        if self.dapp is not None:
            stop_child(self.dapp, ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0)))
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.anvil is not None:
            self.anvil.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pids(self) -> dict[str, int]:
        """The child processes this stack started (a test checks none outlives it)."""
        pids = {}
        if self.anvil is not None:
            pids["anvil"] = self.anvil.process.pid
        if self.dapp is not None:
            pids["dapp"] = self.dapp.pid
        return pids

    # -- the pieces

    def _start_chain(self) -> None:
        # Mixed mining: each transaction is mined at once, and a block comes every
        # block_time seconds besides (as l1/up.py).
        extra = ["--mixed-mining"] if self.block_time else []
        self.anvil = Anvil(port=self.anvil_port, block_time=self.block_time or None, extra=extra)
        self.rpc = self.anvil.rpc
        self.deployment = deploy_all(self.rpc, epoch_length=self.epoch_length,
                                     addresses=self.addresses)
        write_deployment(self.deployment, self.deployment_path)
        self.accounts = [to_checksum_address(a) for a in self.rpc.accounts()]
        self.token = at(self.rpc, "TestToken", self.deployment["token"])
        unit = 10 ** self.token.call("decimals")
        for index in TEST_ACCOUNTS:  # TestToken's public mint: anyone may mint to anyone
            account = self.accounts[index]
            self.token.transact("mint", account, TEST_TOKENS * unit, sender=account)

    def _start_host(self) -> None:
        options = deployment_options(str(self.deployment_path))  # as `serve --deployment`
        self.server = make_server("127.0.0.1", self.port, rollups="v2", wait_timeout=60.0,
                                  **options)
        attach(self.server, web_dir=self.web_dir, deployment=self.deployment_path)
        serve_in_thread(self.server)
        self.url = self.server.url

    def _start_dapp(self) -> None:
        # As `rollup_host up` runs it: its own session, so a terminal's Ctrl-C reaches
        # only us and we stop it in order.
        env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=self.url, ROLLUPS_VERSION="v2",
                   DAPP_DB=str(self.tmp / "dapp.sqlite"),
                   DAPP_DEPLOYMENT=str(self.deployment_path))
        env.pop("PORTAL_ADDRESS", None)
        env.pop("APP_ADDRESS", None)
        with open(self.tmp / "dapp.log", "wb") as log:
            self.dapp = subprocess.Popen([sys.executable, str(REPO_ROOT / "dapp.py")],
                                         cwd=REPO_ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def _start_bridge(self) -> None:
        # The node's L1 side: feeds each InputAdded to the host and claims each epoch
        # once the chain has passed its end; vouchers are the user's to execute.
        self.bridge = Bridge(self.rpc, self.deployment, self.url)
        self._thread = threading.Thread(target=self._run_bridge, name="bridge", daemon=True)
        self._thread.start()

    def _run_bridge(self) -> None:
        assert self.bridge is not None
        try:
            self.bridge.run(interval=self.bridge_interval, claim=True, execute=False,
                            stop=self._stop_bridge, log=self._log)
        except BaseException as exc:  # noqa: BLE001 (surfaced to the caller)
            self.bridge_errors.append(exc)
            self._log(f"bridge stopped: {exc!r}")


def build_page(out: str | Path, minify: bool = True) -> Path:
    """Bundle the page into ``out`` as ``make web`` does (the pinned esbuild from npm), for
    the browser test and the page benchmark, which build their own copy."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    command = [str(REPO_ROOT / "node_modules" / ".bin" / "esbuild"), "web/main.js", "--bundle",
               "--format=esm", f"--outfile={out / 'app.js'}", "--log-level=warning"]
    done = subprocess.run(command + (["--minify"] if minify else []), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"esbuild failed ({done.returncode}): {done.stderr}")
    for name in ("index.html", "style.css"):
        shutil.copy(REPO_ROOT / "web" / name, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code (0 after Ctrl-C/SIGTERM)."""
    parser = argparse.ArgumentParser(prog="python -m l1.app", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--port", type=int, default=5004,
                        help="the host's (and page's) port; another free one if taken")
    parser.add_argument("--anvil-port", type=int, default=8545,
                        help="anvil's port; another free one if taken")
    parser.add_argument("--epoch-length", type=int, default=DEFAULT_EPOCH_LENGTH,
                        help="blocks per epoch of the Authority (claims name an epoch's last block)")
    parser.add_argument("--block-time", type=float, default=1.0,
                        help="seconds between automatic blocks (0: none)")
    parser.add_argument("--web", default=str(DEFAULT_WEB),
                        help="the built page (default build/web, as `make web` writes it)")
    parser.add_argument("--out", default=str(REPO_ROOT / "l1" / "deployment.json"),
                        help="where to write the deployment (default l1/deployment.json)")
    parser.add_argument("--addresses", choices=sorted(OFFICIAL_ADDRESSES), default="cli",
                        help="InputBox/ERC20Portal at the pinned Cartesi CLI's addresses (cli), "
                             "at @cartesi/viem's for Rollups 2.2 (rollups-2.2), or where deployed "
                             "(fresh)")
    parser.add_argument("--quiet-bridge", action="store_true", help="do not print bridge lines")
    args = parser.parse_args(argv)
    if not (Path(args.web) / "index.html").is_file():
        print(f"error: no page in {args.web} (build it with `make web`)", file=sys.stderr)
        return 2

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    port = args.port if args.port == 0 or port_free(args.port) else 0
    anvil_port = args.anvil_port if args.anvil_port == 0 or port_free(args.anvil_port) else 0
    log = (lambda line: None) if args.quiet_bridge else (lambda line: print(line, flush=True))
    code = 0
    with tempfile.TemporaryDirectory(prefix="streamable-app-") as tmp:
        stack = Stack(tmp, port=port, block_time=args.block_time or None,
                      epoch_length=args.epoch_length, web_dir=args.web, anvil_port=anvil_port,
                      deployment_path=args.out, addresses=args.addresses, log=log)
        try:
            stack.start()
            print_banner(stack, args.out, tmp)
            while not stop.wait(0.2):
                problem = _dead_piece(stack)
                if problem and not stop.is_set():  # a Ctrl-C also reaches anvil: not a death
                    print(f"error: {problem}; stopping", file=sys.stderr, flush=True)
                    code = 1
                    break
        except Exception as exc:  # noqa: BLE001 (a failed start, said in one line)
            if not stop.is_set():
                print(f"error: the stack did not start: {exc}", file=sys.stderr, flush=True)
                code = 2
        finally:
            stack.close()
    print("stopped", flush=True)
    return code


def print_banner(stack: Stack, deployment_path: str, tmp: str) -> None:
    """The page's URL, what to try it with, and where things are."""
    dep = stack.deployment
    holders = ", ".join(f"#{i} {stack.accounts[i]}" for i in TEST_ACCOUNTS)
    print(f"anvil on {stack.anvil.url if stack.anvil else '?'} (chain {dep['chain_id']}); "
          f"deployment written to {deployment_path}; DApp database and log in {tmp} "
          f"(removed at the stop)")
    print(f"processes: anvil {stack.pids.get('anvil')}, dapp {stack.pids.get('dapp')}")
    print(f"page: {stack.url}/")
    print(f"try it: anvil accounts {holders} (test mnemonic) hold {TEST_TOKENS:,} TST each "
          f"(token {dep['token']}); Ctrl-C stops everything", flush=True)


def _dead_piece(stack: Stack) -> str | None:
    """Which started piece died on its own, if any (then the stack stops)."""
    if stack.dapp is not None and stack.dapp.poll() is not None:
        tail = (stack.tmp / "dapp.log").read_text(errors="replace").splitlines()[-20:]
        return "\n".join([f"dapp.py exited with code {stack.dapp.returncode}; its log ends:", *tail])
    if stack.anvil is not None and stack.anvil.process.poll() is not None:
        return f"anvil exited with code {stack.anvil.process.returncode}"
    return None


if __name__ == "__main__":
    cli.run(main)
