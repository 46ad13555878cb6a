"""Command line for the local rollup host: ``python -m rollup_host <command>``.

``serve`` runs the host; ``up`` runs the host and ``dapp.py`` together (``make run``);
the other commands are a client for a running host (``--url`` or ``$ROLLUP_HOST_URL``).
Results are printed decoded: JSON payloads as JSON, ERC-20 transfer vouchers as
``transfer(to, amount)``. The exit code is 1 when the input or inspect was rejected,
2 when the host could not be reached or refused the request. Amounts are base units
unless ``--decimals`` says how to read (``send``, ``deposit``) or show (``inspect``) them:
a number, or ``auto`` for each token's own ``decimals()`` read from the L1 node (``--rpc``).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Sequence

import requests

from streamable_token.rollup import inspect as inspect_routes
from streamable_token.rollup.builtin_ops import OPS
from streamable_token.rollup.router import committed_input_key, input_key

from . import cli
from .amounts import Decimals, annotated_json, decimals_arg, op_in_base_units, parse_amount, resolve

from .chain_file import ChainMismatch
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
from .server import RollupHostServer, make_server, serve_in_thread
from .state import HostState
from .web import attach as attach_web

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO_ROOT / "db" / "dapp.sqlite"  # dapp.py's own default

DEFAULT_RPC = os.environ.get("ETH_RPC_URL") or "http://127.0.0.1:8545"  # where --decimals auto reads
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
    # In output-index order, as the DApp emitted them (v2: one index space for both kinds).
    outputs = sorted([(n["index"], 0, n) for n in result.get("notices", [])]
                     + [(v["index"], 1, v) for v in result.get("vouchers", [])], key=lambda o: o[:2])
    for _index, kind, output in outputs:
        lines.append(f"  notice #{output['index']}: {_show(decode_payload(output['payload']))}" if kind == 0
                     else "  " + format_voucher(output))
    for report in result.get("reports", []):
        lines.append(f"  report: {_show(decode_payload(report['payload']))}")
    if result.get("exception_payload") is not None:
        lines.append(f"  exception: {_show(decode_payload(result['exception_payload']))}")
    return lines


def format_inspect(result: dict[str, Any], decimals: Decimals | None = None) -> list[str]:
    """Reports pretty-printed (they are the answer), status line on top; with ``decimals``
    each amount in base units also as a human amount (``# 1.5``) at the end of its line."""
    lines = [f"inspect {result['status']} "
             f"(after {result.get('processed_input_count')} inputs)"]
    for report in result.get("reports", []):
        value = decode_payload(report["payload"])
        if isinstance(value, (dict, list)):
            lines.append(json.dumps(value, indent=2, ensure_ascii=False) if decimals is None
                         else "\n".join(annotated_json(value, decimals)))
        else:
            lines.append(_show(value))
    if result.get("exception_payload") is not None:
        lines.append(f"exception: {_show(decode_payload(result['exception_payload']))}")
    return lines


def _print_result(args: argparse.Namespace, result: dict[str, Any], inspect: bool) -> int:
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(format_inspect(result, _decimals(args)) if inspect
                        else format_advance(result)))
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
        "chain_file": args.chain_file,
    }
    node = deployment_options(args.deployment) if args.deployment else {}
    if node:  # the deployment's addresses unless a flag names another
        portal, app = node.pop("portal"), node.pop("app")
        options["portal"] = args.portal or portal
        options["app"] = args.app or app
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


