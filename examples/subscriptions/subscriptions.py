"""Subscriptions: a second DApp composed on the installed ``streamable_token`` library.

A merchant publishes a plan (token, amount per period, period in blocks). A user
subscribes in one input: the subscription approves this service as a spender of the
user's token (``periods`` × amount more) and the service opens the stream of the first
period from the user's funds to the merchant *as the user's operator*. A renewal (by the
subscriber or the merchant) adds one period to the stream, again on the allowance; after
the last paid period renewals are refused. Unsubscribing cancels the stream (what is not
streamed yet goes back to the user) and takes back the allowance left for this
subscription. The merchant withdraws what streamed with the library's ``withdraw`` op.

Every op below runs in the router's input transaction: it writes this DApp's tables
(``sub_*``) and the engine's (``st_*``) together, and a refusal anywhere undoes both.
"""
from __future__ import annotations

import sqlite3
from typing import Optional

from streamable_token import MAX_UINT256, StreamableToken
from streamable_token.addresses import checksum, parse_address
from streamable_token.blobs import blob_to_uint, uint_to_blob
from streamable_token.errors import InvalidInput, Unauthorized
from streamable_token.rollup.router import Call, Config, Output, Router, notice

SERVICE = "0x" + "00" * 18 + "5ab5"
"""The account the service acts as when it spends a subscriber's allowance. Nobody holds
its key: only this DApp's ops act as it, never an input's sender."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS sub_plans (
    id       INTEGER PRIMARY KEY,
    merchant BLOB NOT NULL,
    token    BLOB NOT NULL,
    amount   BLOB NOT NULL,      -- per period, uint as the engine stores it
    period   INTEGER NOT NULL    -- blocks
);
CREATE TABLE IF NOT EXISTS sub_subscriptions (
    id          INTEGER PRIMARY KEY,
    plan_id     INTEGER NOT NULL REFERENCES sub_plans(id),
    subscriber  BLOB NOT NULL,
    stream_id   INTEGER NOT NULL,
    periods     INTEGER NOT NULL,  -- paid for in all (approved)
    started     INTEGER NOT NULL,  -- periods streamed or streaming so far
    canceled    INTEGER            -- block, when unsubscribed
);
"""

MAX_PERIODS = 1000


