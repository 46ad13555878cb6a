"""Simulation.ipynb runs headless from top to bottom without error, and draws its plots.

The notebook starts the local rollup host and dapp.py itself (free port, temporary
database) and stops them in its last cell. Here it runs in a fresh kernel with nbclient;
any cell error fails the test. Figures go to a temporary folder so the committed PNGs
are left alone. Needs requirements-notebook.txt (``make notebook-test`` installs it).
"""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("balances", "timeline", "conservation", "hub")

pytest.importorskip("nbclient", reason="notebook test needs requirements-notebook.txt (make notebook-test)")
pytest.importorskip("ipykernel", reason="notebook test needs requirements-notebook.txt (make notebook-test)")
pytest.importorskip("matplotlib", reason="notebook test needs requirements-notebook.txt (make notebook-test)")

_spec = importlib.util.spec_from_file_location("notebook_run", ROOT / "notebook" / "run.py")
notebook_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_run)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_notebook_executes_and_plots(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_FIGURES", str(tmp_path))
    nb = notebook_run.execute(timeout=240)

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Σ balances + withdrawn − deposited = 0 every time" in text
    assert "1000 streams opened" in text
    assert "state unchanged: True" in text

    for name in FIGURES:
        png = tmp_path / f"{name}.png"
        assert png.exists(), f"{name}.png was not saved"
        header = png.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
        assert width > 600 and height > 300 and png.stat().st_size > 20_000

    # The last cell stopped the dapp.py that the first cell started.
    pid = int(re.search(r"dapp\.py\s+pid (\d+)", text).group(1))
    assert not _alive(pid), f"dapp.py (pid {pid}) still running after the notebook"


def test_committed_notebook_has_outputs():
    """The notebook is committed executed, so it reads well without running it."""
    import nbformat

    nb = nbformat.read(ROOT / "Simulation.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "re-run: python notebook/run.py --inplace"
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 4
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    for name in FIGURES:
        assert (ROOT / "notebook" / "figures" / f"{name}.png").exists()
