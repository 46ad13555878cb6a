"""Ops and inspect routes are tables (name -> schema -> handler): every schema has a
handler and every handler a schema, an unknown name runs nobody's code, and a host DApp
registers its own ops and routes beside ours, in the same router and transaction."""
from __future__ import annotations

import json

import pytest

from streamable_token import StreamableToken
from streamable_token.errors import InvalidInput
from streamable_token.rollup import inspect as routes
from streamable_token.rollup import ops
from streamable_token.rollup.codec import PORTALS, encode_deposit
from streamable_token.rollup.ops import Op
from streamable_token.rollup.router import HANDLERS, OPS, Output, Router, notice

pytestmark = pytest.mark.unit


TOKEN = "0x1111111111111111111111111111111111111111"
ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20


def meta(sender: str, index: int, block: int = 5) -> dict:
    return {"chain_id": 31337, "app_contract": "0x" + "ab" * 20, "msg_sender": sender, "block_number": block,
            "block_timestamp": 1_700_000_000 + 12 * block, "prev_randao": "0x" + "00" * 32, "input_index": index}


def send(router: Router, sender: str, index: int, obj: dict, block: int = 5) -> tuple[str, list[Output]]:
    out: list[Output] = []
    verdict = router.advance(meta(sender, index, block), "0x" + json.dumps(obj).encode().hex(), out.append)
    return verdict, out


def payloads(out: list[Output]) -> list[dict]:
    return [json.loads(bytes.fromhex(o.body["payload"][2:])) for o in out]


@pytest.fixture
def router(tmp_path) -> Router:
    r = Router(StreamableToken(str(tmp_path / "t.sqlite")))
    out: list[Output] = []
    assert r.advance(meta(PORTALS["v2"], 0), "0x" + encode_deposit(TOKEN, ALICE, 1000).hex(), out.append) == "accept"
    return r


def test_every_op_schema_has_a_handler_and_every_handler_a_schema():
    assert set(ops.SCHEMAS) == set(HANDLERS) == set(OPS)
    for name, spec in OPS.items():
        assert spec.schema is ops.SCHEMAS[name] and spec.handler is HANDLERS[name]
        assert all(kind in ops.KINDS for kind, _ in spec.schema.values())


def test_every_route_has_a_handler_and_its_fields():
    assert set(routes.ROUTES) == {"balance", "stream", "streams", "token", "tokens", "holders", "allowance", "state-hash"}
    for route in routes.ROUTES.values():
        assert callable(route.handler) and isinstance(route.positional, list) and isinstance(route.optional, list)


def test_an_unknown_op_runs_no_handler(router):
    before = router.engine.state_hash()
    verdict, out = send(router, ALICE, 1, {"op": "mint", "token": TOKEN, "amount": "5"})
    assert verdict == "reject" and payloads(out)[0]["error"]["field"] == "op"
    assert router.engine.state_hash() == before
    with pytest.raises(InvalidInput):  # even an Op built past the parser finds no handler
        router._apply(Op("mint", {}), bytes(20), 5)


def test_a_schema_with_an_unknown_field_kind_is_refused_at_registration(router):
    with pytest.raises(ValueError, match="kind"):
        router.register_op("tip", {"amount": ("float", True)}, lambda c, f: [])
    with pytest.raises(ValueError, match="already registered"):
        router.register_op("withdraw", {"amount": ("amount", True)}, lambda c, f: [])
    with pytest.raises(ValueError, match="already registered"):
        router.register_route("balance", [], [], lambda e, f, b: {})


def test_an_unknown_route_is_refused_not_answered_by_another(router):
    status, out = router.inspect("0x" + b"tips/1".hex())
    assert status == "reject" and payloads(out)[0]["error"]["field"] == "route"


def add_tips(router: Router) -> None:
    """A host DApp's own op and route, on its own table in the same database."""
    router.conn.execute("CREATE TABLE IF NOT EXISTS host_tips (id INTEGER PRIMARY KEY, sender BLOB, amount TEXT)")

    def tip(call, f):
        out = call.apply(Op("transfer", {"token": f["token"], "receiver": f["receiver"], "amount": f["amount"]}))
        call.conn.execute("INSERT INTO host_tips (sender, amount) VALUES (?, ?)", (call.caller, str(f["amount"])))
        if f["amount"] > 100:
            raise InvalidInput("amount", f["amount"], "a tip of at most 100")  # after both writes
        return out + [notice("tipped", amount=str(f["amount"]), block=call.block)]

    def tips(engine, f, last_block):
        (n,) = engine.conn.execute("SELECT count(*) FROM host_tips").fetchone()
        return {"tips": n, "block": f["block"]}

    router.register_op("tip", {"token": ("address", True), "receiver": ("address", True),
                               "amount": ("amount", True)}, tip)
    router.register_route("tips", [], ["block"], tips)


def test_a_host_op_and_route_run_beside_ours_in_the_same_transaction(router):
    add_tips(router)
    verdict, out = send(router, ALICE, 1, {"op": "tip", "token": TOKEN, "receiver": BOB, "amount": "40"})
    assert verdict == "accept"
    assert [p["event"] for p in payloads(out)] == ["transfer", "tipped"]
    assert router.engine.realtime_balance_of(TOKEN, BOB, 5).balance == 40
    status, answer = router.inspect("0x" + b"tips".hex())
    assert status == "accept" and payloads(answer)[0] == {"tips": 1, "block": 5}
    # inside a batch too, and a refused tip undoes the host's row and the engine's transfer alike
    before = router.engine.state_hash()
    verdict, out = send(router, ALICE, 2, {"op": "batch", "ops": [
        {"op": "tip", "token": TOKEN, "receiver": BOB, "amount": "10"},
        {"op": "tip", "token": TOKEN, "receiver": BOB, "amount": "500"}]})
    assert verdict == "reject" and payloads(out)[0]["error"]["field"] == "amount"
    assert router.engine.state_hash() == before
    assert router.conn.execute("SELECT count(*) FROM host_tips").fetchone() == (1,)
    assert router.engine.realtime_balance_of(TOKEN, BOB, 5).balance == 40
