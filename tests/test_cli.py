"""The command lines as a user types them: complete help, human amounts, pipes.

Each test runs the real command as a subprocess (``python -m rollup_host ...``) against a
host in a thread and the real ``dapp.py`` (the ``node`` fixture), except where it checks
a pure function the command uses.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rollup_host.__main__ import format_advance
from rollup_host.amounts import format_amount, op_in_base_units, parse_amount
from streamable_token.rollup import inspect as inspect_routes
from streamable_token.rollup.builtin_ops import OPS

pytestmark = pytest.mark.integration


ROOT = Path(__file__).resolve().parent.parent
T = "0x" + "11" * 20
ALICE = "0x" + "aa" * 20
BOB = "0x" + "bb" * 20
E18 = 10**18


def cli(*args: str, url: str | None = None, check: bool = False) -> subprocess.CompletedProcess:
    prefix = ["--url", url] if url else []
    proc = subprocess.run([sys.executable, "-m", "rollup_host", *prefix, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def flat(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------ help


def test_send_help_lists_every_op_with_every_field():
    out = cli("send", "--help", check=True).stdout
    assert {"approve", "transfer_from", "open_stream", "batch"} <= set(OPS)
    for name, schema in ((n, spec.schema) for n, spec in OPS.items()):
        [line] = [line for line in out.splitlines() if line.startswith(f'  {{"op":"{name}"')]
        for field, (_kind, required) in schema.items():
            assert re.search(rf'"{field}":[^,}}]+' + ("" if required else r"\?"), line), (name, field, line)
    assert '"sender":A?' in out  # open_stream's operator field
    assert "--decimals" in out


def test_inspect_help_lists_every_route_and_the_json_form():
    out = cli("inspect", "--help", check=True).stdout
    assert {"balance", "stream", "streams", "token", "allowance", "state-hash"} <= set(inspect_routes.ROUTES)
    for name, route in inspect_routes.ROUTES.items():  # tokens and holders too once the router has them
        shape = "/".join([name] + [f"<{p}>" for p in route[0]])
        assert re.search(rf"^  {re.escape(shape)}(\[|$)", out, re.M), (name, out)
        for key in route[1]:
            assert f"{key}=" in out or key == "block", (name, key)
    assert '{"route":"balance","token":T,"account":A,"block":N}' in out
    assert "--decimals" in out


def test_outputs_takes_from_input_and_the_old_from_is_hidden():
    out = cli("outputs", "--help", check=True).stdout
    assert "--from-input" in out and "--from " not in out.replace("--from-input", "")


def closed_pipe_run(*args: str) -> tuple[int, str]:
    """Run a command whose reader is gone before it writes (``... | head -1`` on a long output)."""
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=120), err


def test_help_exits_quietly_on_a_closed_pipe():
    code, err = closed_pipe_run("-m", "rollup_host", "send", "--help")
    assert code in (0, 141) and err == "", err


def test_client_commands_exit_141_quietly_on_a_closed_pipe(node):
    cli("deposit", "--token", T, "--from", ALICE, "--amount", "100", url=node.url, check=True)
    for _ in range(3):
        cli("send", "--from", ALICE, json.dumps({"op": "transfer", "token": T, "receiver": BOB, "amount": "1"}),
            url=node.url, check=True)
    for command in (["outputs"], ["send", "--from", ALICE, '{"op":"withdraw","token":"%s","amount":"1"}' % T],
                    ["inspect", f"balance/{T}/{ALICE}"]):
        code, err = closed_pipe_run("-m", "rollup_host", "--url", node.url, *command)
        assert code == 141 and err == "", (command, code, err)


def test_host_dapp_example_help_is_help_not_a_database_file(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the installed wheel, as far as the example can tell
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "host_dapp.py"), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:") and "database" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # no SQLite file named --help
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "host_dapp.py"), str(tmp_path / "x.sqlite")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"], proc.stderr


# -------------------------------------------------------------- human amounts


def test_human_amounts_are_exact_both_ways():
    assert format_amount(1_500_000_000_000_000_000, 18) == "1.5"
    assert format_amount(100 * E18, 18) == "100"
    assert format_amount(1, 18) == "0.000000000000000001"
    assert format_amount(7, 0) == "7" and format_amount(0, 6) == "0"
    for base in (0, 1, 10**18 - 1, 123456789 * 10**12, 2**256 - 1):
        assert parse_amount(format_amount(base, 18), 18) == base
    op = {"op": "batch", "ops": [
        {"op": "open_stream", "token": T, "receiver": BOB, "amount": "2.25", "duration": 10},
        {"op": "approve", "token": T, "spender": BOB, "amount": "0"},
        {"op": "update_stream", "stream_id": 1, "amount": "3", "end_block": 9}]}
    assert op_in_base_units(op, 18)["ops"] == [
        {"op": "open_stream", "token": T, "receiver": BOB, "amount": str(2_250_000_000_000_000_000),
         "duration": 10},
        {"op": "approve", "token": T, "spender": BOB, "amount": "0"},
        {"op": "update_stream", "stream_id": 1, "amount": str(3 * E18), "end_block": 9}]
    with pytest.raises(ValueError, match="more fraction digits than --decimals 2"):
        op_in_base_units({"op": "withdraw", "token": T, "amount": "0.001"}, 2)


def test_send_and_inspect_with_decimals_through_the_real_dapp(node):
    url = node.url
    cli("deposit", "--token", T, "--from", ALICE, "--amount", "10", "--decimals", "18", url=url, check=True)
    op = {"op": "transfer", "token": T, "receiver": BOB, "amount": "1.5"}
    sent = cli("send", "--from", ALICE, "--decimals", "18", json.dumps(op), url=url, check=True)
    assert "input #1 accepted" in sent.stdout, sent.stdout
    balance = json.loads(cli("--json", "inspect", f"balance/{T}/{BOB}", url=url, check=True).stdout)
    from rollup_host.codec import decode_payload
    assert decode_payload(balance["reports"][0]["payload"])["balance"] == str(1_500_000_000_000_000_000)

    shown = cli("inspect", "--decimals", "18", f"balance/{T}/{ALICE}", url=url, check=True).stdout
    assert f'"balance": "{85 * 10**17}",  # 8.5' in shown, shown
    assert f'"committed": "0",  # 0' in shown
    plain = cli("inspect", f"balance/{T}/{ALICE}", url=url, check=True).stdout
    assert "#" not in plain  # base units only unless asked

    # More fraction digits than the token has: refused by the command, nothing sent.
    op["amount"] = "0.0000000000000000001"
    refused = cli("send", "--from", ALICE, "--decimals", "18", json.dumps(op), url=url)
    assert refused.returncode == 2 and "more fraction digits than --decimals 18" in refused.stderr
    bare = cli("send", "--from", ALICE, "--decimals", "18",
               '{"op":"transfer","token":"%s","receiver":"%s","amount":1.5}' % (T, BOB), url=url)
    assert bare.returncode == 2 and "put it in quotes" in bare.stderr, bare.stderr
    assert len(node.client.outputs()) == 2


def test_outputs_prints_in_output_index_order_and_from_input(node):
    url = node.url
    cli("deposit", "--token", T, "--from", ALICE, "--amount", "100", url=url, check=True)
    batch = {"op": "batch", "ops": [{"op": "transfer", "token": T, "receiver": BOB, "amount": "1"},
                                    {"op": "withdraw", "token": T, "amount": "2"}]}
    cli("send", "--from", ALICE, json.dumps(batch), url=url, check=True)
    out = cli("outputs", "--from-input", "1", url=url, check=True).stdout
    assert out.startswith("input #1 accepted"), out
    indices = [int(i) for i in re.findall(r"^  (?:notice|voucher) #(\d+)", out, re.M)]
    assert len(indices) == 4 and indices == sorted(indices), out  # + the batch's own notice
    assert re.search(r"^  voucher #\d+", out.splitlines()[2], re.M), out  # the voucher sits between notices
    old = cli("outputs", "--from", "1", url=url, check=True)
    assert old.stdout == out and "--from-input" in old.stderr


def test_format_advance_orders_outputs_by_index():
    result = {"input_index": 0, "status": "accepted",
              "notices": [{"index": 0, "payload": "0x7b7d"}, {"index": 2, "payload": "0x7b7d"}],
              "vouchers": [{"index": 1, "destination": T, "payload": "0x", "value": "0x0"}]}
    assert [line.split(":")[0].strip() for line in format_advance(result)[1:]] == \
        ["notice #0", "voucher #1 -> " + T, "notice #2"]


# ------------------------------------------------------- every entry point's help

# How each command line is started, and the name its usage line must show.
ENTRY_POINTS = [
    (["-m", "rollup_host"], "python -m rollup_host"),
    (["-m", "rollup_host.selftest"], "python -m rollup_host.selftest"),
    (["-m", "l1.up"], "python -m l1.up"),
    (["-m", "l1.bridge"], "python -m l1.bridge"),
    (["-m", "l1.deploy"], "python -m l1.deploy"),
    (["-m", "l1.app"], "python -m l1.app"),
    (["-m", "l1.compile"], "python -m l1.compile"),
    (["-m", "bench"], "python -m bench"),
    (["-m", "bench.ab"], "python -m bench.ab"),
    (["-m", "bench.core_scale"], "python -m bench.core_scale"),
    (["-m", "bench.machine_bench"], "python -m bench.machine_bench"),
    (["-m", "bench.page"], "python -m bench.page"),
    (["-m", "bench.worker"], "python -m bench.worker"),
    (["notebook/run.py"], "python notebook/run.py"),
    (["examples/subscriptions/dapp.py"], "python examples/subscriptions/dapp.py"),
    (["examples/host_dapp.py"], "python examples/host_dapp.py"),
    (["dapp.py"], "dapp.py"),
]

# Runs an entry point with ArgumentParser.parse_args replaced by a dump of the parser: its
# prog, description, and each action's help as the help formatter renders it.
DUMP_PARSER = r"""
import argparse, json, runpy, sys
def dump(self, args=None, namespace=None):
    fmt = self._get_formatter()
    print(json.dumps({"prog": self.prog, "description": self.description, "actions": [
        {"flags": a.option_strings, "dest": a.dest, "sub": isinstance(a, argparse._SubParsersAction), "default": repr(a.default), "help": a.help,
         "shown": fmt._get_help_string(a) if a.help else None} for a in self._actions]}))
    sys.exit(0)
