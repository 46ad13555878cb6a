"""Helpers for tests that need the node tooling (anvil, artifacts, solc-js).

``ensure_node_deps()`` installs ``node_modules`` with ``npm ci`` when it is missing, so
``make test`` works on a fresh clone; it skips the calling test only when ``npm`` itself
is absent.
"""

import shutil
import subprocess

from . import NODE_MODULES, REPO_ROOT

REQUIRED = ("@cartesi/rollups/out/Application.sol/Application.json",
            "@foundry-rs/anvil-linux-amd64/bin/anvil",
            "solc/soljson.js",
            "@cartesi/cli/bin/run.js",
            "@cartesi/viem/package.json",
            "@cartesi/rpc/package.json",
            "viem/package.json",
            "esbuild/package.json")


def node_deps_installed():
    """True when every package the L1 tests need is in ``node_modules``."""
    return all((NODE_MODULES / rel).exists() for rel in REQUIRED)


def ensure_node_deps():
    """Install the pinned npm packages if needed; ``pytest.skip`` without ``npm``."""
    import pytest

    if node_deps_installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm not found: the L1 round-trip tests need Node.js and npm "
                    "(then `make l1-deps`)")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not node_deps_installed():
        pytest.fail(f"`npm ci` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    (NODE_MODULES / ".installed").touch()
