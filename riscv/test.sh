#!/usr/bin/env bash
# make riscv-test: the DApp on the Cartesi machine's architecture, riscv64 Python 3.13,
# under qemu-user (no Docker, no binfmt). Builds or reuses the environment
# (riscv/setup.sh: needs root the first time), then
#   1. prints the emulated interpreter's machine, Python and SQLite versions;
#   2. natively, with RISCV_PYTHON set, tests/test_riscv64.py: the import check, the README
#      round trip with dapp.py emulated and the host native, and one recorded input log
#      through dapp.py native and emulated (byte-identical outputs and state hash);
#   3. emulated, the test suite minus what cannot run there (EXCLUDED below, with why).
# Usage: riscv/test.sh NATIVE_PYTHON
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
NATIVE="${1:-.venv/bin/python}"
START=$(date +%s)

# Not run emulated, and why:
EXCLUDED=(
    # the L1 side (anvil, an amd64 binary from npm, solc-js, node and the official Cartesi
    # clients on it): it never runs in the Cartesi machine; the DApp's side of it is the
    # round trip and the recorded log below
    --ignore=tests/test_l1_roundtrip.py --ignore=tests/test_l1_contracts.py
    --ignore=tests/test_official_clients.py --ignore=tests/test_l1_cli.py
    # host-side tools: JupyterLab/matplotlib for the notebook; PyYAML and hadolint (an
    # amd64 binary wheel) to check the Dockerfile and compose files, which no machine runs
    --ignore=tests/test_notebook.py --ignore=tests/test_packaging.py
    # builds the wheel and installs it with its dependencies into a fresh venv from PyPI:
    # pycryptodome has no riscv64 wheel there, and setup.sh builds it with the host's cross
    # compiler, which a venv made inside the emulation cannot reach; the wheel is pure Python
    --ignore=tests/test_wheel.py
    # the same fresh venv with the wheel, for the subscriptions example DApp
    --ignore=tests/test_subscriptions_example.py
    # runs natively in step 2, driving the emulated interpreter
    --ignore=tests/test_riscv64.py
    # the web page's stack and browser (anvil, node, esbuild, chromium: amd64 host tools a
    # person's machine runs, never the Cartesi machine); its math runs in node on shared
    # vectors (tests/test_page_flow.py, kept here)
    --ignore=tests/test_page.py --ignore=tests/test_app_stack.py
    # the real Cartesi machine, driven from the host (make machine-test runs it natively)
    --ignore=tests/test_machine.py
    # the source's shape, graded by radon (a host-side development tool): the same text on
    # every architecture
    --ignore=tests/test_code_shape.py
)

VENV="$(bash riscv/setup.sh)"
rc=$?
if [ $rc = 77 ]; then
    echo "riscv-test: SKIPPED (needs root once to install qemu-user-static, mmdebstrap and the cross compiler"
    echo "            and to build .riscv/; run it as root, or where the cache exists)"
    exit 0
elif [ $rc != 0 ]; then
    echo "riscv-test: setting up the riscv64 environment failed (exit $rc)"
    exit $rc
fi
RPY="$VENV/bin/python"
echo "== riscv64 environment ready after $(( $(date +%s) - START )) s: $VENV"
echo "== emulated interpreter: $("$RPY" -c 'import platform, sqlite3, sys; print(f"platform.machine() = {platform.machine()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")')"

echo "== native host, dapp.py on riscv64: import check, README round trip, recorded log native vs emulated"
RISCV_PYTHON="$RPY" "$NATIVE" -m pytest -q -p no:cacheprovider -rs tests/test_riscv64.py
native_rc=$?

# Property tests draw a fifth of their examples here (tests/property_budget.py): an
# example costs 10-15x its native cost, and the full search has just run natively.
export ST_EXAMPLES_SCALE="${ST_EXAMPLES_SCALE:-0.2}"
# Two pytest processes, one per core (an emulated process uses one): SHARD_1 holds the
# CPU-bound property and fuzz files and the replay tests, about half of the emulated time;
# the rest of the suite (whatever files it has) runs beside them.
SHARD_1=(tests/test_security_fuzz.py tests/test_security_malformed.py tests/test_engine_model.py
         tests/test_codec_ops.py tests/test_schedule.py tests/test_ledger_store.py tests/test_engine_edges.py
         tests/test_reliability_replay.py)
LOGS="$(mktemp -d)"
echo "== the test suite on riscv64 Python 3.13 (emulated, ST_EXAMPLES_SCALE=$ST_EXAMPLES_SCALE, in 2 processes), without: ${EXCLUDED[*]//--ignore=/}"
"$RPY" -m pytest -q -p no:cacheprovider "${SHARD_1[@]}" > "$LOGS/1" 2>&1 &
shard_1=$!
"$RPY" -m pytest -q -p no:cacheprovider tests "${EXCLUDED[@]}" "${SHARD_1[@]/#/--ignore=}" > "$LOGS/2" 2>&1
rc_2=$?
wait $shard_1
rc_1=$?
for k in 1 2; do echo "-- emulated, process $k:"; cat "$LOGS/$k"; done
rm -rf "$LOGS"
emulated_rc=$(( rc_1 || rc_2 ))

echo "== riscv-test took $(( $(date +%s) - START )) s (tests/test_riscv64.py exit $native_rc, emulated suite exit $emulated_rc)"
[ $native_rc = 0 ] && [ $emulated_rc = 0 ]
