"""Streamable Token DApp: the shell that speaks the Cartesi rollup HTTP API.

Loops on ``POST /finish``, hands each advance or inspect request to the router, and posts
the outputs the router produces. It never dies on the server's account: a connection
error, a timeout, a 5xx status or a body that is not the expected JSON is logged and
retried with capped exponential backoff. Such a failure leaves its outcome unknown (the
server may have finished the input and handed over the next one in the answer that was
lost; it may have kept an output or not), so the retry carries the local host's
``X-Rollup-Restart`` header: the server then hands over again whatever input is in
flight, its outputs dropped, and the router either re-emits the stored outputs of an
input it already committed or runs the input afresh. No input is lost, skipped, or
applied or emitted twice. A 4xx refusal of an output is a verdict: the input is rejected.

Every call names the delivery it answers (local-host extension, rollup_host/attempts.py):
the local host sends an attempt id with each request (``X-Rollup-Attempt``) and the DApp
echoes it on the outputs and the ``/finish`` that answer it; a restart carries an id of its
own, kept on its retries (``X-Rollup-Request``). A call the host finds stale (a late
restart has delivered the input again since) gets 409, changing nothing: the DApp rolls
back and asks for the input again, as for an output not delivered. A server that sends no
attempt id (a Cartesi node) gets no attempt header and answers as before.

Configuration: ``python dapp.py --help`` (each flag has an environment variable; flags
win over the environment, and both over a deployment file).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import time
from typing import Any, Optional

from db.checkpoint import Checkpointer
from streamable_token.rollup.http_client import Connection, NoAnswer
from streamable_token.rollup.router import Config, Output, OutputNotDelivered, OutputRefused, Router
from streamable_token import StreamableToken
from streamable_token.addresses import checksum
from streamable_token.fastpaths import skip_caller_lookup

log = logging.getLogger("dapp")
DEFAULT_URL = "http://127.0.0.1:5004"
DEFAULT_DB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "db", "dapp.sqlite")
RESTART_HEADER = {"X-Rollup-Restart": "1"}  # local-host extension; real nodes ignore it
ATTEMPT = "X-Rollup-Attempt"  # the delivery a call answers (local host only)
REQUEST = "X-Rollup-Request"  # a restart's own id, the same on its retries (local host only)
STALE = 409  # the local host: the call answers a delivery that is no longer the latest


def build_parser() -> argparse.ArgumentParser:
    """The command line; each flag falls back to its environment variable, then a default."""
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="dapp.py",
        description="Streamable Token Cartesi DApp: loops on POST /finish of the rollup HTTP server "
                    "and answers each advance and inspect request. Flags win over the environment.",
        epilog="Local run: `make run` starts the local rollup host and this DApp together.")
    parser.add_argument("--db", default=env("DAPP_DB", DEFAULT_DB),
                        help="SQLite database file, created if missing "
                             "(env DAPP_DB; default db/dapp.sqlite beside dapp.py)")
    parser.add_argument("--url", default=env("ROLLUP_HTTP_SERVER_URL", DEFAULT_URL),
                        help=f"rollup HTTP server (env ROLLUP_HTTP_SERVER_URL; default {DEFAULT_URL})")
    parser.add_argument("--rollups", choices=("v2", "v1"), default=env("ROLLUPS_VERSION", "v2"),
                        help="Cartesi Rollups API version of metadata, deposits and vouchers "
                             "(env ROLLUPS_VERSION; default v2)")
    parser.add_argument("--deployment", default=env("DAPP_DEPLOYMENT"),
                        help="JSON file with the erc20_portal and application addresses, as `make l1-up` "
                             "writes it (env DAPP_DEPLOYMENT; default none)")
    parser.add_argument("--portal", default=env("PORTAL_ADDRESS"),
                        help="ERC20Portal address: only inputs from it credit deposits (env PORTAL_ADDRESS; "
                             "default the deployment's, else the version's devnet portal)")
    parser.add_argument("--app", default=env("APP_ADDRESS"),
                        help="application address: inputs whose metadata names another are refused "
                             "(env APP_ADDRESS; default the deployment's, else not checked)")
    return parser


def load_config(argv: Optional[list[str]] = None) -> tuple[str, str, Config]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.rollups not in ("v1", "v2"):
        parser.error(f"ROLLUPS_VERSION must be v1 or v2, got {args.rollups!r}")
    portal, app = args.portal, args.app
    if args.deployment:
        with open(args.deployment) as fh:
            deployment = json.load(fh)
        portal = portal or deployment.get("erc20_portal")
        app = app or deployment.get("application")
    return args.url.rstrip("/"), args.db, Config(version=args.rollups, portal=portal, app=app)


class RollupClient:
    """The HTTP side: one connection, outputs posted and checked, /finish with backoff."""

    # One timeout per socket operation for every call, the /finish long-poll's: changing
    # a socket's timeout costs a system call, twice per input if outputs had their own.
    timeout = 60.0

    def __init__(self, url: str, max_backoff: float = 5.0) -> None:
        self.url = url
        self.http = Connection(url)
        self.max_backoff = max_backoff
        self.attempt: Optional[str] = None  # the delivery being answered (None: the server sends none)
        self._token = secrets.token_hex(8)  # this client's restart ids: <token>.<n>
        self._restarts = 0
        self._restart_id: Optional[str] = None  # the restart being sent (kept on its retries)

    def emit(self, output: Output) -> None:
        """Post one output. A 4xx raises OutputRefused (the input is rejected); no answer, a
        5xx or a stale attempt (409 from the local host) raise OutputNotDelivered (the
        input is delivered again)."""
        try:
            status, content = self.http.post(f"/{output.kind}", output.body, timeout=self.timeout,
                                             headers=self._answering())
        except NoAnswer as err:
            raise OutputNotDelivered(f"{output.kind} not delivered: {err}") from None
        if status >= 500 or (status == STALE and self.attempt is not None):
            raise OutputNotDelivered(f"{output.kind} not delivered: HTTP {status} {_text(content)}")
        if not 200 <= status < 300:
            raise OutputRefused(f"{output.kind} refused: HTTP {status} {_text(content)}")

    def finish(self, status: str, first: bool) -> dict:
        """POST /finish until the server hands over a request; returns it.

        ``first`` (after a start, or after an output was not delivered) asks the local host
        for the input in flight again. After any failed attempt every retry asks for it,
        since the failed one may have been carried out.
        """
        restart = first
        delay = 0.05
        while True:
            problem = None
            try:
                code, content = self.http.post("/finish", {"status": status}, timeout=self.timeout,
                                               headers=self._restarting() if restart else self._answering())
                if code == 202:
                    delay = 0.05
                    continue
                if code == 200:
                    request = json.loads(content)
                    if (
                        isinstance(request, dict)
                        and request.get("request_type") in ("advance_state", "inspect_state")
                        and isinstance(request.get("data"), dict)
                    ):
                        self._delivered()
                        return request
                    problem = f"unexpected body {_text(content)!r}"
                elif code == STALE:  # e.g. a restart refused as a duplicate: the next one is new
                    problem = f"HTTP {code} {_text(content)}"
                    self._restart_id = None
                else:
                    problem = f"HTTP {code}"
            except NoAnswer as err:
                problem = str(err)
            except ValueError as err:  # a 200 whose body is not JSON
                problem = f"{type(err).__name__}: {err}"
            log.warning("/finish failed (%s); retrying in %.2f s", problem, delay)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
            restart = True

    def _answering(self) -> Optional[dict[str, str]]:
        """The header naming the delivery a call answers, if the server gave one."""
        return None if self.attempt is None else {ATTEMPT: self.attempt}

    def _restarting(self) -> dict[str, str]:
        """A restart's headers: its id is new unless this restart is being sent again."""
        if self._restart_id is None:
            self._restarts += 1
            self._restart_id = f"{self._token}.{self._restarts}"
        return {**RESTART_HEADER, REQUEST: self._restart_id}

    def _delivered(self) -> None:
        """A request came: later calls answer its delivery; the next restart is a new one."""
        value = self.http.answer_headers.get(ATTEMPT.lower().encode())
        self.attempt = None if value is None else value.decode("latin-1")
        self._restart_id = None


