"""Command line for the local rollup host: ``python -m rollup_host <command>``.

``serve`` runs the host; ``up`` runs the host and ``dapp.py`` together (``make run``);
the other commands are a client for a running host (``--url`` or ``$ROLLUP_HOST_URL``).
Results are printed decoded: JSON payloads as JSON, ERC-20 transfer vouchers as
``transfer(to, amount)``. The exit code is 1 when the input or inspect was rejected,
2 when the host could not be reached or refused the request.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

import requests

from .child import stop as stop_child
from .client import DEFAULT_URL, HostClient, HostRequestError
from .codec import (
    DEFAULT_APP_ADDRESS,
    DEFAULT_APP_NAME,
    DEFAULT_CHAIN_ID,
    InvalidField,
    decode_payload,
    decode_transfer,
    from_hex,
)
from .deployment import deployment_options
from .server import make_server, start_in_thread

REPO_ROOT = Path(__file__).resolve().parent.parent

EXIT_REJECTED = 1
EXIT_ERROR = 2


# ---------------------------------------------------------------------- output


def _show(value: Any) -> str:
    """One-line rendering of a decoded payload: JSON stays JSON, text is quoted."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def format_voucher(voucher: dict[str, Any]) -> str:
    """``transfer(to, amount)`` for ERC-20 transfers, else the decoded payload."""
    transfer = decode_transfer(voucher["payload"])
    call = (f"transfer({transfer[0]}, {transfer[1]})" if transfer
            else _show(decode_payload(voucher["payload"])))
    value = int(voucher.get("value", "0x0"), 16)
    extra = f" value={value}" if value else ""
    return f"voucher #{voucher['index']} -> {voucher['destination']}: {call}{extra}"


def format_advance(result: dict[str, Any]) -> list[str]:
    """Human lines for an advance/deposit result or a ``/dev/outputs`` entry."""
    lines = [f"input #{result['input_index']} {result['status']} "
             f"(block {result.get('block_number')}, from {result.get('msg_sender')})"]
    for notice in result.get("notices", []):
        lines.append(f"  notice #{notice['index']}: {_show(decode_payload(notice['payload']))}")
    for voucher in result.get("vouchers", []):
        lines.append("  " + format_voucher(voucher))
    for report in result.get("reports", []):
        lines.append(f"  report: {_show(decode_payload(report['payload']))}")
    if result.get("exception_payload") is not None:
        lines.append(f"  exception: {_show(decode_payload(result['exception_payload']))}")
    return lines


def format_inspect(result: dict[str, Any]) -> list[str]:
    """Reports pretty-printed (they are the answer), status line on top."""
    lines = [f"inspect {result['status']} "
             f"(after {result.get('processed_input_count')} inputs)"]
    for report in result.get("reports", []):
        value = decode_payload(report["payload"])
        lines.append(json.dumps(value, indent=2, ensure_ascii=False)
                     if isinstance(value, (dict, list)) else _show(value))
    if result.get("exception_payload") is not None:
        lines.append(f"exception: {_show(decode_payload(result['exception_payload']))}")
    return lines


def _print_result(args: argparse.Namespace, result: dict[str, Any], inspect: bool) -> int:
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(format_inspect(result) if inspect else format_advance(result)))
    return 0 if result.get("status") == "accepted" else EXIT_REJECTED


# -------------------------------------------------------------------- commands


def _host_options(args: argparse.Namespace) -> dict[str, Any]:
    options = {
        "rollups": args.rollups or "v2",
        "portal": args.portal or os.environ.get("PORTAL_ADDRESS") or None,
        "app": args.app or os.environ.get("APP_ADDRESS") or DEFAULT_APP_ADDRESS,
        "chain_id": args.chain_id,
        "block": args.block,
        "finish_timeout": args.finish_timeout,
        "wait_timeout": args.wait_timeout,
        "verbose": args.verbose,
    }
    node = deployment_options(args.deployment) if args.deployment else {}
    if node:  # the deployment's addresses unless a flag names another
        options["portal"] = args.portal or node.pop("portal")
        options["app"] = args.app or node.pop("app")
        options["chain_id"] = node.pop("chain_id")
    options.update(node)
    options["name"] = args.name
    if args.epoch_length is not None:
        options["epoch_length"] = args.epoch_length
    return options