def _bind(args: argparse.Namespace) -> RollupHostServer | None:
    """The host, bound and listening; None (said in one line) when it cannot start."""
    try:
        return attach_web(make_server(args.host, args.port, **_host_options(args)),
                          web_dir=args.web, deployment=args.deployment)
    except ChainMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"error: port {args.port} is in use (another `make run`?); stop it or pick --port",
              file=sys.stderr)
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    server = _bind(args)
    if server is None:
        return EXIT_ERROR
    cfg = server.host.config
    print(f"rollup host {cfg.rollups} on {server.url} (app {cfg.app}, portal {cfg.portal}, "
          f"block {cfg.block})", flush=True)
    serve_in_thread(server)
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
    db = Path(args.db or os.environ.get("DAPP_DB") or DEFAULT_DB)
    args.chain_file = args.chain_file or f"{db}.chain.jsonl"
    server = _bind(args)
    if server is None:
        return EXIT_ERROR
    problem = chain_and_database_disagree(server.host, db)
    if problem:
        server.stop()
        print(f"error: {problem}; start over with `make reset` (deletes {db} and {args.chain_file})",
              file=sys.stderr)
        return EXIT_ERROR
    serve_in_thread(server)
    url = server.url
    cfg = server.host.config
    status = server.host.status()
    if status["processed_input_count"] or status["queued"]:
        print(f"resuming the chain kept in {args.chain_file}: {status['processed_input_count']} inputs "
              f"processed, {status['queued']} queued, block {status['block_number']}", flush=True)
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


def chain_and_database_disagree(host: HostState, db: Path) -> str | None:
    """Why the kept chain and the DApp's database cannot go on together, or None.

    The database must have committed, last, the chain's last accepted input, or the input
    that was in flight when the host stopped (delivered again, the DApp re-emits its
    outputs); with neither, nothing at all."""
    committed = None
    if db.exists():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            committed = committed_input_key(conn)
        except sqlite3.OperationalError:  # a file without the DApp's tables yet
            committed = None
        finally:
            conn.close()
    last, pending = host.resume_points()
    allowed = {None if last is None else input_key(last.metadata, last.payload)}
    if pending is not None:
        allowed.add(input_key(pending.metadata, pending.payload))
    if committed in allowed:
        return None
    count, block = host.status()["processed_input_count"], host.block_number
    if committed is None:
        return f"the kept chain has {count} inputs up to block {block} but the database {db} has none of them"
    return f"the database {db} holds inputs the kept chain ({count} inputs, block {block}) does not"


def _decimals(args: argparse.Namespace) -> Decimals | None:
    """``--decimals`` as the amount helpers take it (``auto`` reads from ``--rpc``); kept
    on ``args`` so that ``auto`` asks the L1 node once per token."""
    if not hasattr(args, "_decimals"):
        args._decimals = resolve(getattr(args, "decimals", None), getattr(args, "rpc", None) or DEFAULT_RPC)
    return args._decimals


def cmd_deposit(args: argparse.Namespace, client: HostClient) -> int:
    data = args.data.encode("utf-8") if args.data is not None else b""
    decimals = _decimals(args)
    amount = parse_amount(args.amount, decimals(args.token) if callable(decimals) else decimals)
    result = client.deposit(args.token, args.sender, amount, data, block=args.block)
    return _print_result(args, result, inspect=False)


def _refuse_bare_fraction(text: str) -> None:
    raise ValueError(f"payload: {text} is a bare number; amounts are strings: put it in quotes, \"{text}\"")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"payload: the key {key!r} appears more than once")
    return dict(pairs)


