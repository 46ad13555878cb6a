"""Embedding the engine in your own DApp: the README's "Embedding" section, runnable.

A game DApp keeps its own table (``scores``) in its own SQLite file, mounts the
streamable-token router on it, and registers one op of its own (``reward``: stream tokens
to a player and score a point) and one inspect route (``score/<player>``). Each rollup
input goes to ``router.advance(metadata, payload_hex, emit)``; each inspect to
``router.inspect(payload_hex)``. ``python examples/embed.py [DB]`` feeds a portal deposit,
a reward, a refused reward, a withdrawal and two inspects, and prints one line per output;
``tests/test_embedding.py`` runs it. It uses only what the wheel installs.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from streamable_token import StreamableToken
from streamable_token.addresses import checksum, parse_address
from streamable_token.constants import PORTALS
from streamable_token.rollup.codec import encode_deposit
from streamable_token.rollup.router import Config, Output, Router, notice

APP = "0xab7528bb862fB57E8A2BCd567a2e929a0Be56a5e"  # your application's address on L1
TOKEN = "0x1111111111111111111111111111111111111111"
GAME = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"  # the game's treasury account
PLAYER = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"


def reward(call, f: dict) -> list[Output]:
    """{"op":"reward","token":T,"player":P,"amount":"..."}: the caller streams amount to
    the player over 100 blocks and the player scores a point, in the input's transaction."""
    stream = call.engine.new_stream(f["token"], call.caller, f["player"], f["amount"],
                                    call.block, 100, call.block)
    call.conn.execute("INSERT OR IGNORE INTO scores VALUES (?, 0)", (f["player"],))
    call.conn.execute("UPDATE scores SET points = points + 1 WHERE player = ?", (f["player"],))
    return [notice("rewarded", player=checksum(f["player"]), stream=stream.id, block=call.block)]


def score(engine: StreamableToken, f: dict, last_block: int) -> dict:
    """score/<player>: route fields arrive as the strings typed; parse them yourself."""
    player = parse_address(f["player"], "player")
    row = engine.conn.execute("SELECT points FROM scores WHERE player = ?", (player,)).fetchone()
    return {"player": checksum(player), "points": row[0] if row else 0}


def make_router(db: str) -> Router:
    conn = sqlite3.connect(db, isolation_level=None)  # your DApp's database
    conn.execute("CREATE TABLE IF NOT EXISTS scores (player BLOB PRIMARY KEY, points INTEGER)")
    engine = StreamableToken(conn)  # creates its st_* tables beside yours
    # Config: Rollups version, the ERC20Portal (default PORTALS[version]), your app's address
    router = Router(engine, Config(version="v2", portal=PORTALS["v2"], app=APP))
    router.register_op("reward", {"token": ("address", True), "player": ("address", True),
                                  "amount": ("amount", True)}, reward)
    router.register_route("score", ["player"], [], score)
    return router


def metadata(sender: str, block: int, index: int) -> dict:
    """A v2 advance input's metadata, as the rollup server's /finish gives it."""
    return {"chain_id": 31337, "app_contract": APP, "msg_sender": sender,
            "block_number": block, "block_timestamp": 1_700_000_000 + 12 * block,
            "prev_randao": "0x" + "00" * 32, "input_index": index}


def hexed(data: bytes) -> str:
    return "0x" + data.hex()


def decoded(out: Output) -> dict:
    """An output as the rollup server would get it, its payload decoded where it is JSON."""
    body = dict(out.body)
    if out.kind in ("notice", "report"):
        body["payload"] = json.loads(bytes.fromhex(body["payload"][2:]))
    return {"kind": out.kind, **body}


def main(db: str) -> list[dict]:
    router = make_router(db)
    lines: list[dict] = []

    def emit(out: Output) -> None:  # one Output per call: kind "notice" | "voucher" | "report"
        lines.append(decoded(out))  # a shell POSTs out.body to /<kind>

    deposit = encode_deposit(TOKEN, GAME, 1_000, version="v2")  # as the ERC20Portal sends it
    status = router.advance(metadata(PORTALS["v2"], 10, 0), hexed(deposit), emit)
    lines.append({"input": 0, "status": status})
    op = {"op": "reward", "token": TOKEN, "player": PLAYER, "amount": "500"}
    status = router.advance(metadata(GAME, 11, 1), hexed(json.dumps(op).encode()), emit)
    lines.append({"input": 1, "status": status})
    op["amount"] = "501"  # more than the game has left: refused, one report, nothing changes
    status = router.advance(metadata(GAME, 12, 2), hexed(json.dumps(op).encode()), emit)
    lines.append({"input": 2, "status": status})
    withdraw = {"op": "withdraw", "token": TOKEN, "amount": "100"}  # a built-in op: a voucher
    status = router.advance(metadata(PLAYER, 61, 3), hexed(json.dumps(withdraw).encode()), emit)
    lines.append({"input": 3, "status": status})
    for path in (f"score/{PLAYER}", f"balance/{TOKEN}/{PLAYER}/61"):
        status, outputs = router.inspect(hexed(path.encode()))
        lines.append({"inspect": path, "status": status, **decoded(outputs[0])})
    router.close()
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python examples/embed.py",
                                     description=__doc__.strip().split("\n\n")[0])
    parser.add_argument("db", nargs="?", default=":memory:",
                        help="SQLite database file of the host DApp (default: :memory:, nothing on disk)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        for line in main(parse_args().db):
            print(json.dumps(line))
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: quiet, as a shell command killed by the pipe
        sys.stdout = None
        sys.exit(141)