def _text(content: bytes) -> str:
    """The start of a response body for a log line."""
    return content[:200].decode("utf-8", "replace")


def handle(router: Router, client: RollupClient, request: dict) -> str:
    data: dict[str, Any] = request["data"]
    started = time.perf_counter()
    if request["request_type"] == "advance_state":
        status = router.advance(data.get("metadata"), data.get("payload"), client.emit)
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        log.info(
            "advance #%s from %s at block %s: %s (%.1f ms)",
            meta.get("input_index"), meta.get("msg_sender"), meta.get("block_number"),
            status, (time.perf_counter() - started) * 1000,
        )
        return status
    status, outputs = router.inspect(data.get("payload"))
    for out in outputs:
        try:
            client.emit(out)
        except OutputRefused as err:
            log.warning("inspect report not delivered: %s", err)
    log.info("inspect: %s (%.1f ms)", status, (time.perf_counter() - started) * 1000)
    return status


def main(argv: Optional[list[str]] = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # One line per input: skip what the format never shows (the logging HOWTO's advice).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    skip_caller_lookup()  # no lookup of each record's file and line either
    url, db_path, config = load_config(argv)
    os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    router = Router(StreamableToken(db_path), config)
    checkpointer = Checkpointer(router.conn).start()
    try:
        client = RollupClient(url)
        log.info("streamable token DApp: rollups %s, server %s, db %s, portal %s",
                 config.version, url, db_path, checksum(router.portal))
        status, restart, delay = "accept", True, 0.05
        while True:
            request = client.finish(status, restart)
            try:
                status, restart, delay = handle(router, client, request), False, 0.05
            except OutputNotDelivered as err:
                # Rolled back; have the input delivered again with its outputs dropped. A node
                # without the restart extension hears "reject", which matches the rollback.
                log.warning("%s; asking for the input again in %.2f s", err, delay)
                time.sleep(delay)
                status, restart, delay = "reject", True, min(delay * 2, client.max_backoff)
    finally:
        # However the loop ends (Ctrl-C, or a caller running main in a thread), the
        # checkpoint thread and the connections end with it: a checkpointer left behind
        # goes on polling a database nobody writes, every 50 ms, for the life of the process.
        checkpointer.stop()
        router.close()


if __name__ == "__main__":
    # Ctrl-C stops the DApp even when it was started with SIGINT ignored (a child of a
    # background job inherits that), as `make run &` would otherwise leave it deaf to it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