def send_payload(args: argparse.Namespace) -> bytes:
    """The bytes ``send`` posts: the JSON argument as typed, or ``--hex`` decoded; with
    ``--decimals`` the op's amounts (by the op schemas) turned from human text to base units."""
    if (args.hex is None) == (args.payload is None):
        raise InvalidField("payload", None, "exactly one of a JSON argument or --hex")
    if args.hex is not None:
        if args.decimals is not None:
            raise ValueError("--decimals reads the amounts of a JSON op, not of --hex bytes")
        return from_hex(args.hex)
    decimals = _decimals(args)
    if decimals is None:
        return args.payload.encode("utf-8")
    try:
        op = json.loads(args.payload, parse_float=_refuse_bare_fraction, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as err:
        raise ValueError(f"payload: with --decimals it must be a JSON op ({err})") from None
    return json.dumps(op_in_base_units(op, decimals), separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def cmd_send(args: argparse.Namespace, client: HostClient) -> int:
    payload = send_payload(args)
    result = client.advance(args.sender, payload, block=args.block)
    return _print_result(args, result, inspect=False)


def cmd_inspect(args: argparse.Namespace, client: HostClient) -> int:
    return _print_result(args, client.inspect(args.payload.encode("utf-8")), inspect=True)


def cmd_outputs(args: argparse.Namespace, client: HostClient) -> int:
    if args.from_deprecated is not None:
        print("warning: outputs --from is now --from-input (--from is an address in every other command)",
              file=sys.stderr)
    results = client.outputs(args.from_deprecated if args.from_deprecated is not None else args.from_input)
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


# What a placeholder in the help's op lines stands for, by field name (then by kind).
_PLACEHOLDERS = {"token": "T", "receiver": "R", "sender": "A", "spender": "S", "owner": "O",
                 "duration": "100", "stream_id": "1", "start_block": "N", "end_block": "N", "ops": "[op, ...]"}
_KIND_PLACEHOLDERS = {"address": "A", "amount": '"1000"', "uint": '"1000"', "int": "N", "ops": "[op, ...]"}

OP_NOTES = {
    "transfer": "moves the caller's available funds to receiver",
    "open_stream": "streams amount to receiver over duration blocks from start_block (default the "
                   "input's block); with sender, the caller opens it as that account's operator, "
                   "on its allowance",
    "cancel_stream": "the sender or the receiver stops a stream; what is not streamed goes back",
    "update_stream": "the sender changes the total amount and/or the end block of a stream",
    "withdraw": "a voucher pays amount out on L1 (to the caller)",
    "approve": "sets what spender may take of the caller's token (\"0\" revokes)",
    "transfer_from": "the caller (spender) moves owner's funds to receiver, on its allowance",
    "batch": "ops run in order in one input, all or nothing (no batch inside)",
}

ROUTE_NOTES = {
    "balance": "balance, available and committed of an account",
    "stream": "one stream: status, streamed so far",
    "streams": "an account's streams (role=incoming|outgoing|all; after=<last id> for the next page)",
    "token": "a token's deposited, withdrawn and total supply",
    "tokens": "every token with its totals",
    "holders": "the accounts holding a token, a page at a time",
    "allowance": "what spender may take of owner's token",
    "state-hash": "a hash of the whole state",
}


def op_line(name: str, schema: dict) -> str:
    """``{"op":"transfer","token":T,...}`` for the help, ``?`` after optional fields."""
    fields = [f'"op":"{name}"']
    for field, (kind, required) in schema.items():
        value = _PLACEHOLDERS.get(field, _KIND_PLACEHOLDERS.get(kind, "V"))
        if kind in ("amount", "uint"):
            value = '"1000"'
        fields.append(f'"{field}":{value}' + ("" if required else "?"))
    return "{" + ",".join(fields) + "}"


def route_line(name: str, route: Any) -> str:
    """``balance/<token>/<account>[/<block>]`` (and its query keys) for the help."""
    positional, optional = list(route[0]), list(route[1])
    path = "/".join([name] + [f"<{p}>" for p in positional]) + ("[/<block>]" if "block" in optional else "")
    query = [key for key in optional if key != "block"]
    return path + ("[?" + "&".join(f"{key}=" for key in query) + "]" if query else "")


def send_epilog() -> str:
    """Every op of the DApp's table with its fields, from the op schemas themselves."""
    lines = ["ops (JSON; amounts are decimal strings of base units, or with --decimals D (auto: the",
             "token's own) human amounts such as \"1.5\"; the caller is --from; ? marks an optional field):"]
    for name, spec in OPS.items():
        lines.append(f"  {op_line(name, spec.schema)}")
        if name in OP_NOTES:
            lines += textwrap.wrap(OP_NOTES[name], 88, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines += ["", "example (Alice sends Bob 1000 base units of token T, then 1.5 tokens of 18 decimals):",
              "  T=0x1111111111111111111111111111111111111111",
              "  ALICE=0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa BOB=0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
              "  python -m rollup_host send --from $ALICE "
              "'{\"op\":\"transfer\",\"token\":\"'$T'\",\"receiver\":\"'$BOB'\",\"amount\":\"1000\"}'",
              "  python -m rollup_host send --from $ALICE --decimals 18 "
              "'{\"op\":\"transfer\",\"token\":\"'$T'\",\"receiver\":\"'$BOB'\",\"amount\":\"1.5\"}'"]
    return "\n".join(lines) + "\n"


def inspect_epilog() -> str:
    """Every inspect route of the DApp's table, and the JSON form."""
    lines = ["routes (a figure that moves with the block is given at <block>, or at the block of",
             "the last input):"]
    for name, route in inspect_routes.ROUTES.items():
        lines.append(f"  {route_line(name, route)}")
        if name in ROUTE_NOTES:
            lines += textwrap.wrap(ROUTE_NOTES[name], 88, initial_indent=" " * 6, subsequent_indent=" " * 6)
    lines += ["  JSON form of any route, its fields by name:",
              '      {"route":"balance","token":T,"account":A,"block":N}',
              "",
              "example (Bob's balance of token T, with amounts also read at 18 decimals):",
              "  python -m rollup_host inspect --decimals 18 balance/$T/$BOB"]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree; exposed so tests and docs can inspect it."""
    url_help = f"host URL (default $ROLLUP_HOST_URL or {DEFAULT_URL})"
    rpc_help = "the L1 node that --decimals auto reads (default $ETH_RPC_URL or http://127.0.0.1:8545)"
    client_opts = argparse.ArgumentParser(add_help=False)
    client_opts.add_argument("--url", default=argparse.SUPPRESS, help=url_help)
    client_opts.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                             help="print the raw JSON answer")

    host_opts = argparse.ArgumentParser(add_help=False)
    host_opts.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    host_opts.add_argument("--port", type=int, default=5004, help="port (default 5004; 0 picks a free one)")
    host_opts.add_argument("--rollups", choices=("v1", "v2"), default=None,
                           help="API version of metadata, vouchers, portal (default v2)")
    host_opts.add_argument("--portal", help="ERC20Portal address (default $PORTAL_ADDRESS "
                                            "or the version's devnet portal)")
    host_opts.add_argument("--app", help="application address (default $APP_ADDRESS or "
                                         f"{DEFAULT_APP_ADDRESS})")
    host_opts.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID,
                           help=f"chain id in v2 metadata (default {DEFAULT_CHAIN_ID}, anvil's)")
    host_opts.add_argument("--deployment", metavar="FILE",
                           help="deployment JSON (as `make l1-up` writes): application, "
                                "portal, InputBox, authority, chain id and epoch length")
    host_opts.add_argument("--name", default=DEFAULT_APP_NAME,
                           help="application name for /rpc and /inspect/<name> "
                                f"(default {DEFAULT_APP_NAME})")
    host_opts.add_argument("--epoch-length", type=int, default=None,
                           help="blocks per epoch for the node JSON-RPC (default 10, or "
                                "the deployment's)")
    host_opts.add_argument("--block", type=int, default=1,
                           help="block number of a fresh chain (default 1); a kept chain goes on "
                                "from its own")
    host_opts.add_argument("--finish-timeout", type=float, default=10.0,
                           help="seconds /finish long-polls before answering 202 (default 10)")
    host_opts.add_argument("--wait-timeout", type=float, default=60.0,
                           help="seconds /dev/* calls wait for the DApp by default (default 60)")
    host_opts.add_argument("--chain-file", help="file that keeps the chain (inputs, outputs, block) "
                                                "across restarts (serve: none, memory only; up: "
                                                "<db>.chain.jsonl beside the database)")
    host_opts.add_argument("--web", metavar="DIR",
                           help="serve the web page from DIR: GET / is DIR/index.html, GET /<file> "
                                "a file under DIR (with --deployment also GET /deployment.json "
                                "and POST /anvil, a proxy to the deployment's L1 node)")
    host_opts.add_argument("-v", "--verbose", action="store_true", help="log every request")

    parser = argparse.ArgumentParser(prog="python -m rollup_host", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help=url_help)
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, summary: str, parents: list, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=parents, help=summary, description=summary, **kwargs)

    command("serve", "run the local rollup host alone (a DApp connects to it on its own)", [host_opts])
    up = command("up", "run the host and dapp.py together, as `make run` does; Ctrl-C stops both",
                 [host_opts])
    up.add_argument("--db", help="database passed to dapp.py as --db (default $DAPP_DB or "
                                 "db/dapp.sqlite); the host keeps its chain beside it")
    up.add_argument("--dapp", default=str(REPO_ROOT / "dapp.py"), help="DApp script (default dapp.py)")
    up.add_argument("dapp_args", nargs=argparse.REMAINDER,
                    help="extra arguments for dapp.py (after --)")

    p = command("deposit", "deposit ERC-20 tokens through the (simulated) ERC20Portal", [client_opts])
    p.add_argument("--token", required=True, help="ERC-20 token address on L1")
    p.add_argument("--from", dest="sender", required=True, help="depositor address (credited)")
    p.add_argument("--amount", required=True,
                   help="base units (e.g. 1500000000000000000), or with --decimals a human amount (1.5)")
    p.add_argument("--decimals", type=decimals_arg, metavar="D|auto",
                   help="the token's decimals, to read --amount as a human amount; auto: the token's "
                        "decimals() on the L1 node (--rpc) (default: base units)")
    p.add_argument("--rpc", default=None, help=rpc_help)
    p.add_argument("--data", help="JSON op (or text) sent UTF-8 encoded as execLayerData and run "
                                  "as the depositor in the same input")
    p.add_argument("--block", type=int, help="block of the input (default the current block)")

    p = command("send", "send an advance input (a JSON op) from an address", [client_opts],
                epilog=send_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="sender", required=True, help="sender address (msg_sender)")
    p.add_argument("payload", nargs="?", help="JSON op, sent as UTF-8 bytes (ops below)")
    p.add_argument("--hex", help="raw 0x-hex payload instead of JSON")
    p.add_argument("--decimals", type=decimals_arg, metavar="D|auto",
                   help="the token's decimals: the op's amounts are human amounts (\"1.5\"), sent in base "
                        "units; auto: each op's token's decimals() on the L1 node (--rpc) (default: base units)")
    p.add_argument("--rpc", default=None, help=rpc_help)
    p.add_argument("--block", type=int, help="block of the input (default the current block)")

    p = command("inspect", "inspect the DApp state (read-only)", [client_opts],
                epilog=inspect_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("payload", help="a route (below), as a path or as JSON")
    p.add_argument("--decimals", type=decimals_arg, metavar="D|auto",
                   help="also show each amount as a human amount at D decimals; auto: at its token's "
                        "decimals() on the L1 node (--rpc) (default: base units only)")
    p.add_argument("--rpc", default=None, help=rpc_help)

    p = command("outputs", "list finished inputs with their notices, vouchers and reports", [client_opts])
    p.add_argument("--from-input", dest="from_input", type=int, default=0, metavar="INDEX",
                   help="first input index (default 0)")
    p.add_argument("--from", dest="from_deprecated", type=int, default=None, help=argparse.SUPPRESS)

    p = command("mine", "advance the block number (inputs are the DApp's only clock)", [client_opts])
    p.add_argument("blocks", type=int, nargs="?", default=1, help="how many blocks (default 1)")

    command("block", "print the current block number", [client_opts])
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
    cli.run(main)
