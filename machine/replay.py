"""Replay a log of advance inputs inside the Cartesi machine and natively; compare.

    python -m machine.replay LOG [--json OUT]

LOG is a ``make run`` chain file (db/dapp.sqlite.chain.jsonl: ``{"input": i, "metadata",
"payload"}`` lines) or JSON lines, each the ``data`` of a v2 ``advance_state`` answer:
``{"metadata": {chain_id, app_contract, msg_sender, block_number, block_timestamp,
prev_randao, input_index}, "payload": "0x..."}``. Every input goes through the machine
(machine/build.sh's snapshot, one ``--cmio-advance-state`` run) and through dapp.py
natively; prints mcycles per input and their median and p99 by kind, and exits 1 unless
every input's status, outputs and reports are byte-identical (77 when no machine).
"""
from __future__ import annotations

import argparse
import json
import re
import sys

from machine.harness import ERC20_PORTAL, Machine, MachineUnavailable, Request, run_native


def load_log(path: str) -> list[Request]:
    requests: list[Request] = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            event = json.loads(line)
            if "data" in event and isinstance(event["data"], dict):
                event = event["data"]
            if "metadata" not in event or "payload" not in event:
                continue  # chain file lines other than inputs: header, done, block
            meta = event["metadata"]
            randao = meta.get("prev_randao", 0)
            if isinstance(randao, str):
                randao = int(randao, 16)
            payload = bytes.fromhex(event["payload"][2:])
            req = Request(kind_of(meta["msg_sender"], payload), False, payload, meta["msg_sender"],
                          int(meta["block_number"]), len(requests), int(meta["chain_id"]),
                          meta["app_contract"], int(meta["block_timestamp"]), randao)
            if int(meta.get("input_index", req.index)) != req.index:
                print(f"{path}:{n}: input_index {meta.get('input_index')} replayed as {req.index}",
                      file=sys.stderr)
            requests.append(req)
    return requests


def kind_of(sender: str, payload: bytes) -> str:
    if sender.lower() == ERC20_PORTAL.lower():
        return "deposit"
    try:
        op = json.loads(payload).get("op")
    except (ValueError, AttributeError, RecursionError):  # the hostile corpus nests deep
        return "malformed"
    if not isinstance(op, str) or not re.fullmatch(r"[a-z_]{1,32}", op):
        return "unknown-op"  # a hostile op name is no kind to print
    return op


def percentile(values: list[int], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log")
    ap.add_argument("--json", help="write per-input results here")
    args = ap.parse_args(argv)
    requests = load_log(args.log)
    if not requests:
        print(f"{args.log}: no advance inputs", file=sys.stderr)
        return 2
    try:
        machine = Machine.build()
    except MachineUnavailable as err:
        print(f"SKIP: no Cartesi machine: {err}", file=sys.stderr)
        return 77
    with machine:
        inside = machine.run(requests)
    native = run_native(requests)
    bad = 0
    print(f"{'input':>6} {'kind':<14} {'status':<8} {'mcycles':>12}  same")
    for req, a, b in zip(requests, inside, native):
        kind = req.kind + ("/refused" if a.status != "accept" else "")
        same = a.same_as(b)
        bad += not same
        print(f"{req.index:>6} {kind:<14} {a.status:<8} {a.mcycles:>12,}  {'yes' if same else 'NO: native ' + b.status}")
    by_kind: dict[str, list[int]] = {}
    for req, a in zip(requests, inside):
        by_kind.setdefault(req.kind + ("/refused" if a.status != "accept" else ""), []).append(a.mcycles)
    print(f"\n{'kind':<16} {'n':>5} {'median Mcycles':>15} {'p99 Mcycles':>12}")
    for kind, values in sorted(by_kind.items()):
        print(f"{kind:<16} {len(values):>5} {percentile(values, 0.5) / 1e6:>15.2f} {percentile(values, 0.99) / 1e6:>12.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{"index": r.index, "kind": r.kind, "status": a.status, "mcycles": a.mcycles,
                        "same": a.same_as(b)} for r, a, b in zip(requests, inside, native)], fh, indent=1)
    print(f"\n{len(requests) - bad} of {len(requests)} inputs byte-identical inside the machine and natively")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