argparse.ArgumentParser.parse_args = dump
target, sys.argv = sys.argv[1], sys.argv[1:]
if target.endswith(".py"):
    sys.path.insert(0, __import__("os").path.dirname(target))
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def _entry(argv: list[str]) -> list[str]:
    return [argv[1]] if argv[0] == "-m" else [str(ROOT / argv[0])]


@pytest.mark.parametrize("argv, prog", ENTRY_POINTS, ids=[p for _, p in ENTRY_POINTS])
def test_every_entry_point_has_whole_help_with_every_flag_and_default(argv, prog):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, *argv, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith(f"usage: {prog} "), proc.stdout[:200]
    dumped = subprocess.run([sys.executable, "-c", DUMP_PARSER, *_entry(argv)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=env)
    assert dumped.returncode == 0, dumped.stderr
    parser = json.loads(dumped.stdout.splitlines()[-1])
    description = parser["description"].strip()
    assert description[-1] in ".)", f"{prog}: the description stops mid-sentence: {description!r}"
    for action in parser["actions"]:
        if action["help"] == argparse_suppress() or action["sub"]:  # subcommands: test_rollup_host.py
            continue
        name = action["flags"] or action["dest"]
        assert action["help"], f"{prog} {name} has no help"
        if action["flags"] and action["default"] not in ("None", "False", repr(argparse_suppress())):
            assert "default" in action["shown"], f"{prog} {name} does not show its default: {action['shown']!r}"
    quiet, err = closed_pipe_run(*argv, "--help")
    assert quiet in (0, 141) and err == "", err


def argparse_suppress() -> str:
    import argparse
    return argparse.SUPPRESS


def test_decimals_is_a_number_of_places_or_auto():
    for bad in ("1.5", "-1", "78", "eighteen"):
        proc = cli("send", "--from", ALICE, "--decimals", bad, "{}")
        assert proc.returncode == 2 and "neither a number of decimals (0..77) nor auto" in proc.stderr, proc.stderr
