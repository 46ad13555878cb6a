"""Inspect routes: read-only questions, as a path or as the same thing in JSON.

    balance/<token>/<account>[/<block>]
    stream/<id>[/<block>]
    streams/<account>[/<block>][?role=&active_at=&after=&limit=&block=]
    token/<token>
    tokens[?after=&limit=]
    holders/<token>[/<block>][?after=&limit=&block=]
    allowance/<token>/<owner>/<spender>
    state-hash
    {"route": "balance", "token": T, "account": A, "block": N}   (JSON form of any route)

Every figure that moves with the block (a balance, a stream's status and streamed
amount) is given at a block: the one asked for, as the last path segment or ``?block=``,
or else the block of the last accepted advance input. Inspects carry no metadata on a
real node, so the DApp has no other clock to read.
"""
from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple, Optional

from streamable_token.rollup.ops import load_json
from streamable_token import StreamableToken
from streamable_token.addresses import checksum, parse_address
from streamable_token.constants import MAX_BLOCK
from streamable_token.errors import InvalidInput

_PATH = re.compile(r"[A-Za-z0-9/?&=_-]{1,200}")
_INT = re.compile(r"0|[1-9][0-9]{0,18}")


class Route(NamedTuple):
    """One row of a route table: positional path fields, optional query fields, and the
    handler ``(engine, fields, last_block) -> dict`` that answers read-only."""

    positional: list
    optional: list
    handler: Callable[[Any, dict, int], dict]


_INT_FIELDS = {"block", "id", "active_at", "after", "limit"}


def parse(payload: bytes, default_block: int, routes: Optional[dict] = None) -> tuple[str, dict]:
    """(route, fields) from a path or a JSON query by the route table ``routes`` (the
    built-in :data:`ROUTES` when None); refuse anything unexpected."""
    table = _ROUTES if routes is None else routes
    route, fields = (_from_json if payload[:1] == b"{" else _from_path)(payload, table)
    return route, _checked(route, fields, table[route], default_block)


def _from_json(payload: bytes, table: dict) -> tuple[str, dict]:
    """The route named by a JSON object's ``route`` member, and its other members."""
    obj = load_json(payload)
    if not isinstance(obj, dict) or not isinstance(obj.get("route"), str) or obj["route"] not in table:
        raise InvalidInput("route", obj.get("route") if isinstance(obj, dict) else obj, f"one of {', '.join(table)}")
    route = obj.pop("route")
    return route, obj


def _from_path(payload: bytes, table: dict) -> tuple[str, dict]:
    """The route a path names, its positional segments (and a trailing block) by the
    route's field names, then its query's key=value pairs."""
    text = _ascii_path(payload)
    path, _, query = text.partition("?")
    route, *args = path.strip("/").split("/")
    if route not in table:
        raise InvalidInput("route", route, f"one of {', '.join(table)}")
    positional, optional, _ = table[route]
    fields = {}
    if "block" in optional and len(args) == len(positional) + 1:
        fields["block"] = args.pop()
    if len(args) != len(positional):
        shape = "/".join(f"<{p}>" for p in positional) + ("[/<block>]" if "block" in optional else "")
        raise InvalidInput("path", text, f"{route}/{shape}" if shape else route)
    fields.update(zip(positional, args))
    _add_query(query, optional, fields)
    return route, fields


def _ascii_path(payload: bytes) -> str:
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidInput("path", payload[:80], "an ASCII inspect path") from None
    if not _PATH.fullmatch(text) or "//" in text:
        raise InvalidInput("path", text[:80], "route/arg[/arg][?key=value&...] of letters, digits, -, _")
    return text


def _add_query(query: str, optional: list, fields: dict) -> None:
    """Each ``key=value`` of a query into ``fields``: only the route's optional fields,
    each at most once (a block given in the path counts)."""
    for pair in query.split("&") if query else []:
        key, eq, value = pair.partition("=")
        if not eq or key not in optional or key in fields:
            raise InvalidInput("query", pair, f"each of {', '.join(optional) or 'nothing'} at most once as key=value")
        fields[key] = value


def _checked(route: str, fields: dict, row: Route, default_block: int) -> dict:
    """``fields`` checked against the route's row: no field it does not take, every
    positional one there, integers as integers, and the block by default."""
    positional, optional, _ = row
    allowed = set(positional) | set(optional)
    extra = sorted(set(fields) - allowed)
    if extra:
        raise InvalidInput(extra[0], fields[extra[0]], f"no such field for {route}; fields are {', '.join(sorted(allowed)) or 'none'}")
    for key in positional:
        if key not in fields:
            raise InvalidInput.missing(key, f"{route} requires {key}")
    for key in (*positional, *optional):  # in the route's order: a set's order follows the hash seed
        if key in _INT_FIELDS and key in fields:
            fields[key] = _int(key, fields[key])
    if "block" in optional:
        fields.setdefault("block", default_block)
    return fields


