"""Shared fixtures: a local rollup host in a thread and the real dapp.py in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tests.property_budget  # noqa: F401  (loads the examples profile: all natively, fewer emulated)
from rollup_host.child import stop
from rollup_host.client import HostClient
from rollup_host.server import start_in_thread

ROOT = Path(__file__).resolve().parent.parent


def start_dapp(url: str, db: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    """Run the real ``dapp.py`` against a rollup server, logging to a file beside the DB."""
    log = open(db + ".log", "ab")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "dapp.py"), "--db", db, *extra],
        cwd=ROOT,
        env={**os.environ, "ROLLUP_HTTP_SERVER_URL": url, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


class LocalNode:
    """A host, a DApp process on a database, and a client to drive them."""

    def __init__(self, tmp_path: Path, **host_options) -> None:
        self.server, self.url = start_in_thread(port=0, finish_timeout=1.0, **host_options)
        self.db = str(tmp_path / "dapp.sqlite")
        self.client = HostClient(self.url, timeout=30)
        self.extra = ["--rollups", host_options.get("rollups", "v2")]
        self.dapp = start_dapp(self.url, self.db, *self.extra)

    def restart_dapp(self) -> None:
        stop(self.dapp)
        self.dapp = start_dapp(self.url, self.db, *self.extra)

    def close(self) -> None:
        stop(self.dapp)
        self.server.stop()


@pytest.fixture
def node(tmp_path):
    n = LocalNode(tmp_path)
    yield n
    n.close()


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The engine's wheel, built once per session (tests/test_wheel.py, the examples)."""
    from tests.test_wheel import build_wheel
    return build_wheel(tmp_path_factory)
