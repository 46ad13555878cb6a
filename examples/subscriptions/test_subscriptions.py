"""The subscriptions DApp through its router, as the rollup node drives it. Runs against
whatever ``streamable_token`` is installed (tests/test_subscriptions_example.py runs it
in a fresh venv with the wheel): ``python -m pytest -q`` in this folder."""
from __future__ import annotations

import json

import pytest

import subscriptions
from subscriptions import SERVICE
from streamable_token.addresses import checksum, parse_address
from streamable_token.rollup.codec import PORTALS, encode_deposit

TOKEN = "0x" + "11" * 20
MERCHANT = "0x" + "3e" * 20
USER = "0x" + "a5" * 20
STRANGER = "0x" + "ee" * 20


class App:
    def __init__(self, path: str = ":memory:") -> None:
        self.router = subscriptions.build(path)
        self.engine = self.router.engine
        self.index = 0

    def advance(self, sender: str, payload: bytes, block: int) -> tuple[str, list]:
        meta = {"chain_id": 31337, "app_contract": "0x" + "ab" * 20, "msg_sender": sender, "block_number": block,
                "block_timestamp": 1_700_000_000 + 12 * block, "prev_randao": "0x" + "00" * 32,
                "input_index": self.index}
        self.index += 1
        out: list = []
        status = self.router.advance(meta, "0x" + payload.hex(), out.append)
        return status, [(o.kind, o.body) for o in out]

    def send(self, sender: str, block: int, **op) -> tuple[str, list]:
        return self.advance(sender, json.dumps(op).encode(), block)

    def notices(self, outputs: list) -> list[dict]:
        return [json.loads(bytes.fromhex(b["payload"][2:])) for k, b in outputs if k == "notice"]

    def error(self, outputs: list) -> dict:
        (kind, body), = outputs
        assert kind == "report"
        return json.loads(bytes.fromhex(body["payload"][2:]))["error"]

    def inspect(self, path: str) -> dict:
        status, (out,) = self.router.inspect("0x" + path.encode().hex())
        assert status == "accept", out
        return json.loads(bytes.fromhex(out.body["payload"][2:]))

    def snapshot(self) -> tuple:
        conn = self.engine.conn
        return (self.engine.state_hash(), conn.execute("SELECT * FROM sub_subscriptions").fetchall(),
                conn.execute("SELECT * FROM sub_plans").fetchall())

    def balance(self, who: str, block: int) -> tuple:
        return tuple(self.engine.realtime_balance_of(TOKEN, who, block))


@pytest.fixture
def app() -> App:
    app = App()
    assert app.advance(PORTALS["v2"], encode_deposit(TOKEN, USER, 1000), 1)[0] == "accept"
    status, out = app.send(MERCHANT, 1, op="create_plan", token=TOKEN, amount="100", period=10)
    assert status == "accept" and app.notices(out)[0]["id"] == 1
    return app


def subscribed(app: App, periods: int = 3, block: int = 2) -> list[dict]:
    status, out = app.send(USER, block, op="subscribe", plan_id=1, periods=periods)
    assert status == "accept", out
    return app.notices(out)


def test_subscribing_approves_the_service_and_it_opens_the_stream_as_operator(app):
    events = subscribed(app)
    assert [e["event"] for e in events] == ["approval", "stream_opened", "subscribed"]
    stream = events[1]
    assert stream["sender"] == checksum(parse_address(USER)) and stream["receiver"] == checksum(parse_address(MERCHANT))
    assert stream["operator"] == checksum(parse_address(SERVICE)) and stream["amount"] == "100"
    assert app.engine.allowance(TOKEN, USER, SERVICE) == 200  # 3 periods approved, one started
    assert app.balance(USER, 2) == (1000, 900, 100)
    assert app.balance(MERCHANT, 7) == (50, 50, 0)
    sub = app.inspect("subscription/1/7")
    assert (sub["periods"], sub["started"], sub["stream"]["streamed"]) == (3, 1, "50")