_INT_EXPECTED = {
    "block": "a block number in 0..2^62",
    "active_at": "a block number in 0..2^62",
    "id": "a stream id in 1..2^63-1",
    "after": "the next_after of the previous page, an integer in 0..2^63-1",
    "limit": "an integer in 1..1000",
}
"""What each integer field of the built-in routes accepts, said when one is not an
integer at all (the engine then checks the range, in the same words)."""


def _int(key: str, value: Any) -> int:
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    raise InvalidInput(key, value, _INT_EXPECTED.get(key, "a non-negative integer"))


def answer(engine: StreamableToken, payload: bytes, last_block: int, routes: Optional[dict] = None) -> dict:
    """The answer to an inspect: the route's handler, found in ``routes`` by name only
    (a name that is not there was refused by :func:`parse`)."""
    table = _ROUTES if routes is None else routes
    route, fields = parse(payload, last_block, table)
    return table[route].handler(engine, fields, last_block)


def _balance(engine: StreamableToken, f: dict, last_block: int) -> dict:
    bal = engine.realtime_balance_of(f["token"], f["account"], f["block"])
    return {
        "token": checksum(parse_address(f["token"], "token")),
        "account": checksum(parse_address(f["account"], "account")),
        "balance": str(bal.balance),
        "available": str(bal.available),
        "committed": str(bal.committed),
        "block": f["block"],
    }


def _stream(engine: StreamableToken, f: dict, last_block: int) -> dict:
    return engine.get_stream(f["id"]).to_json(f["block"])


def _streams(engine: StreamableToken, f: dict, last_block: int) -> dict:
    limit = f.get("limit", 100)
    page = engine.streams_of(f["account"], role=f.get("role", "all"), active_at=f.get("active_at"),
                             limit=limit, after_id=f.get("after", 0))
    return {
        "account": checksum(parse_address(f["account"], "account")),
        "streams": [s.to_json(f["block"]) for s in page],
        "block": f["block"],
        "next_after": page[-1].id if len(page) == limit else None,
    }


def _token(engine: StreamableToken, f: dict, last_block: int) -> dict:
    deposited, withdrawn = engine.token_totals(f["token"])
    return {
        "token": checksum(parse_address(f["token"], "token")),
        "deposited": str(deposited),
        "withdrawn": str(withdrawn),
        "total_supply": str(deposited - withdrawn),
    }


def _tokens(engine: StreamableToken, f: dict, last_block: int) -> dict:
    limit = f.get("limit", 100)
    page = engine.tokens_page(after=f.get("after", 0), limit=limit)
    return {
        "tokens": [{"token": t.token, "deposited": str(t.deposited), "withdrawn": str(t.withdrawn),
                    "total_supply": str(t.deposited - t.withdrawn)} for t in page],
        "next_after": page[-1].cursor if len(page) == limit else None,
    }


def _holders(engine: StreamableToken, f: dict, last_block: int) -> dict:
    if f["block"] > MAX_BLOCK:  # refused even when the page is empty (no balance to check it)
        raise InvalidInput("block", f["block"], _INT_EXPECTED["block"])
    limit = f.get("limit", 100)
    page = engine.holders_page(f["token"], after=f.get("after", 0), limit=limit)
    holders = []
    for _, account in page:
        bal = engine.realtime_balance_of(f["token"], account, f["block"])
        holders.append({"account": account, "balance": str(bal.balance), "available": str(bal.available),
                        "committed": str(bal.committed)})
    return {
        "token": checksum(parse_address(f["token"], "token")),
        "holders": holders,
        "block": f["block"],
        "next_after": page[-1][0] if len(page) == limit else None,
    }


def _allowance(engine: StreamableToken, f: dict, last_block: int) -> dict:
    return {
        "token": checksum(parse_address(f["token"], "token")),
        "owner": checksum(parse_address(f["owner"], "owner")),
        "spender": checksum(parse_address(f["spender"], "spender")),
        "allowance": str(engine.allowance(f["token"], f["owner"], f["spender"])),
    }


def _state_hash(engine: StreamableToken, f: dict, last_block: int) -> dict:
    return {"state_hash": engine.state_hash(), "block": last_block}


# route -> (positional fields, optional query fields, handler)
ROUTES: dict[str, Route] = {
    "balance": Route(["token", "account"], ["block"], _balance),
    "stream": Route(["id"], ["block"], _stream),
    "streams": Route(["account"], ["role", "active_at", "after", "limit", "block"], _streams),
    "token": Route(["token"], [], _token),
    "tokens": Route([], ["after", "limit"], _tokens),
    "holders": Route(["token"], ["after", "limit", "block"], _holders),
    "allowance": Route(["token", "owner", "spender"], [], _allowance),
    "state-hash": Route([], [], _state_hash),
}
_ROUTES = ROUTES
