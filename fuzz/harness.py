"""A rollup node in a box, the properties every state must keep, and the seeded input log.

``Node`` drives the real :class:`streamable_token.rollup.router.Router` the way a rollup node does: v2
metadata built exactly as the local host builds it (same timestamps and prev_randao), input
indices counted, the outputs of each input collected in order. ``check_invariants``
asserts the invariants of shared/README.md over every account, token and stream;
``mixed_log`` is the seeded log of the replay and load tests.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, Optional

from eth_abi import decode as abi_decode

from streamable_token.constants import ERC20_TRANSFER_SELECTOR, PORTALS
from streamable_token.rollup.codec import encode_deposit
from streamable_token.rollup.router import Config, Output, Router
from rollup_host.codec import DEFAULT_APP_ADDRESS, DEFAULT_CHAIN_ID, block_timestamp, prev_randao
from streamable_token import Status, StreamableToken
from streamable_token.addresses import checksum, parse_address

PORTAL = PORTALS["v2"]
APP = DEFAULT_APP_ADDRESS


def address(label: str) -> str:
    """A deterministic lowercase address for a named test actor."""
    return "0x" + hashlib.sha256(label.encode()).hexdigest()[:40]


ALICE, BOB, CAROL, MALLORY = (address(n) for n in ("alice", "bob", "carol", "mallory"))
TOKEN, TOKEN2 = address("token-1"), address("token-2")


def metadata(sender: str, index: int, block: int) -> dict:
    """v2 advance metadata, field for field what ``rollup_host`` delivers."""
    return {
        "chain_id": DEFAULT_CHAIN_ID,
        "app_contract": checksum(parse_address(APP)),
        "msg_sender": checksum(parse_address(sender)),
        "block_number": block,
        "block_timestamp": block_timestamp(block),
        "prev_randao": prev_randao(block),
        "input_index": index,
    }


def op(name: str, **fields: Any) -> bytes:
    """A compact JSON command; ints that are amounts become decimal strings."""
    body: dict[str, Any] = {"op": name}
    for key, value in fields.items():
        body[key] = str(value) if key == "amount" and isinstance(value, int) else value
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Result:
    status: str
    outputs: list[Output]

    def decoded(self) -> list[tuple[str, Any]]:
        return [decode_output(o) for o in self.outputs]

    @property
    def error(self) -> Optional[dict]:
        """The ``error`` object of the first error report, if any."""
        for kind, body in self.decoded():
            if kind == "report" and isinstance(body, dict) and "error" in body:
                return body["error"]
        return None


def decode_output(out: Output) -> tuple[str, Any]:
    """(kind, JSON body) for notices and reports; (``voucher``, (token, receiver, amount))."""
    if out.kind == "voucher":
        data = bytes.fromhex(out.body["payload"][2:])
        assert data[:4] == ERC20_TRANSFER_SELECTOR, out
        receiver, amount = abi_decode(["address", "uint256"], data[4:])
        assert int(out.body["value"], 16) == 0, out
        return "voucher", (checksum(parse_address(out.body["destination"])), checksum(parse_address(receiver)), amount)
    return out.kind, json.loads(bytes.fromhex(out.body["payload"][2:]))


class Node:
    """One DApp instance on its own database, fed inputs the way the rollup node feeds them."""

    def __init__(self, path: str = ":memory:", config: Config = Config()) -> None:
        self.engine = StreamableToken(path)
        self.router = Router(self.engine, config)
        self.conn = self.engine.conn
        self.index = 0
        self.block = 1

    def advance(self, sender: str, payload: bytes, block: Optional[int] = None) -> Result:
        """One advance input from ``sender`` at ``block`` (default: the current block)."""
        if block is not None:
            self.block = block
        return self.advance_raw(metadata(sender, self.index, self.block), payload)

    def advance_raw(self, meta: Any, payload: Any) -> Result:
        """Metadata as given; ``payload`` as bytes, or passed through as the node's hex."""
        outputs: list[Output] = []
        payload_hex = "0x" + payload.hex() if isinstance(payload, (bytes, bytearray)) else payload
        status = self.router.advance(meta, payload_hex, outputs.append)
        self.index += 1
        if isinstance(meta, dict) and type(meta.get("block_number")) is int and status == "accept":
            self.block = max(self.block, meta["block_number"])
        return Result(status, outputs)

    def send(self, sender: str, name: str, block: Optional[int] = None, **fields: Any) -> Result:
        return self.advance(sender, op(name, **fields), block)

    def deposit(self, token: str, account: str, amount: int, data: bytes = b"",
                block: Optional[int] = None) -> Result:
        return self.advance(PORTAL, encode_deposit(token, account, amount, data), block)

    def inspect(self, payload: bytes) -> Result:
        status, outputs = self.router.inspect("0x" + payload.hex())
        return Result(status, outputs)

    def state_hash(self) -> str:
        return self.engine.state_hash()

    def dump(self) -> str:
        """Every table, row for row, as SQL text (what ``iterdump`` gives)."""
        return "\n".join(self.conn.iterdump())

    def balance(self, token: str, account: str, block: Optional[int] = None):
        return self.engine.realtime_balance_of(token, account, self.block if block is None else block)


