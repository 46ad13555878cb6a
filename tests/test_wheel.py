"""The engine is a library: ``pyproject.toml`` builds one wheel that installs only the
``streamable_token`` package, and that wheel, installed into a fresh venv outside the
repository, runs the engine and the router.

The wheel is built from a copy of the files it needs (pyproject.toml, README.md and the
package) with ``python -m build --no-isolation`` (build and setuptools are pinned in
requirements-dev.txt), so the check also proves nothing else of the repository is needed.
The venv installs the wheel with its dependencies from the package index.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "host_dapp.py"


def build_wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of only the files it needs (the ``wheel`` fixture in
    conftest.py builds it once per session)."""
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "streamable_token", src / "streamable_token",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
                   check=True, capture_output=True, timeout=300)
    (found,) = out.glob("*.whl")
    return found


def venv_with(wheel: Path, venv: Path, *packages: str) -> Path:
    """A fresh venv at ``venv`` with the wheel (and ``packages``) installed from the
    package index; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), *packages],
                   check=True, timeout=600)
    return py


def test_wheel_holds_one_top_level_package_with_a_version_and_its_dependencies(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = z.read(meta).decode()
    assert top == {"streamable_token"}
    assert {"streamable_token/rollup/router.py", "streamable_token/migrations/m1_initial.py"} <= set(names)
    assert not any(n.startswith(("db/", "rollup/", "tests/", "bench/", "rollup_host/")) for n in names)
    import streamable_token
    assert f"\nVersion: {streamable_token.__version__}\n" in metadata
    assert "\nRequires-Dist: pycryptodome" in metadata


def test_installed_wheel_runs_the_engine_and_a_host_dapp_outside_the_repository(wheel, tmp_path):
    venv = tmp_path / "venv"
    py = venv_with(wheel, venv)
    work = tmp_path / "elsewhere"
    work.mkdir()
    script = work / "host_dapp.py"
    shutil.copy(EXAMPLE, script)
    # -I: isolated (no PYTHONPATH, no user site, not even the script's folder first on the path)
    out = subprocess.run([str(py), "-I", str(script), str(work / "host.sqlite")], cwd=work,
                         check=True, capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(venv), result["package"]
    assert result["ok"] is True, result
