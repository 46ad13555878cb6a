"""dapp.py inside the real Cartesi machine (issue 31): the emulator built from source, Debian's
riscv64 kernel under Cartesi's OpenSBI, our cmio module, Python 3.13 on a riscv64 root drive,
from the snapshot stored at dapp.py's first /finish (machine/build.sh, `make machine`).

The README round trip (and the other kinds of input) goes through `cartesi-machine
--cmio-advance-state` / `--cmio-inspect-state`; its answers are checked, every status, output
and report is compared byte for byte with the same requests through dapp.py natively, and the
mcycles each input took are printed as a table by kind.

Skips, saying why, when the machine is not cached and cannot be built here (no root, or no
Cartesi sources in MACHINE_SRC); outside `make machine-test` (MACHINE_TEST_BUILD=1), as in a
plain `make test`, it only uses a machine already built and skips when there is none.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from machine.harness import Machine, MachineUnavailable, Scenario, mcycles_table, run_native

pytestmark = pytest.mark.machine


TOKEN = "0x1111111111111111111111111111111111111111"
ALICE = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
BOB = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
CAROL = "0xcccccccccccccccccccccccccccccccccccccccc"
E18 = 10**18


@pytest.fixture(scope="module")
def machine():
    if os.geteuid() != 0:
        pytest.skip("the Cartesi machine runs in its build chroot: needs root (make machine as root)")
    try:
        # `make machine-test` builds what is not cached (MACHINE_TEST_BUILD=1); a plain
        # `make test` only uses a machine already built, and skips otherwise
        m = Machine.build(only_cached=os.environ.get("MACHINE_TEST_BUILD") != "1")
    except MachineUnavailable as err:
        pytest.skip(f"no Cartesi machine: {err}")
    with m:
        yield m


def round_trip() -> Scenario:
    """The README's round trip (deposit, open, balance at a block, withdraw with its voucher),
    with every other kind of input around it."""
    s = Scenario()
    s.deposit(TOKEN, ALICE, 100 * E18, 1)
    s.advance("open", ALICE, 1, {"op": "open_stream", "token": TOKEN, "receiver": BOB,
                                 "amount": str(10 * E18), "duration": 100})
    s.inspect("inspect", f"balance/{TOKEN}/{BOB}/41")
    s.deposit(TOKEN, BOB, 5 * E18, 2)
    s.advance("transfer", ALICE, 3, {"op": "transfer", "token": TOKEN, "receiver": CAROL, "amount": str(E18)})
    s.advance("open", ALICE, 4, {"op": "open_stream", "token": TOKEN, "receiver": CAROL,
                                 "amount": str(5 * E18), "duration": 50})
    s.advance("update", ALICE, 10, {"op": "update_stream", "stream_id": 2, "amount": str(6 * E18)})
    s.advance("cancel", ALICE, 20, {"op": "cancel_stream", "stream_id": 2})
    s.advance("transfer", BOB, 30, {"op": "transfer", "token": TOKEN, "receiver": CAROL, "amount": str(E18)})
    s.advance("refused", ALICE, 40, {"op": "transfer", "token": TOKEN, "receiver": CAROL, "amount": str(10**6 * E18)})
    s.advance("refused", ALICE, 40, b"not json")
    s.advance("withdraw", BOB, 41, {"op": "withdraw", "token": TOKEN, "amount": str(4 * E18)})
    s.inspect("inspect", f"balance/{TOKEN}/{BOB}/1000")
    s.inspect("inspect", "state-hash")
    return s


def report_json(result, i=0) -> dict:
    return json.loads(result.reports[i])


def notice_json(output: bytes) -> dict:
    from l1.codec import decode_output
    kind, body = decode_output(output)
    assert kind == "notice"
    return json.loads(body["payload"])


def test_round_trip_in_the_machine_equals_native(machine):
    scenario = round_trip()
    inside = machine.run_interleaved(scenario.requests)
    native = run_native(scenario.requests)

    table = mcycles_table(scenario.requests, inside)
    out = Path(__file__).resolve().parent.parent / "build" / "machine-test.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"boot to first /finish: {machine.boot_mcycles / 1e6:.1f} M mcycles\n\n{table}\n")
    sys.__stderr__.write(f"\nmcycles per input ({out}):\nboot to first /finish: "
                         f"{machine.boot_mcycles / 1e6:.1f} M\n{table}\n")

    kinds = [r.kind for r in scenario.requests]
    # every request: the same status, outputs and reports, byte for byte
    for i, (req, a, b) in enumerate(zip(scenario.requests, inside, native)):
        assert (a.status, a.outputs, a.reports) == (b.status, b.outputs, b.reports), (i, req.kind)

    # the answers themselves
    status = dict(enumerate(r.status for r in inside))
    assert [status[i] for i, k in enumerate(kinds) if k == "refused"] == ["reject", "reject"]
    assert all(status[i] == "accept" for i, k in enumerate(kinds) if k != "refused")
    dep = notice_json(inside[0].outputs[0])
    assert dep == {"account": ALICE, "amount": str(100 * E18), "block": 1, "event": "deposit", "token": TOKEN}
    opened = notice_json(inside[1].outputs[0])
    assert (opened["event"], opened["id"], opened["end_block"]) == ("stream_opened", 1, 101)
    at41 = report_json(inside[2])
    assert (at41["block"], at41["balance"]) == (41, str(4 * E18))  # 40 blocks of 0.1 token
    withdraw = inside[kinds.index("withdraw")]
    from eth_abi import decode as abi_decode
    from l1.codec import decode_output
    kind, voucher = decode_output(withdraw.outputs[0])
    assert kind == "voucher" and voucher["destination"].lower() == TOKEN
    calldata = voucher["payload"]
    to, amount = abi_decode(["address", "uint256"], calldata[4:])
    assert (to.lower(), amount) == (BOB.lower(), 4 * E18)
    # at block 1000 Bob has the whole stream (10), the deposit (5), less his transfer (1)
    # and his withdrawal (4)
    at1000 = report_json(inside[-2])
    assert at1000["balance"] == str(10 * E18)
    assert len(report_json(inside[-1])) >= 1  # the state hash answers
    # every kind the issue names has a figure
    assert {"deposit", "transfer", "open", "cancel", "update", "withdraw", "refused", "inspect"} <= set(kinds)
    assert all(r.mcycles and r.mcycles > 0 for r in inside)