# --- invariants --------------------------------------------------------------------


def all_streams(engine: StreamableToken, account: str) -> list:
    streams, after = [], 0
    while True:
        page = engine.streams_of(account, role="outgoing", limit=1000, after_id=after)
        streams += page
        if len(page) < 1000:
            return streams
        after = page[-1].id


def check_invariants(engine: StreamableToken, block: int, ghost_supply: Optional[dict] = None) -> dict:
    """Assert conservation, no negatives and solvency at ``block`` (>= every input's block).

    Per token: Σ balances = deposited − withdrawn (= ``ghost_supply[token]`` when given,
    what the inputs deposited minus what the vouchers paid out). Per account: balance =
    available + committed, none negative, and committed = what its open outgoing streams
    still owe (so every stream can be paid in full). Per stream: 0 <= streamed <= amount.
    Returns a few counts for the caller to report.
    """
    counts = {"tokens": 0, "ledgers": 0, "streams": 0, "open_streams": 0}
    for token in engine.tokens():
        counts["tokens"] += 1
        deposited, withdrawn = engine.token_totals(token)
        supply = deposited - withdrawn
        assert supply >= 0, (token, deposited, withdrawn)
        if ghost_supply is not None:
            assert supply == ghost_supply.get(token, 0), (token, supply, ghost_supply.get(token))
        total = 0
        for account in engine.accounts_of(token):
            counts["ledgers"] += 1
            bal = engine.realtime_balance_of(token, account, block)
            assert bal.available >= 0 and bal.committed >= 0, (token, account, bal)
            assert bal.balance == bal.available + bal.committed, (token, account, bal)
            total += bal.balance
            owed = 0
            for s in all_streams(engine, account):
                if s.token != token:
                    continue
                streamed = s.streamed_at(block)
                assert 0 <= streamed <= s.amount, s
                if s.canceled_block is None:
                    owed += s.amount - streamed
                    counts["open_streams"] += block < s.end_block
                counts["streams"] += 1
            assert bal.committed == owed, (token, account, bal, owed)
        assert total == supply, (token, total, supply)
    return counts


def balances(engine: StreamableToken, block: int) -> dict[tuple[str, str], tuple[int, int]]:
    """(token, account) -> (balance, available) at ``block``, for every ledger."""
    out = {}
    for token in engine.tokens():
        for account in engine.accounts_of(token):
            bal = engine.realtime_balance_of(token, account, block)
            out[(token, account)] = (bal.balance, bal.available)
    return out


STATUS_ORDER = {Status.PENDING: 0, Status.STREAMING: 1, Status.SETTLED: 2, Status.CANCELED: 2}


# --- the mixed input log ----------------------------------------------------------


