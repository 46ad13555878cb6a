"""The README's embedding section works from the README alone: ``examples/embed.py`` (the
file it quotes) runs as a separate process with only the package on its path, its outputs
are the ones the README promises, and every code line the README shows is in that file."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "embed.py"


def run_example(*args: str) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(EXAMPLE), *args], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_the_example_runs_a_deposit_a_host_op_a_refusal_a_voucher_and_a_host_route(tmp_path):
    lines = run_example(str(tmp_path / "game.sqlite"))
    statuses = [line["status"] for line in lines if "input" in line]
    assert statuses == ["accept", "accept", "reject", "accept"]
    emitted = [line for line in lines if "kind" in line and "inspect" not in line]
    assert [o["kind"] for o in emitted] == ["notice", "notice", "report", "voucher", "notice"]
    assert emitted[0]["payload"]["event"] == "deposit" and emitted[0]["payload"]["amount"] == "1000"
    assert emitted[1]["payload"] == {"block": 11, "event": "rewarded", "stream": 1,
                                     "player": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"}
    assert emitted[2]["payload"]["error"]["type"] == "InsufficientFunds"
    voucher = emitted[3]
    assert set(voucher) == {"kind", "destination", "value", "payload"}
    assert voucher["payload"].startswith("0xa9059cbb") and voucher["payload"].endswith("64")
    score, balance = [line for line in lines if "inspect" in line]
    assert score["payload"] == {"player": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB", "points": 1}
    # 500 over 100 blocks from block 11: 250 by block 61, less the 100 withdrawn
    assert balance["payload"]["balance"] == "150"


def test_help_is_help_never_a_database_name(tmp_path):
    out = subprocess.run([sys.executable, str(EXAMPLE), "--help"], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)},
                         check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("usage: python examples/embed.py")
    assert list(tmp_path.iterdir()) == []


def test_every_code_line_of_the_readmes_embedding_section_is_in_the_example():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Embedding", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the README's embedding section shows examples/embed.py's key lines"
    source = EXAMPLE.read_text()
    shown = [line.strip() for block in blocks for line in block.splitlines()]
    shown = [line for line in shown if line and line != "..." and not line.startswith("#")]
    missing = [line for line in shown if line not in source]
    assert not missing, missing
    assert len(shown) >= 10