def create_tables(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _plan(conn: sqlite3.Connection, plan_id: int) -> tuple[bytes, bytes, int, int]:
    row = conn.execute("SELECT merchant, token, amount, period FROM sub_plans WHERE id = ?", (plan_id,)).fetchone()
    if row is None:
        raise InvalidInput("plan_id", plan_id, "the id of a published plan")
    return bytes(row[0]), bytes(row[1]), blob_to_uint(row[2]), row[3]


def _subscription(conn: sqlite3.Connection, sub_id: int) -> tuple:
    row = conn.execute("SELECT plan_id, subscriber, stream_id, periods, started, canceled"
                       " FROM sub_subscriptions WHERE id = ?", (sub_id,)).fetchone()
    if row is None:
        raise InvalidInput("subscription_id", sub_id, "the id of a subscription")
    return row[0], bytes(row[1]), row[2], row[3], row[4], row[5]


def create_plan(c: Call, f: dict) -> list[Output]:
    """{"op":"create_plan","token":T,"amount":"100","period":N}: the caller is the merchant."""
    if f["period"] < 1:
        raise InvalidInput("period", f["period"], "a period of at least 1 block")
    if f["amount"] < f["period"]:
        raise InvalidInput("amount", str(f["amount"]), f">= period ({f['period']}) so that every block pays")
    plan_id = c.conn.execute(
        "INSERT INTO sub_plans (merchant, token, amount, period) VALUES (?, ?, ?, ?)",
        (bytearray(c.caller), bytearray(f["token"]), uint_to_blob(f["amount"]), f["period"]),
    ).lastrowid
    return [notice("plan_created", id=plan_id, merchant=checksum(c.caller), token=checksum(f["token"]),
                   amount=str(f["amount"]), period=f["period"], block=c.block)]


def subscribe(c: Call, f: dict) -> list[Output]:
    """{"op":"subscribe","plan_id":N,"periods":K}: approve the service for K periods and
    start the first one, in one input."""
    merchant, token, amount, period = _plan(c.conn, f["plan_id"])
    periods = f["periods"]
    if not 1 <= periods <= MAX_PERIODS:
        raise InvalidInput("periods", periods, f"1..{MAX_PERIODS}")
    if c.caller == merchant:
        raise InvalidInput("plan_id", f["plan_id"], "a plan of another merchant than the caller")
    engine = c.engine
    approved = min(MAX_UINT256, engine.allowance(token, c.caller, SERVICE) + amount * periods)
    engine.approve(token, c.caller, SERVICE, approved, c.block)
    stream = engine.new_stream(token, c.caller, merchant, amount, c.block, period, c.block, by=SERVICE)
    sub_id = c.conn.execute(
        "INSERT INTO sub_subscriptions (plan_id, subscriber, stream_id, periods, started, canceled)"
        " VALUES (?, ?, ?, ?, 1, NULL)", (f["plan_id"], bytearray(c.caller), stream.id, periods),
    ).lastrowid
    return [
        notice("approval", token=checksum(token), owner=checksum(c.caller), spender=checksum(parse_address(SERVICE)),
               amount=str(approved), block=c.block),
        notice("stream_opened", **stream.to_json(c.block), operator=checksum(parse_address(SERVICE))),
        notice("subscribed", id=sub_id, plan_id=f["plan_id"], subscriber=checksum(c.caller), stream_id=stream.id,
               periods=periods, block=c.block),
    ]


def renew(c: Call, f: dict) -> list[Output]:
    """{"op":"renew","subscription_id":N}: the subscriber or the merchant adds the next
    paid period (extends the stream while it runs, else opens the next one)."""
    plan_id, subscriber, stream_id, periods, started, canceled = _subscription(c.conn, f["subscription_id"])
    merchant, token, amount, period = _plan(c.conn, plan_id)
    if c.caller not in (subscriber, merchant):
        raise Unauthorized(f"{checksum(c.caller)} may not renew subscription {f['subscription_id']}:"
                           " only its subscriber or merchant may")
    if canceled is not None:
        raise InvalidInput("subscription_id", f["subscription_id"], f"a live subscription (canceled at {canceled})")
    if started >= periods:
        raise InvalidInput("subscription_id", f["subscription_id"], f"a subscription with periods left ({periods} paid)")
    engine = c.engine
    current = engine.get_stream(stream_id)
    if c.block < current.end_block:
        stream = engine.update_stream(stream_id, SERVICE, c.block, new_amount=current.amount + amount,
                                      new_end_block=current.end_block + period)
        event = "stream_updated"
    else:
        stream = engine.new_stream(token, subscriber, merchant, amount, c.block, period, c.block, by=SERVICE)
        event = "stream_opened"
    c.conn.execute("UPDATE sub_subscriptions SET stream_id = ?, started = started + 1 WHERE id = ?",
                   (stream.id, f["subscription_id"]))
    return [notice(event, **stream.to_json(c.block), operator=checksum(parse_address(SERVICE))),
            notice("renewed", id=f["subscription_id"], period=started + 1, of=periods, block=c.block)]


def unsubscribe(c: Call, f: dict) -> list[Output]:
    """{"op":"unsubscribe","subscription_id":N}: the subscriber stops; the unstreamed part
    of the stream and the allowance left for the unstarted periods go back."""
    plan_id, subscriber, stream_id, periods, started, canceled = _subscription(c.conn, f["subscription_id"])
    _, token, amount, _ = _plan(c.conn, plan_id)
    if c.caller != subscriber:
        raise Unauthorized(f"{checksum(c.caller)} may not end subscription {f['subscription_id']}:"
                           " only its subscriber may")
    if canceled is not None:
        raise InvalidInput("subscription_id", f["subscription_id"], f"a live subscription (canceled at {canceled})")
    engine = c.engine
    outputs: list[Output] = []
    stream = engine.get_stream(stream_id)
    if c.block < stream.end_block:
        streamed, refunded = engine.cancel_stream(stream_id, SERVICE, c.block)
        outputs.append(notice("stream_canceled", id=stream_id, by=checksum(parse_address(SERVICE)),
                              streamed=str(streamed), refunded=str(refunded), block=c.block))
    left = engine.allowance(token, subscriber, SERVICE)
    if left != MAX_UINT256:
        engine.approve(token, subscriber, SERVICE, max(0, left - amount * (periods - started)), c.block)
    c.conn.execute("UPDATE sub_subscriptions SET canceled = ? WHERE id = ?", (c.block, f["subscription_id"]))
    return outputs + [notice("unsubscribed", id=f["subscription_id"], block=c.block)]


def plan_route(engine: StreamableToken, f: dict, last_block: int) -> dict:
    merchant, token, amount, period = _plan(engine.conn, f["id"])
    return {"id": f["id"], "merchant": checksum(merchant), "token": checksum(token), "amount": str(amount),
            "period": period}


def subscription_route(engine: StreamableToken, f: dict, last_block: int) -> dict:
    plan_id, subscriber, stream_id, periods, started, canceled = _subscription(engine.conn, f["id"])
    return {"id": f["id"], "plan_id": plan_id, "subscriber": checksum(subscriber), "periods": periods,
            "started": started, "canceled": canceled, "stream": engine.get_stream(stream_id).to_json(f["block"])}


def mount(router: Router) -> Router:
    """This DApp's tables, ops and routes on a router of the library (beside its own)."""
    create_tables(router.conn)
    router.register_op("create_plan", {"token": ("address", True), "amount": ("amount", True),
                                       "period": ("int", True)}, create_plan)
    router.register_op("subscribe", {"plan_id": ("int", True), "periods": ("int", True)}, subscribe)
    router.register_op("renew", {"subscription_id": ("int", True)}, renew)
    router.register_op("unsubscribe", {"subscription_id": ("int", True)}, unsubscribe)
    router.register_route("plan", ["id"], [], plan_route)
    router.register_route("subscription", ["id"], ["block"], subscription_route)
    return router


def build(path: str, config: Optional[Config] = None) -> Router:
    """The DApp's router on the database at ``path`` (the engine's tables and ours)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    return mount(Router(StreamableToken(conn), config or Config()))