def mixed_log(n: int = 10_000, seed: int = 20240601, users: int = 200, tokens: int = 3) -> list[dict]:
    """A seeded log of ``n`` advance inputs (mostly valid deposits and commands, ~10 %
    hostile ones) with a state-hash, balance or streams inspect every 500 of them.

    Each entry is ``{"kind": "advance", "sender", "block", "payload"}`` (payload as hex)
    or ``{"kind": "inspect", "payload"}``. Long streams dominate, so well over a thousand
    are still open at the end. The log depends on ``random.Random`` only, so it is the
    same on every machine; ``log_digest`` pins it.
    """
    rng = random.Random(seed)
    people = [address(f"user-{i}") for i in range(users)]
    toks = [address(f"mixed-token-{i}") for i in range(tokens)]
    log: list[dict] = []
    block = 100
    streams: list[dict] = []  # what the log expects the engine to hold, id = position + 1

    count = 0  # advance inputs so far

    def advance(sender: str, payload: bytes) -> None:
        nonlocal count
        count += 1
        log.append({"kind": "advance", "sender": sender, "block": block, "payload": "0x" + payload.hex()})

    def deposit(token: str, who: str, amount: int, data: bytes = b"") -> None:
        advance(PORTAL, encode_deposit(token, who, amount, data))

    def other(than: str) -> str:
        while True:
            who = rng.choice(people)
            if who != than:
                return who

    def open_stream(sender: str, token: str, receiver: str) -> bytes:
        long = rng.random() < 0.85
        duration = rng.randrange(50_000, 1_000_000) if long else rng.randrange(1, 400)
        amount = rng.randrange(duration, duration * 10**6)
        start = block + (rng.randrange(0, 50) if rng.random() < 0.3 else 0)
        fields = {"token": token, "receiver": receiver, "amount": amount, "duration": duration}
        if start != block or rng.random() < 0.5:
            fields["start_block"] = start
        streams.append({"sender": sender, "receiver": receiver, "token": token, "amount": amount,
                        "end": start + duration, "start": start, "canceled": False})
        return op("open_stream", **fields)

    def live_stream() -> Optional[tuple[int, dict]]:
        for _ in range(5):
            if not streams:
                return None
            sid = rng.randrange(len(streams))
            s = streams[sid]
            if not s["canceled"] and s["end"] > block:
                return sid + 1, s
        return None

    for who in people:
        for token in toks:
            deposit(token, who, rng.randrange(10**21, 10**23))
        if rng.random() < 0.3:
            block += 1

    while count < n:
        if count % 500 == 0 and log[-1]["kind"] != "inspect":
            query = rng.choice(["state-hash", f"balance/{rng.choice(toks)}/{rng.choice(people)}",
                                f"streams/{rng.choice(people)}?role=outgoing&limit=5"])
            log.append({"kind": "inspect", "payload": "0x" + query.encode().hex()})
            continue
        if rng.random() < 0.25:
            block += rng.randrange(1, 4)
        me = rng.choice(people)
        token = rng.choice(toks)
        roll = rng.random()
        if roll < 0.33:
            advance(me, open_stream(me, token, other(me)))
        elif roll < 0.48:
            advance(me, op("transfer", token=token, receiver=other(me), amount=rng.randrange(1, 10**18)))
        elif roll < 0.54:
            advance(me, op("withdraw", token=token, amount=rng.randrange(1, 10**18)))
        elif roll < 0.60:
            data = b""
            if rng.random() < 0.4:
                data = op("transfer", token=token, receiver=other(me), amount=rng.randrange(1, 10**18))
            deposit(token, me, rng.randrange(1, 10**21), data)
        elif roll < 0.66:
            found = live_stream()
            if found:
                sid, s = found
                caller = s["sender"] if rng.random() < 0.7 else s["receiver"]
                s["canceled"] = True
                advance(caller, op("cancel_stream", stream_id=sid))
        elif roll < 0.73:
            found = live_stream()
            if found:
                sid, s = found
                if rng.random() < 0.5:
                    s["amount"] = s["amount"] * 2
                    advance(s["sender"], op("update_stream", stream_id=sid, amount=s["amount"]))
                else:
                    s["end"] += rng.randrange(1, 10_000)
                    advance(s["sender"], op("update_stream", stream_id=sid, end_block=s["end"]))
        elif roll < 0.78:
            ops = [json.loads(op("transfer", token=token, receiver=other(me), amount=rng.randrange(1, 10**17)))
                   for _ in range(rng.randrange(1, 4))]
            ops.append(json.loads(open_stream(me, token, other(me))))
            advance(me, json.dumps({"op": "batch", "ops": ops}, separators=(",", ":")).encode())
        else:  # hostile or mistaken: every one of these must be refused
            advance(me, hostile(rng, me, token, people, len(streams)))
    return log


def hostile(rng: random.Random, me: str, token: str, people: list[str], stream_count: int) -> bytes:
    """A payload from ``me`` that must be rejected, whatever the state."""
    victim = rng.choice(people)
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 120))
    if kind == 1:
        return rng.choice([b"", b"{", b"[]", b'{"op":"transfer"}', b'{"op":1}', b"\xff\xfe",
                           b'{"op":"withdraw","token":"%s","amount":"1.0"}' % token.encode()])
    if kind == 2:  # a deposit payload sent by a user instead of the portal
        return encode_deposit(token, me, 10**24)
    if kind == 3:  # move more than anyone holds
        return op("withdraw", token=token, amount=10**30)
    if kind == 4:
        return op("transfer", token=token, receiver=victim if victim != me else ALICE, amount=10**30)
    if kind == 5:  # name someone else as the sender
        return op("transfer", token=token, receiver=me, amount=1, sender=victim)
    if kind == 6:
        return op("cancel_stream", stream_id=rng.choice([0, -1, 2**62 + 1, 10**9 + stream_count]))
    if kind == 7:
        return op("update_stream", stream_id=10**9, amount=1)
    if kind == 8:
        return op("open_stream", token=token, receiver=me, amount=100, duration=10)
    return op("transfer", token=token, receiver=victim, amount="0")


def log_digest(log: list[dict]) -> str:
    return hashlib.sha256(json.dumps(log, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
