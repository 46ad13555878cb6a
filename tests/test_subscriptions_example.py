"""examples/subscriptions, a second DApp on the installed library: its own tests and a
round trip through the local rollup host, run from a copy outside the repository in a
fresh venv that has only the wheel (and pytest), so nothing comes from the source tree."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rollup_host.child import stop
from rollup_host.client import HostClient
from rollup_host.server import start_in_thread
from tests.conftest import wait_until
from tests.test_wheel import venv_with

pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "subscriptions"
PYTEST_PIN = next(line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                  if line.startswith("pytest=="))
TOKEN, MERCHANT, USER = "0x" + "11" * 20, "0x" + "3e" * 20, "0x" + "a5" * 20


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """(python of a venv with the wheel, a copy of the example outside the repository)."""
    base = tmp_path_factory.mktemp("subscriptions")
    py = venv_with(wheel, base / "venv", PYTEST_PIN)
    copy = base / "elsewhere" / "subscriptions"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite*"))
    return py, copy


def test_the_example_imports_the_installed_wheel(installed):
    py, copy = installed
    out = subprocess.run([str(py), "-I", "-c", "import streamable_token; print(streamable_token.__file__)"],
                         cwd=copy, check=True, capture_output=True, text=True, timeout=120)
    assert Path(out.stdout.strip()).is_relative_to(py.parent.parent), out.stdout


def test_the_examples_own_tests_pass_against_the_installed_wheel(installed):
    py, copy = installed
    out = subprocess.run([str(py), "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(copy)],
                         cwd=copy, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " passed" in out.stdout and "failed" not in out.stdout


def decoded(outputs: list[dict]) -> list[dict]:
    return [json.loads(bytes.fromhex(o["payload"][2:])) for o in outputs]


def test_a_round_trip_through_the_local_host(installed, tmp_path):
    """What the example's README shows: deposit, plan, subscribe in one input, the
    merchant's withdrawal, and the inspect routes, over the rollup HTTP API."""
    py, copy = installed
    server, url = start_in_thread(port=0, finish_timeout=1.0)
    log = open(tmp_path / "dapp.log", "wb")
    dapp = subprocess.Popen([str(py), "-I", str(copy / "dapp.py"), "--db", str(tmp_path / "sub.sqlite")],
                            cwd=tmp_path, env={**os.environ, "ROLLUP_HTTP_SERVER_URL": url},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        client = HostClient(url, timeout=60)
        assert client.deposit(TOKEN, USER, 1000, block=1)["status"] == "accepted"
        plan = client.advance(MERCHANT, {"op": "create_plan", "token": TOKEN, "amount": "100", "period": 10})
        assert plan["status"] == "accepted" and decoded(plan["notices"])[0]["id"] == 1
        sub = client.advance(USER, {"op": "subscribe", "plan_id": 1, "periods": 2}, block=2)
        assert sub["status"] == "accepted", sub
        assert [n["event"] for n in decoded(sub["notices"])] == ["approval", "stream_opened", "subscribed"]
        refused = client.advance(USER, {"op": "subscribe", "plan_id": 9, "periods": 2}, block=3)
        assert refused["status"] == "rejected" and not refused["notices"]
        withdrawal = client.advance(MERCHANT, {"op": "withdraw", "token": TOKEN, "amount": "100"}, block=12)
        assert withdrawal["status"] == "accepted" and len(withdrawal["vouchers"]) == 1
        answer = client.inspect("subscription/1")
        assert answer["status"] == "accepted", answer
        state = decoded(answer["reports"])[0]
        assert (state["periods"], state["started"], state["stream"]["status"]) == (2, 1, "settled")
        balance = decoded(client.inspect(f"balance/{TOKEN}/{USER}")["reports"])[0]
        assert balance["balance"] == "900"
    finally:
        stop(dapp)
        server.stop()
        log.close()
