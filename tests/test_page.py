"""The web page in a real browser (Debian's chromium driven by Playwright), the whole story.

Alice and Bob each use the page with a wallet: an EIP-1193 object injected before the
page loads, which answers the accounts and forwards everything else to anvil (which signs
for its unlocked accounts) through the page's own origin. A third page watches Bob
read-only (``/?account=``) under Playwright's fake clock, so the flowing balance is checked
frame by frame without depending on real time.

Alice approves and deposits through the ERC20Portal, opens a stream to Bob, updates it;
Bob watches it flow, cancels it, is refused a withdrawal he cannot cover (the DApp's report
in words), withdraws what streamed, executes the voucher once its epoch is claimed, and
his L1 balance rises by exactly that. Every figure a page shows for a block is checked
against the DApp's own inspect answer for that block, and no page requests anything
outside the local stack. Screenshots are kept in ``build/screenshots/``.

Nothing waits on luck: the test mines every block itself, and every wait polls for its
condition under a generous deadline (a slow, shared machine).
"""
from __future__ import annotations

import csv
import json
import os
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from l1.testing import ensure_node_deps

pytestmark = [pytest.mark.browser, pytest.mark.l1]


REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "build" / "screenshots"
E18 = 10 ** 18
EPOCH = 4
WAIT_MS = 120_000            # any one condition, on a slow machine
ALICE_INDEX, BOB_INDEX, CAROL_INDEX = 1, 2, 3
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

WALLET = """
(() => {
  const account = %s;
  window.ethereum = {
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
      const answer = await fetch("/anvil", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }) });
      const body = await answer.json();
      if (body.error) { const e = new Error(body.error.message); e.code = body.error.code; e.data = body.error.data; throw e; }
      return body.result;
    },
  };
})();
"""


try:
    from playwright.sync_api import expect
except ImportError:  # the test skips below and says why
    expect = None


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: `make page-deps` installs Debian's (apt, as root)")
    return sync_playwright


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ensure_node_deps()
    from l1.app import Stack, build_page
    tmp = tmp_path_factory.mktemp("page")
    web = build_page(tmp / "web")
    with Stack(tmp, block_time=None, epoch_length=EPOCH, web_dir=web, bridge_interval=0.05) as s:
        yield s
        assert not s.bridge_errors, s.bridge_errors


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """One person's tab: a page, the requests it made, and what it logged."""

    def __init__(self, browser, stack, account: str | None, wallet: bool, clock: bool = False) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        if wallet:
            self.page.add_init_script(WALLET % json.dumps(account))
        if clock:
            self.page.clock.install()
        self.page.set_default_timeout(WAIT_MS)
        self.page.goto(stack.url + "/" + (f"?account={account}" if account and not wallet else ""))
        if clock:  # from here on time moves only when the test says so
            self.page.clock.pause_at(self.page.evaluate("Date.now()") + 1000)
        if wallet:
            self.page.click("#connect")
            self.page.wait_for_selector("#actions", state="visible")

    def balance(self, token: str) -> dict:
        """What the balance element says: its block, exact wei, decimals shown and text."""
        return self.page.evaluate(
            """token => { const e = document.querySelector(`[data-figure="balance"][data-token="${token}"]`);
                 return e && {block: Number(e.dataset.block), wei: e.dataset.wei, places: Number(e.dataset.places),
                              blockMs: Number(e.dataset.blockMs), text: e.textContent}; }""", token)

    def wait_balance(self, token: str, predicate: str) -> dict:
        """Wait until the balance element satisfies a JS predicate of (block, wei: BigInt)."""
        self.page.wait_for_function(
            f"""() => {{ const e = document.querySelector('[data-figure="balance"][data-token="{token}"]');
                 if (!e || !e.dataset.wei) return false;
                 const block = Number(e.dataset.block), wei = BigInt(e.dataset.wei); return {predicate}; }}""")
        return self.balance(token)

    def submit(self, action: str, **fields: str) -> str:
        """Fill a form, send it through the wallet, and return the DApp's verdict message."""
        form = self.page.locator(f'form[data-action="{action}"]')
        for name, value in fields.items():
            control = form.locator(f'[name="{name}"]')
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(value)
            else:
                control.fill(value)
        return self.await_verdict(lambda: form.locator("button").click())

    def await_verdict(self, act) -> str:
        before = self.page.locator("#message").text_content()
        act()
        self.page.wait_for_function(
            "before => { const t = document.querySelector('#message').textContent;"
            " return t !== before && /accepted|refused|reverted|Error|executed/.test(t); }", arg=before)
        return self.page.locator("#message").text_content()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _inspect(stack, route: str) -> dict:
    answer = requests.post(f"{stack.url}/inspect/{stack.deployment['application']}", data=route.encode(), timeout=30)
    body = answer.json()
    assert body["status"] == "Accepted", (route, body)
    return json.loads(bytes.fromhex(body["reports"][-1]["payload"][2:]))


