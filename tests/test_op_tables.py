"""Ops and inspect routes are tables (name -> fields and handler, declared once): an
unknown name runs nobody's code, and a host DApp registers its own ops and routes beside
ours, the same way, in the same router and transaction."""
from __future__ import annotations

import json

import pytest

from streamable_token import StreamableToken
from streamable_token.errors import InvalidInput
from streamable_token.rollup import inspect as routes
from streamable_token.rollup import ops
from streamable_token.rollup.codec import PORTALS, encode_deposit
from streamable_token.rollup.ops import Op
from streamable_token.rollup import builtin_ops
from streamable_token.rollup.builtin_ops import OPS
from streamable_token.rollup import router as router_module
from streamable_token.rollup.router import Output, Router, notice

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


def test_each_op_is_declared_once_with_its_fields_and_handler_together():
    assert list(OPS) == ["transfer", "open_stream", "cancel_stream", "update_stream", "withdraw", "approve",
                         "transfer_from", "batch"]
    for name, spec in OPS.items():
        assert spec.handler is getattr(builtin_ops, name)  # the handler declared under the op's name
        assert all(kind in ops.KINDS for kind, _ in spec.schema.values())
    assert [n for n, spec in OPS.items() if not spec.nestable] == ["batch"]
    # no second table of the same ops anywhere in the package
    assert not hasattr(ops, "SCHEMAS") and not hasattr(ops, "NESTABLE_NOT")
    assert not hasattr(router_module, "HANDLERS")


def test_the_parser_checks_shape_and_the_engine_meaning(router):
    """An update with nothing to change has the right shape: the engine refuses it (once),
    as it does a library call, in the same words."""
    parsed = ops.parse_command(json.dumps({"op": "update_stream", "stream_id": 1}).encode(), OPS)
    assert parsed.fields == {"stream_id": 1}
    verdict, out = send(router, ALICE, 1, {"op": "update_stream", "stream_id": 1})
    assert verdict == "reject"
    assert payloads(out)[0]["error"] == {"field": "amount", "type": "InvalidInput",
                                          "message": "missing field 'amount': update_stream requires a new amount and/or end_block"}
    with pytest.raises(InvalidInput) as err:
        router.engine.update_stream(1, ALICE, 5)
    assert str(err.value) == payloads(out)[0]["error"]["message"]


def test_a_host_declares_its_ops_the_way_the_built_in_ones_are(router):
    @router.op("double", {"token": ("address", True), "receiver": ("address", True), "amount": ("amount", True)})
    def double(call, f):
        return call.apply(Op("transfer", f)) + call.apply(Op("transfer", f))

    verdict, out = send(router, ALICE, 1, {"op": "batch", "ops": [
        {"op": "double", "token": TOKEN, "receiver": BOB, "amount": "7"}]})
    assert verdict == "accept" and router.engine.realtime_balance_of(TOKEN, BOB, 5).balance == 14
    router.register_op("sweep", {}, lambda c, f: [], nestable=False)
    verdict, out = send(router, ALICE, 2, {"op": "batch", "ops": [{"op": "sweep"}]})
    assert verdict == "reject" and payloads(out)[0]["error"]["field"] == "op"
    allowed = payloads(out)[0]["error"]["message"].split("expected one of ")[1].split(", ")
    assert "sweep" not in allowed and "batch" not in allowed and "double" in allowed
    assert "double" not in OPS  # the router's table, not the built-in one


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
