"""Discovery routes (issue 30, item 6): ``tokens`` lists every token with its totals and
``holders/<token>`` the accounts that hold or held one, each a page at a time
(``?after=&limit=``) in a fixed order, in the path and the JSON form, read-only."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.harness import ALICE, BOB, CAROL, MALLORY, TOKEN, TOKEN2, Node, address
from streamable_token.addresses import checksum, parse_address

pytestmark = pytest.mark.unit


ROOT = Path(__file__).resolve().parent.parent


def cs(a: str) -> str:
    return checksum(parse_address(a))


def answer(chain: Node, query: str) -> dict:
    before = chain.state_hash()
    result = chain.inspect(query.encode())
    assert result.status == "accept", result.decoded()
    assert chain.state_hash() == before  # an inspect changes nothing
    return result.decoded()[0][1]


@pytest.fixture
def chain() -> Node:
    """Three tokens; TOKEN held by ALICE (streaming to BOB), BOB, CAROL; one withdrawal."""
    n = Node()
    assert n.deposit(TOKEN, ALICE, 1000, block=5).status == "accept"
    assert n.deposit(TOKEN2, BOB, 70, block=5).status == "accept"
    assert n.deposit(TOKEN, CAROL, 5, block=6).status == "accept"
    assert n.send(ALICE, "open_stream", token=TOKEN, receiver=BOB, amount=100, duration=10, block=6).status == "accept"
    assert n.send(BOB, "withdraw", token=TOKEN2, amount=20, block=7).status == "accept"
    assert n.deposit(address("token-3"), MALLORY, 1, block=7).status == "accept"
    return n


def test_tokens_lists_every_token_with_its_totals_in_arrival_order(chain):
    got = answer(chain, "tokens")
    assert got == {"next_after": None, "tokens": [
        {"token": cs(TOKEN), "deposited": "1005", "withdrawn": "0", "total_supply": "1005"},
        {"token": cs(TOKEN2), "deposited": "70", "withdrawn": "20", "total_supply": "50"},
        {"token": cs(address("token-3")), "deposited": "1", "withdrawn": "0", "total_supply": "1"},
    ]}
    for item in got["tokens"]:  # the same figures as token/<token>
        assert answer(chain, f"token/{item['token']}") == item


def test_tokens_pages_cover_every_token_once(chain):
    every = answer(chain, "tokens")["tokens"]
    for limit in (1, 2, 3):
        seen, after = [], 0
        while True:
            page = answer(chain, f"tokens?after={after}&limit={limit}")
            seen += page["tokens"]
            assert len(page["tokens"]) <= limit
            if page["next_after"] is None:
                break
            after = page["next_after"]
        assert seen == every, limit
    assert answer(chain, "tokens?limit=3")["next_after"] is not None  # a full page may have a next one
    assert answer(chain, "tokens?after=3") == {"tokens": [], "next_after": None}


def test_holders_with_balances_at_a_block(chain):
    got = answer(chain, f"holders/{TOKEN}/16")
    assert got == {"token": cs(TOKEN), "block": 16, "next_after": None, "holders": [
        {"account": cs(ALICE), "balance": "900", "available": "900", "committed": "0"},
        {"account": cs(CAROL), "balance": "5", "available": "5", "committed": "0"},
        {"account": cs(BOB), "balance": "100", "available": "100", "committed": "0"},
    ]}
    # conservation: the holders' balances add up to the token's supply, at any block
    for block in (7, 10, 16, 100):
        page = answer(chain, f"holders/{TOKEN}?block={block}")
        assert sum(int(h["balance"]) for h in page["holders"]) == 1005
        for h in page["holders"]:  # the same figures as balance/<token>/<account>/<block>
            bal = answer(chain, f"balance/{TOKEN}/{h['account']}/{block}")
            assert (h["balance"], h["available"], h["committed"]) == (bal["balance"], bal["available"], bal["committed"])
    # without a block: the last input's (7)
    assert answer(chain, f"holders/{TOKEN}")["block"] == 7


def test_holders_pages_cover_every_holder_once_in_a_fixed_order(chain):
    every = [h["account"] for h in answer(chain, f"holders/{TOKEN}")["holders"]]
    assert every == [cs(ALICE), cs(CAROL), cs(BOB)]  # the order they first held the token
    for limit in (1, 2):
        seen, after = [], 0
        while True:
            page = answer(chain, f"holders/{TOKEN}?after={after}&limit={limit}")
            seen += [h["account"] for h in page["holders"]]
            if page["next_after"] is None:
                break
            assert page["next_after"] > after
            after = page["next_after"]
        assert seen == every
    assert [h["account"] for h in answer(chain, f"holders/{TOKEN2}")["holders"]] == [cs(BOB)]
    unknown = address("never-deposited")
    assert answer(chain, f"holders/{unknown}") == {"token": cs(unknown), "holders": [], "block": 7,
                                                  "next_after": None}


def test_the_json_form_answers_the_same_bytes(chain):
    for path, query in [
        ("tokens?limit=2&after=1", {"route": "tokens", "limit": 2, "after": 1}),
        (f"holders/{TOKEN}/9?limit=2", {"route": "holders", "token": TOKEN, "block": 9, "limit": 2}),
    ]:
        by_path = chain.inspect(path.encode()).outputs
        by_json = chain.inspect(json.dumps(query).encode()).outputs
        assert by_path == by_json and chain.inspect(path.encode()).outputs == by_path


@pytest.mark.parametrize("query, field", [
    ("tokens/5", "path"), ("tokens?limit=0", "limit"), ("tokens?limit=1001", "limit"), ("tokens?block=3", "query"),
    ("holders", "path"), ("holders/0x12", "token"), (f"holders/{TOKEN}?limit=0", "limit"),
    (f"holders/{TOKEN}/3", "block"),  # before ALICE's last change
    (f"holders/{TOKEN}?after=x", "after"),
    (f"holders/{TOKEN}?block={2**62 + 1}", "block"), (f"holders/{address('nobody')}/{2**62 + 1}", "block"),
])
def test_bad_discovery_queries_are_refused_with_the_field(chain, query, field):
    before = chain.state_hash()
    result = chain.inspect(query.encode())
    assert result.status == "reject" and result.error["field"] == field, result.decoded()
    assert chain.state_hash() == before


@pytest.mark.integration
def test_the_cli_passes_the_routes_through(node):
    """``python -m rollup_host inspect tokens`` and ``holders/<token>`` against the real
    dapp.py behind the local host (the conftest ``node``)."""
    token = "0x" + "11" * 20
    assert _cli(node.url, "deposit", "--token", token, "--from", ALICE, "--amount", "42").returncode == 0
    out = _cli(node.url, "--json", "inspect", "tokens")
    assert out.returncode == 0, out.stderr
    from rollup_host.codec import decode_payload
    [rep] = json.loads(out.stdout)["reports"]
    assert decode_payload(rep["payload"]) == {"next_after": None, "tokens": [
        {"token": cs(token), "deposited": "42", "withdrawn": "0", "total_supply": "42"}]}
    out = _cli(node.url, "--json", "inspect", f"holders/{token}?limit=5")
    assert out.returncode == 0, out.stderr
    [rep] = json.loads(out.stdout)["reports"]
    assert decode_payload(rep["payload"])["holders"] == [
        {"account": cs(ALICE), "balance": "42", "available": "42", "committed": "0"}]
    assert _cli(node.url, "inspect", "tokens?limit=0").returncode == 1  # a rejected inspect


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rollup_host", "--url", url, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_engine_pages_directly(tmp_path):
    """The library calls behind the routes, for a host DApp that embeds the engine."""
    from streamable_token import InvalidInput, StreamableToken
    engine = StreamableToken(str(tmp_path / "e.sqlite"))
    for i, token in enumerate((TOKEN, TOKEN2)):
        engine.mint(token, ALICE, 10 + i, block=1)
        engine.mint(token, BOB, 1, block=1)
    engine.burn(TOKEN2, ALICE, 4, block=2)
    page = engine.tokens_page(limit=1)
    assert [(t.token, t.deposited, t.withdrawn) for t in page] == [(cs(TOKEN), 11, 0)]
    assert [(t.token, t.deposited, t.withdrawn) for t in engine.tokens_page(after=page[-1].cursor)] == [
        (cs(TOKEN2), 12, 4)]
    assert [a for _, a in engine.holders_page(TOKEN2)] == engine.accounts_of(TOKEN2) == [cs(ALICE), cs(BOB)]
    first = engine.holders_page(TOKEN2, limit=1)
    assert [a for _, a in engine.holders_page(TOKEN2, after=first[-1][0])] == [cs(BOB)]
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"limit": True}):
        with pytest.raises(InvalidInput):
            engine.tokens_page(**bad)
        with pytest.raises(InvalidInput):
            engine.holders_page(TOKEN, **bad)
    engine.close()