def _balance(stack, token: str, account: str, block: int) -> int:
    return int(_inspect(stack, f"balance/{token}/{account}/{block}")["balance"])


def _human(value: int, decimals: int, places: int) -> str:
    """flow.formatUnits in Python: truncated toward zero, thousands grouped."""
    whole, fraction = divmod(value, 10 ** decimals)
    text = f"{whole:,}"
    return text + ("." + str(fraction).rjust(decimals, "0")[:places] if places else "")


def _units(text: str, decimals: int = 18) -> int:
    return int(Decimal(text.replace(",", "")) * 10 ** decimals)


def _block(stack) -> int:
    return stack.rpc.block_number()


def test_a_person_deposits_streams_updates_cancels_withdraws_and_executes(stack, browser):
    token = stack.deployment["token"]
    alice, bob = stack.accounts[ALICE_INDEX], stack.accounts[BOB_INDEX]
    a = Page(browser, stack, alice, wallet=True)
    b = Page(browser, stack, bob, wallet=True)
    watch = Page(browser, stack, bob, wallet=False, clock=True)
    pages: tuple[Page, ...] = (a, b, watch)

    # 1. Alice approves the portal and deposits 100 TST, in human units, through her wallet.
    a.wait_balance(token, "wei === 0n")
    verdict = a.submit("deposit", token=token, amount="100")
    assert "accepted" in verdict, verdict
    seen = a.wait_balance(token, f"wei === {100 * E18}n")
    assert _balance(stack, token, alice, seen["block"]) == 100 * E18
    assert stack.token.call("balanceOf", stack.deployment["application"]) == 100 * E18

    # 2. She opens a stream of 10 TST to Bob over 20 blocks.
    verdict = a.submit("open_stream", token=token, receiver=bob, amount="10", duration="20")
    assert "accepted" in verdict, verdict
    row = a.page.locator("[data-stream-id]").first
    stream_id = int(row.get_attribute("data-stream-id"))
    stream = _inspect(stack, f"stream/{stream_id}")
    assert (stream["amount"], stream["receiver"], stream["end_block"] - stream["start_block"]) == (str(10 * E18), bob, 20)
    a.shot("1-alice-opened")

    # What she will hold at the stream's end, as the page projects it (the DApp's answer).
    form = a.page.locator("#projection")
    form.locator('[name="when"]').fill(str(stream["end_block"]))
    form.locator("button").click()
    at_end = _human(_balance(stack, token, alice, stream["end_block"]), 18, 4)
    expect(a.page.locator("#projection-answer")).to_contain_text(f"hold {at_end} TST", timeout=WAIT_MS)

    # Alice pays Carol, then lets her spend 2 TST, of which Carol passes 1 to Bob.
    carol = stack.accounts[CAROL_INDEX]
    c = Page(browser, stack, carol, wallet=True)
    pages += (c,)
    assert "accepted" in a.submit("transfer", token=token, receiver=carol, amount="1.5")
    assert "accepted" in a.submit("approve", token=token, spender=carol, amount="2")
    assert "accepted" in c.submit("transfer_from", token=token, owner=alice, receiver=bob, amount="1")
    assert _inspect(stack, f"allowance/{token}/{alice}/{carol}")["allowance"] == str(1 * E18)
    seen = c.wait_balance(token, f"wei === {15 * E18 // 10}n")
    assert _balance(stack, token, carol, seen["block"]) == 15 * E18 // 10
    paid_out = 15 * E18 // 10 + 1 * E18       # what left Alice besides the stream

    # 3. Bob's balance flows on the watching page: the test mines the blocks, the fake clock
    #    drives the page's polls and frames. Each block's figure is the DApp's, to the wei.
    stack.rpc.mine(3)
    target = _block(stack)
    watched = _advance_until(watch, token, target)
    assert int(watched["wei"]) == _balance(stack, token, bob, target) == (target - stream["start_block"]) * (10 * E18 // 20) + E18
    # One block more and one poll; then time stands still until the test moves it, frame by frame.
    stack.rpc.mine(1)
    target += 1
    watched = _one_poll(watch, token, target)
    now, nxt = int(watched["wei"]), _balance(stack, token, bob, target + 1)
    assert now == _balance(stack, token, bob, target)
    assert watched["text"] == _human(now, 18, watched["places"])
    shown = []
    for _ in range(3):   # a quarter block at a time: strictly rising, always between the two blocks
        watch.page.clock.run_for(watched["blockMs"] // 4)
        shown.append(_units(watch.balance(token)["text"]))
    assert now < shown[0] < shown[1] < shown[2] < nxt, (now, shown, nxt)
    watch.page.clock.run_for(watched["blockMs"])    # a block time on, it holds the next block's value
    assert watch.balance(token)["text"] == _human(nxt, 18, watched["places"])
    assert watch.balance(token)["wei"] == str(now)  # while the exact figure stays this block's
    watch.shot("2-bob-watching")

    # 4. Alice raises the stream to 12 TST and moves its end 30 blocks on.
    end_block = _block(stack) + 30
    verdict = a.submit("update_stream", stream_id=str(stream_id), amount="12", end=str(end_block))
    assert "accepted" in verdict, verdict
    stream = _inspect(stack, f"stream/{stream_id}")
    assert (stream["amount"], stream["end_block"]) == (str(12 * E18), end_block)

    # 5. Blocks pass; Bob cancels from his list: he keeps what streamed, Alice gets the rest.
    stack.rpc.mine(5)
    b.page.wait_for_function(f"() => document.querySelector('[data-stream-id=\"{stream_id}\"] button')")
    verdict = b.await_verdict(lambda: b.page.locator(f'[data-stream-id="{stream_id}"] button', has_text="cancel").click())
    assert "accepted" in verdict, verdict
    stream = _inspect(stack, f"stream/{stream_id}")
    assert stream["status"] == "canceled"
    streamed = int(stream["streamed"])
    assert 0 < streamed < 12 * E18
    b.page.wait_for_function(f"() => document.querySelector('[data-stream-id=\"{stream_id}\"]')?.dataset.status === 'canceled'")
    assert b.page.locator(f'[data-stream-id="{stream_id}"]').get_attribute("data-streamed") == str(streamed)
    seen = a.wait_balance(token, f"wei === {100 * E18 - paid_out - streamed}n")
    assert _balance(stack, token, alice, seen["block"]) == 100 * E18 - paid_out - streamed

    # 6. A withdrawal Bob cannot cover is refused, and the page says why in words.
    verdict = b.submit("withdraw", token=token, amount="1000")
    assert "refused" in verdict and "InsufficientFunds" in verdict, verdict
    b.shot("3-bob-refused")

    # 7. Bob withdraws all he holds (what streamed, and Carol's 1 TST); the voucher waits for
    #    its epoch's claim.
    #    Its block is made the first of an epoch, so no claim can come before the test mines
    #    the epoch's end (the bridge's claim of the epoch before adds one block at most).
    bob_l1 = stack.token.call("balanceOf", bob)
    held = streamed + E18
    stack.rpc.mine((EPOCH - (_block(stack) + 1) % EPOCH) % EPOCH)
    exact = _human(held, 18, 18).replace(",", "")
    verdict = b.submit("withdraw", token=token, amount=exact)
    assert "accepted" in verdict, verdict
    voucher = b.page.locator("[data-voucher-state]").first
    b.page.wait_for_function("() => document.querySelector('[data-voucher-state]')")
    assert voucher.get_attribute("data-voucher-state") == "waiting for the claim"

    # 8. The chain passes the epoch's end and the bridge claims: Bob executes the voucher.
    stack.rpc.mine(2 * EPOCH)
    b.page.wait_for_function("() => document.querySelector('[data-voucher-state]').dataset.voucherState === 'executable'")
    b.shot("4-bob-executable")
    verdict = b.await_verdict(lambda: b.page.locator("[data-execute]").first.click())
    assert "executed" in verdict, verdict
    assert stack.token.call("balanceOf", bob) == bob_l1 + held
    b.page.wait_for_function("() => document.querySelector('[data-voucher-state]').dataset.voucherState === 'executed'")
    seen = b.wait_balance(token, "wei === 0n")
    assert _balance(stack, token, bob, seen["block"]) == 0
    b.shot("5-bob-executed")
    a.shot("6-alice-after")

    # Bob's activity as CSV: exact base units, newest first.
    with b.page.expect_download() as download:
        b.page.click("#csv")
    rows = list(csv.reader(open(download.value.path(), newline="")))
    assert rows[0] == ["block", "output", "event", "token", "amount (base units)", "description"]
    events = [r[2] for r in rows[1:]]
    assert events[:2] == ["withdrawal", "voucher"] and events[-1] == "stream_opened", events
    assert {"transfer", "stream_updated", "stream_canceled"} <= set(events), events
    assert [r[4] for r in rows[1:3]] == [str(held), str(held)]

    # 9. What a page shows for a block is what the DApp answers for that block.
    for page, account in ((a, alice), (b, bob)):
        for figure in ("balance", "available", "committed"):
            e = page.page.locator(f'[data-figure="{figure}"][data-token="{token}"]').evaluate(
                "e => [Number(e.dataset.block), e.dataset.wei, e.dataset.account]")
            assert e[2] == account
            assert _inspect(stack, f"balance/{token}/{account}/{e[0]}")[figure] == e[1], (account, figure, e)

    # 10. Nothing outside the local stack was asked for, and no page logged an error.
    origin = urlsplit(stack.url)
    for page in pages:
        foreign = [u for u in page.requests if not u.startswith("data:") and urlsplit(u).netloc != origin.netloc]
        assert not foreign, foreign
        assert len(page.requests) > 10
        assert not page.errors, page.errors


def _advance_until(watch: Page, token: str, block: int) -> dict:
    """Drive the watching page's fake clock, one poll at a time, until it shows `block`."""
    for _ in range(2000):
        watch.page.clock.run_for(250)
        seen = watch.balance(token)
        if seen and seen["wei"] and seen["block"] >= block:
            assert seen["block"] == block, seen
            return seen
        watch.page.wait_for_timeout(20)  # real time for the page's requests to come back
    raise AssertionError(f"the watching page never reached block {block}")


def _idle(watch: Page) -> int:
    """Wait in real time (the fake clock standing still) until no poll is under way; how many ended."""
    for _ in range(3000):
        state = watch.page.evaluate("[document.body.dataset.polling, Number(document.body.dataset.polls ?? 0)]")
        if state[0] == "0":
            return state[1]
        watch.page.wait_for_timeout(20)
    raise AssertionError("the watching page never went idle")


def _one_poll(watch: Page, token: str, block: int) -> dict:
    """Once the watching page is idle, jump its fake clock one poll interval (the due poll
    fires once), and wait in real time, the clock standing still, for that poll to end: its
    snapshot of `block` is then anchored at the very time the test reads it."""
    polls = _idle(watch)
    watch.page.clock.fast_forward(250)
    for _ in range(3000):
        if _idle(watch) > polls:
            seen = watch.balance(token)
            assert seen["block"] == block, seen
            return seen
        watch.page.wait_for_timeout(20)
    raise AssertionError(f"the watching page did not take block {block} in on one poll")
