"""The subscriptions DApp: the rollup HTTP loop around the library's router, with this
DApp's ops and routes mounted (``subscriptions.py``). It imports only the installed
``streamable_token`` wheel and the standard library.

    ROLLUP_HTTP_SERVER_URL=http://127.0.0.1:5004 python dapp.py [--db subscriptions.sqlite]

Each request from ``POST /finish`` goes to ``Router.advance`` / ``Router.inspect``, which
run it in one transaction; the outputs are posted, then the verdict is the next
``/finish``. A failed HTTP call is retried after a pause (this loop is kept short; the
library's own dapp.py adds crash replay on top of the same router).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # subscriptions.py beside this file

from streamable_token.rollup.http_client import Connection, NoAnswer  # noqa: E402
from streamable_token.rollup.router import Config, Output, OutputNotDelivered, OutputRefused  # noqa: E402

import subscriptions  # noqa: E402

log = logging.getLogger("subscriptions")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python examples/subscriptions/dapp.py",
                                     description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("DAPP_DB", "subscriptions.sqlite"),
                        help="the DApp's SQLite database (default env DAPP_DB or subscriptions.sqlite)")
    parser.add_argument("--url", default=os.environ.get("ROLLUP_HTTP_SERVER_URL", "http://127.0.0.1:5004"),
                        help="the rollup HTTP server (default env ROLLUP_HTTP_SERVER_URL or "
                             "http://127.0.0.1:5004)")
    parser.add_argument("--rollups", choices=("v2", "v1"), default=os.environ.get("ROLLUPS_VERSION", "v2"),
                        help="the Rollups API version (default env ROLLUPS_VERSION or v2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    router = subscriptions.build(args.db, Config(version=args.rollups))
    http = Connection(args.url.rstrip("/"))

    def emit(output: Output) -> None:
        try:
            code, body = http.post(f"/{output.kind}", output.body, timeout=60)
        except NoAnswer as err:
            raise OutputNotDelivered(str(err)) from None
        if code >= 500:
            raise OutputNotDelivered(f"HTTP {code}")
        if not 200 <= code < 300:
            raise OutputRefused(f"{output.kind} refused: HTTP {code}")

    status = "accept"
    log.info("subscriptions DApp on %s, database %s", args.url, args.db)
    while True:
        try:
            code, body = http.post("/finish", {"status": status}, timeout=60)
        except NoAnswer as err:
            log.warning("/finish: %s; retrying", err)
            time.sleep(0.5)
            continue
        if code == 202:
            continue
        request = __import__("json").loads(body)
        data = request["data"]
        if request["request_type"] == "advance_state":
            try:
                status = router.advance(data["metadata"], data["payload"], emit)
            except OutputNotDelivered as err:
                log.warning("output not delivered (%s); the input is rolled back", err)
                status = "reject"
        else:
            status, outputs = router.inspect(data["payload"])
            for out in outputs:
                emit(out)


if __name__ == "__main__":
    main()