def _wait_for_signal(stop: threading.Event, child: subprocess.Popen[bytes] | None) -> None:
    """Wait for SIGINT/SIGTERM (or the child's exit) without a busy loop."""
    def handler(signum: int, frame: object) -> None:
        stop.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop.wait(0.2):
        if child is not None and child.poll() is not None:
            return


def cmd_serve(args: argparse.Namespace) -> int:
    server = make_server(args.host, args.port, **_host_options(args))
    cfg = server.host.config
    print(f"rollup host {cfg.rollups} on {server.url} (app {cfg.app}, portal {cfg.portal}, "
          f"block {cfg.block})", flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _wait_for_signal(threading.Event(), None)
    server.stop()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Host in-process, ``dapp.py`` as a child; stop both on Ctrl-C / SIGTERM.

    The child runs in its own session so the terminal's Ctrl-C reaches only us; we then
    stop the DApp first (SIGINT, then SIGTERM, then SIGKILL) and the host last, so the
    DApp never sees its host vanish mid-request.
    """
    dapp = Path(args.dapp).resolve()
    if not dapp.is_file():
        print(f"error: DApp script {dapp} not found (use --dapp PATH)", file=sys.stderr)
        return EXIT_ERROR
    server, url = start_in_thread(port=args.port, host=args.host, **_host_options(args))
    cfg = server.host.config
    command = [sys.executable, str(dapp)]
    if args.db:
        command += ["--db", args.db]
    if args.rollups:
        command += ["--rollups", args.rollups]
    command += [a for a in args.dapp_args if a != "--"]
    # Flags are the documented way to configure dapp.py; the same values also go in
    # the environment (DAPP_DB, ROLLUPS_VERSION) for a DApp that reads its config there.
    env = dict(os.environ, ROLLUP_HTTP_SERVER_URL=url, ROLLUPS_VERSION=cfg.rollups)
    if args.db:
        env["DAPP_DB"] = args.db
    if args.deployment:  # dapp.py takes the portal and application from the same file
        env["DAPP_DEPLOYMENT"] = args.deployment
    print(f"rollup host {cfg.rollups} on {url} (app {cfg.app}, portal {cfg.portal}); "
          f"starting {' '.join(command[1:])}", flush=True)
    child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)
    stop = threading.Event()
    try:
        _wait_for_signal(stop, child)
    finally:
        stop_child(child, ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0)))
        server.stop()
    if stop.is_set():
        print("stopped", flush=True)
        return 0
    print(f"dapp exited with code {child.returncode}", file=sys.stderr, flush=True)
    return child.returncode or 0


def cmd_deposit(args: argparse.Namespace, client: HostClient) -> int:
    data = args.data.encode("utf-8") if args.data is not None else b""
    result = client.deposit(args.token, args.sender, int(args.amount), data, block=args.block)
    return _print_result(args, result, inspect=False)


def cmd_send(args: argparse.Namespace, client: HostClient) -> int:
    if (args.hex is None) == (args.payload is None):
        raise InvalidField("payload", None, "exactly one of a JSON argument or --hex")
    payload = from_hex(args.hex) if args.hex is not None else args.payload.encode("utf-8")
    result = client.advance(args.sender, payload, block=args.block)
    return _print_result(args, result, inspect=False)


def cmd_inspect(args: argparse.Namespace, client: HostClient) -> int:
    return _print_result(args, client.inspect(args.payload.encode("utf-8")), inspect=True)


def cmd_outputs(args: argparse.Namespace, client: HostClient) -> int:
    results = client.outputs(args.from_)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            print("\n".join(format_advance(result)))
    return 0


def cmd_mine(args: argparse.Namespace, client: HostClient) -> int:
    print(client.mine(args.blocks))
    return 0


def cmd_block(args: argparse.Namespace, client: HostClient) -> int:
    print(client.block())
    return 0


# ---------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree; exposed so tests and docs can inspect it."""
    client_opts = argparse.ArgumentParser(add_help=False)
    client_opts.add_argument("--url", default=argparse.SUPPRESS,
                             help=f"host URL (default $ROLLUP_HOST_URL or {DEFAULT_URL})")
    client_opts.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                             help="print the raw JSON answer")

    host_opts = argparse.ArgumentParser(add_help=False)
    host_opts.add_argument("--host", default="127.0.0.1", help="bind address")
    host_opts.add_argument("--port", type=int, default=5004)
    host_opts.add_argument("--rollups", choices=("v1", "v2"), default=None,
                           help="API version of metadata, vouchers, portal (default v2)")
    host_opts.add_argument("--portal", help="ERC20Portal address (default $PORTAL_ADDRESS "
                                            "or the version's devnet portal)")
    host_opts.add_argument("--app", help="application address (default $APP_ADDRESS or "
                                         f"{DEFAULT_APP_ADDRESS})")
    host_opts.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID)
    host_opts.add_argument("--deployment", metavar="FILE",
                           help="deployment JSON (as `make l1-up` writes): application, "
                                "portal, InputBox, authority, chain id and epoch length")
    host_opts.add_argument("--name", default=DEFAULT_APP_NAME,
                           help="application name for /rpc and /inspect/<name> "
                                f"(default {DEFAULT_APP_NAME})")
    host_opts.add_argument("--epoch-length", type=int, default=None,
                           help="blocks per epoch for the node JSON-RPC (default 10, or "
                                "the deployment's)")
    host_opts.add_argument("--block", type=int, default=1, help="starting block number")
    host_opts.add_argument("--finish-timeout", type=float, default=10.0,
                           help="seconds /finish long-polls before answering 202")
    host_opts.add_argument("--wait-timeout", type=float, default=60.0,
                           help="seconds /dev/* calls wait for the DApp by default")
    host_opts.add_argument("-v", "--verbose", action="store_true", help="log every request")

    parser = argparse.ArgumentParser(prog="python -m rollup_host", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None,
                        help=f"host URL (default $ROLLUP_HOST_URL or {DEFAULT_URL})")
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", parents=[host_opts], help="run the local rollup host")
    up = sub.add_parser("up", parents=[host_opts], help="run the host and dapp.py together")
    up.add_argument("--db", help="database path passed to dapp.py as --db")
    up.add_argument("--dapp", default=str(REPO_ROOT / "dapp.py"), help="DApp script")
    up.add_argument("dapp_args", nargs=argparse.REMAINDER,
                    help="extra arguments for dapp.py (after --)")

    p = sub.add_parser("deposit", parents=[client_opts], help="ERC-20 deposit via the portal")
    p.add_argument("--token", required=True)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--amount", required=True, help="base units, decimal")
    p.add_argument("--data", help="JSON (or text) sent UTF-8 encoded as execLayerData")
    p.add_argument("--block", type=int)

    p = sub.add_parser("send", parents=[client_opts], help="send an advance input")
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("payload", nargs="?", help="JSON op, sent as UTF-8 bytes")
    p.add_argument("--hex", help="raw 0x-hex payload instead of JSON")
    p.add_argument("--block", type=int)

    p = sub.add_parser("inspect", parents=[client_opts], help="inspect the DApp state")
    p.add_argument("payload", help="route such as 'balance/<token>/<account>', or JSON")

    p = sub.add_parser("outputs", parents=[client_opts], help="list finished inputs")
    p.add_argument("--from", dest="from_", type=int, default=0, help="first input index")

    p = sub.add_parser("mine", parents=[client_opts], help="advance the block number")
    p.add_argument("blocks", type=int, nargs="?", default=1)

    sub.add_parser("block", parents=[client_opts], help="print the current block number")
    return parser


CLIENT_COMMANDS = {
    "deposit": cmd_deposit,
    "send": cmd_send,
    "inspect": cmd_inspect,
    "outputs": cmd_outputs,
    "mine": cmd_mine,
    "block": cmd_block,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command in ("serve", "up"):
        try:
            return cmd_serve(args) if args.command == "serve" else cmd_up(args)
        except ValueError as exc:  # a bad option or deployment file, said before starting
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    client = HostClient(args.url)
    try:
        return CLIENT_COMMANDS[args.command](args, client)
    except (InvalidField, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except HostRequestError as exc:
        print(f"error: host refused the request: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except requests.ConnectionError:
        print(f"error: no rollup host at {client.url} (start one with "
              f"`python -m rollup_host serve` or `make run`)", file=sys.stderr)
        return EXIT_ERROR
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
