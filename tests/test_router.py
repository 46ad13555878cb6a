"""The router without HTTP: refused vouchers roll back, re-deliveries re-emit, inspects never write."""
from __future__ import annotations

import json
import sqlite3

import pytest

from streamable_token.rollup.codec import PORTALS, encode_deposit
from streamable_token.rollup.router import Output, OutputRefused, Router
from streamable_token import StreamableToken

pytestmark = pytest.mark.unit


TOKEN = "0x1111111111111111111111111111111111111111"
ALICE = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"


def meta(sender: str, index: int, block: int = 5) -> dict:
    return {"chain_id": 31337, "app_contract": "0x" + "ab" * 20, "msg_sender": sender, "block_number": block,
            "block_timestamp": 1_700_000_000 + 12 * block, "prev_randao": "0x" + "00" * 32, "input_index": index}


def hexed(data: bytes) -> str:
    return "0x" + data.hex()


def funded_router(tmp_path) -> Router:
    router = Router(StreamableToken(str(tmp_path / "r.sqlite")))
    out: list[Output] = []
    assert router.advance(meta(PORTALS["v2"], 0), hexed(encode_deposit(TOKEN, ALICE, 1000)), out.append) == "accept"
    return router


def withdraw_payload(amount: int) -> str:
    return hexed(json.dumps({"op": "withdraw", "token": TOKEN, "amount": str(amount)}).encode())


def test_a_refused_voucher_rolls_the_withdrawal_back(tmp_path):
    router = funded_router(tmp_path)
    before = router.engine.state_hash()
    emitted: list[Output] = []

    def emit(out: Output) -> None:
        if out.kind == "voucher":
            raise OutputRefused("voucher refused: HTTP 400")
        emitted.append(out)

    assert router.advance(meta(ALICE, 1), withdraw_payload(400), emit) == "reject"
    assert router.engine.state_hash() == before
    assert [o.kind for o in emitted] == ["report"]
    assert "voucher refused" in bytes.fromhex(emitted[0].body["payload"][2:]).decode()


def test_an_input_re_delivered_after_commit_is_not_applied_twice(tmp_path):
    router = funded_router(tmp_path)
    first: list[Output] = []
    assert router.advance(meta(ALICE, 1), withdraw_payload(400), first.append) == "accept"
    after = router.engine.state_hash()
    again: list[Output] = []
    assert router.advance(meta(ALICE, 1), withdraw_payload(400), again.append) == "accept"
    assert again == first and router.engine.state_hash() == after
    # the same payload as a NEW input (next index) is judged on its own
    assert router.advance(meta(ALICE, 2), withdraw_payload(400), again.append) == "accept"
    assert router.advance(meta(ALICE, 3), withdraw_payload(400), again.append) == "reject"
    assert router.engine.realtime_balance_of(TOKEN, ALICE, 5).balance == 200


def test_an_attached_command_failing_after_it_wrote_leaves_only_the_deposit(tmp_path, monkeypatch):
    """Inside the router, engine calls skip their own savepoint: the deposit's exec-layer
    savepoint must undo what a failing attached command wrote, and keep the deposit."""
    from streamable_token.errors import InvalidInput

    bob = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
    with_command = Router(StreamableToken(str(tmp_path / "a.sqlite")))
    plain = Router(StreamableToken(str(tmp_path / "b.sqlite")))
    real_open = with_command.engine.new_stream  # what the open_stream op calls

    def open_then_fail(*args, **kwargs):
        real_open(*args, **kwargs)
        raise InvalidInput("amount", 500, "injected after the write")

    monkeypatch.setattr(with_command.engine, "new_stream", open_then_fail)
    command = json.dumps({"op": "open_stream", "token": TOKEN, "receiver": bob, "amount": "500", "duration": 5})
    out: list[Output] = []
    deposit = encode_deposit(TOKEN, ALICE, 1000, command.encode())
    assert with_command.advance(meta(PORTALS["v2"], 0), hexed(deposit), out.append) == "accept"
    assert [o.kind for o in out] == ["notice", "report"]
    assert plain.advance(meta(PORTALS["v2"], 0), hexed(encode_deposit(TOKEN, ALICE, 1000)), out.append) == "accept"
    for table in ("tokens", "accounts", "ledgers", "side_events", "tree_nodes", "streams"):
        query = f"SELECT * FROM st_{table} ORDER BY 1, 2"
        assert with_command.conn.execute(query).fetchall() == plain.conn.execute(query).fetchall(), table


def test_an_exception_mid_input_leaves_no_partial_write(tmp_path, monkeypatch):
    router = funded_router(tmp_path)
    before = router.engine.state_hash()
    real_burn = router.engine.burn

    def burn_then_fail(*args, **kwargs):
        real_burn(*args, **kwargs)
        raise ZeroDivisionError("injected after the write")

    monkeypatch.setattr(router.engine, "burn", burn_then_fail)
    out: list[Output] = []
    assert router.advance(meta(ALICE, 1), withdraw_payload(400), out.append) == "reject"
    assert router.engine.state_hash() == before
    assert json.loads(bytes.fromhex(out[0].body["payload"][2:]))["error"]["message"].startswith("internal error")


def test_inspect_is_read_only_even_on_errors(tmp_path):
    router = funded_router(tmp_path)
    before = router.engine.state_hash()
    assert router.inspect(hexed(f"balance/{TOKEN}/{ALICE}/99".encode()))[0] == "accept"
    assert router.inspect(hexed(b"balance/nope"))[0] == "reject"
    assert router.inspect("0xzz")[0] == "reject"
    assert router.engine.state_hash() == before
    assert not router.conn.in_transaction


def test_inspects_read_the_committed_state_through_a_connection_that_cannot_write(tmp_path):
    router = funded_router(tmp_path)
    assert router.reader is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        router.reader.conn.execute("INSERT INTO st_meta (key, value) VALUES ('x', x'00')")
    assert router.advance(meta(ALICE, 1), withdraw_payload(400), [].append) == "accept"
    status, (answer,) = router.inspect(hexed(f"balance/{TOKEN}/{ALICE}/5".encode()))
    assert status == "accept"
    assert json.loads(bytes.fromhex(answer.body["payload"][2:]))["balance"] == "600"
    assert not router.reader.conn.in_transaction


def test_an_in_memory_database_inspects_on_its_own_connection_read_only():
    router = Router(StreamableToken(":memory:"))
    assert router.reader is None
    assert router.inspect(hexed(f"balance/{TOKEN}/{ALICE}/5".encode()))[0] == "accept"
    router.conn.execute("INSERT INTO st_meta (key, value) VALUES ('x', x'00')")  # writable again afterwards