def test_a_refused_subscription_changes_neither_table(app):
    status, out = app.send(USER, 2, op="subscribe", plan_id=1, periods=3)
    assert status == "accept"
    app.send(USER, 2, op="transfer", token=TOKEN, receiver=STRANGER, amount="850")
    before = app.snapshot()
    status, out = app.send(USER, 2, op="subscribe", plan_id=1, periods=2)  # 50 available, 100 needed
    assert status == "reject" and app.error(out)["type"] == "InsufficientFunds"
    assert app.snapshot() == before
    status, out = app.send(USER, 2, op="subscribe", plan_id=9, periods=2)
    assert status == "reject" and app.error(out)["field"] == "plan_id" and app.snapshot() == before


def test_renewals_extend_then_reopen_and_stop_after_the_paid_periods(app):
    subscribed(app)
    status, out = app.send(MERCHANT, 5, op="renew", subscription_id=1)  # while streaming: extended
    assert status == "accept" and app.notices(out)[0]["event"] == "stream_updated"
    assert app.notices(out)[0]["amount"] == "200" and app.notices(out)[0]["end_block"] == 22
    assert app.engine.allowance(TOKEN, USER, SERVICE) == 100
    status, out = app.send(USER, 30, op="renew", subscription_id=1)  # after the end: a new stream
    assert status == "accept" and app.notices(out)[0]["event"] == "stream_opened"
    assert app.notices(out)[0]["operator"] == checksum(parse_address(SERVICE))
    assert app.engine.allowance(TOKEN, USER, SERVICE) == 0
    before = app.snapshot()
    status, out = app.send(MERCHANT, 31, op="renew", subscription_id=1)
    assert status == "reject" and app.error(out)["field"] == "subscription_id" and app.snapshot() == before
    assert app.balance(MERCHANT, 40) == (300, 300, 0) and app.balance(USER, 40) == (700, 700, 0)


def test_a_stranger_may_not_renew_or_unsubscribe(app):
    subscribed(app)
    before = app.snapshot()
    for op in ("renew", "unsubscribe"):
        status, out = app.send(STRANGER, 3, op=op, subscription_id=1)
        assert status == "reject" and app.error(out)["type"] == "Unauthorized"
        assert app.snapshot() == before
    # nor spend the service's allowance through the library's own ops
    status, out = app.send(STRANGER, 3, op="transfer_from", token=TOKEN, owner=USER, receiver=STRANGER, amount="1")
    assert status == "reject" and app.error(out)["type"] == "InsufficientAllowance"
    assert app.snapshot() == before


def test_unsubscribing_refunds_the_rest_and_takes_back_the_allowance(app):
    subscribed(app)
    status, out = app.send(USER, 6, op="unsubscribe", subscription_id=1)
    assert status == "accept"
    assert [e["event"] for e in app.notices(out)] == ["stream_canceled", "unsubscribed"]
    assert app.balance(USER, 6) == (960, 960, 0) and app.balance(MERCHANT, 50) == (40, 40, 0)
    assert app.engine.allowance(TOKEN, USER, SERVICE) == 0
    status, out = app.send(MERCHANT, 7, op="renew", subscription_id=1)
    assert status == "reject"


def test_the_merchant_withdraws_what_streamed(app):
    subscribed(app)
    status, out = app.send(MERCHANT, 12, op="withdraw", token=TOKEN, amount="100")
    assert status == "accept" and [k for k, _ in out] == ["voucher", "notice"]
    assert app.engine.total_supply(TOKEN) == 900
    status, out = app.send(MERCHANT, 12, op="withdraw", token=TOKEN, amount="1")
    assert status == "reject" and app.error(out)["type"] == "InsufficientFunds"


def test_routes_show_the_plan(app):
    assert app.inspect("plan/1") == {"id": 1, "merchant": checksum(parse_address(MERCHANT)),
                                     "token": checksum(parse_address(TOKEN)), "amount": "100", "period": 10}
