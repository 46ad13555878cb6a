"""A host DApp that embeds the installed ``streamable_token`` wheel (see README "Embedding").

Run it with any Python that has the wheel installed: ``python host_dapp.py [DB]``.
It prints one JSON line; ``tests/test_wheel.py`` runs it in a fresh venv outside the
repository, so it must only use what the wheel installs.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys

import streamable_token
from streamable_token import StreamableToken

T, ALICE, BOB = "0x" + "11" * 20, "0x" + "aa" * 20, "0x" + "bb" * 20


def main(path: str) -> dict:
    conn = sqlite3.connect(path, isolation_level=None)
    engine = StreamableToken(conn)
    conn.execute("BEGIN")
    engine.mint(T, ALICE, 1_000, block=1)
    sid = engine.open_stream(T, ALICE, BOB, 1_000, start_block=10, duration=100, block=1)
    conn.execute("COMMIT")
    return {
        "package": streamable_token.__file__,
        "version": streamable_token.__version__,
        "stream": sid,
        "bob_at_60": engine.realtime_balance_of(T, BOB, 60).balance,
        "ok": engine.realtime_balance_of(T, BOB, 60).balance == 500,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: one optional database path (``--help`` is help, never a path)."""
    parser = argparse.ArgumentParser(prog="python examples/host_dapp.py",
                                     description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("db", nargs="?", default=":memory:",
                        help="SQLite database file the engine writes (default: :memory:, nothing on disk)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        print(json.dumps(main(parse_args().db)))
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: quiet, as a shell command killed by the pipe
        sys.stdout = None
        sys.exit(141)
