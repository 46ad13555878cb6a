#!/usr/bin/env bash
# Build (or reuse) the emulated riscv64 Python 3.13 environment the Cartesi machine runs:
#   a Debian trixie riscv64 root filesystem (mmdebstrap, extract only: no maintainer
#   scripts run) and a venv whose interpreter is a wrapper that runs the rootfs's
#   python3.13 under qemu-riscv64-static, so its child processes are emulated too.
#
#   riscv/setup.sh            prints the venv's directory on its last line
#
# Everything comes from the machine's own apt sources (Debian) and PyPI. Cached under
# .riscv/<key>/, key = hash of this script, riscv/requirements.txt and the requirements
# files it names; rebuilt when one changes. Building needs root (apt-get, mmdebstrap);
# without root and without a cache it exits 77 after saying why.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SUITE=trixie
PY=python3.13
REQS=(riscv/requirements.txt requirements.txt)
KEY="$(cat riscv/setup.sh riscv/debian_mirror.py "${REQS[@]}" | sha256sum | cut -c1-16)"
BASE="$ROOT/.riscv"
DIR="$BASE/$KEY"
ROOTFS="$DIR/rootfs"
VENV="$DIR/venv"
PYC="$DIR/pycache"

say() { echo "riscv/setup: $*" >&2; }

# The cross compiler must link a program: gcc-riscv64-linux-gnu only recommends the riscv64
# libc headers and start files (libc6-dev-riscv64-cross), which --no-install-recommends skips.
cross_cc_links() {
    local tmp; tmp="$(mktemp -d)"
    echo 'int main(void) { return 0; }' > "$tmp/t.c"
    riscv64-linux-gnu-gcc "$tmp/t.c" -o "$tmp/t" 2>/dev/null; local rc=$?
    rm -rf "$tmp"; return $rc
}
host_tools() { command -v qemu-riscv64-static >/dev/null && command -v mmdebstrap >/dev/null \
               && command -v riscv64-linux-gnu-gcc >/dev/null && cross_cc_links; }

if [ -f "$DIR/.done" ] && command -v qemu-riscv64-static >/dev/null; then
    say "cached environment $DIR"
    echo "$VENV"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "SKIP: building the riscv64 environment needs root (apt-get install qemu-user-static"
    say "      mmdebstrap gcc-riscv64-linux-gnu libc6-dev-riscv64-cross; mmdebstrap writes device-owned"
    say "      files); none cached"
    exit 77
fi

if ! host_tools; then
    say "installing qemu-user-static, mmdebstrap, gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross (apt)"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        qemu-user-static mmdebstrap gcc-riscv64-linux-gnu libc6-dev-riscv64-cross >&2
    cross_cc_links || { say "riscv64-linux-gnu-gcc still cannot link a program"; exit 1; }
fi

# The Debian mirror of the machine's own apt sources (riscv/debian_mirror.py).
# RISCV_MIRROR overrides it.
MIRROR="${RISCV_MIRROR:-$(python3 "$ROOT/riscv/debian_mirror.py")}"
if [ -z "$MIRROR" ]; then
    say "no Debian main archive found in /etc/apt/sources.list*; set RISCV_MIRROR"
    exit 1
fi

rm -rf "$DIR"
mkdir -p "$DIR"
say "riscv64 $SUITE root filesystem from the apt sources' Debian mirror"
mmdebstrap --quiet --arch=riscv64 --variant=extract --include=python3,python3-venv \
    "$SUITE" "$ROOTFS" "$MIRROR" >&2
# merged /usr: the links base-files' maintainer scripts would have made
for d in bin sbin lib; do
    [ -e "$ROOTFS/$d" ] || [ -L "$ROOTFS/$d" ] || ln -s "usr/$d" "$ROOTFS/$d"
done
[ -x "$ROOTFS/usr/bin/$PY" ] || { say "no $PY in the rootfs"; exit 1; }

say "venv with an emulated $PY"
qemu-riscv64-static -L "$ROOTFS" "$ROOTFS/usr/bin/$PY" -m venv --without-pip "$VENV" >&2
for name in python python3 "$PY"; do
    rm -f "$VENV/bin/$name"
    cat > "$VENV/bin/$name" <<WRAP
#!/bin/sh
# riscv64 $PY under qemu-user; -0 keeps this path as argv[0] so the venv is found.
# Bytecode is cached in $PYC whatever PYTHONDONTWRITEBYTECODE says: the rootfs was
# extracted without the maintainer scripts that byte-compile its standard library, and
# compiling it again on every start took ~5 s of an emulated DApp's ~6.5 s start.
export PYTHONPYCACHEPREFIX="$PYC"
unset PYTHONDONTWRITEBYTECODE
exec qemu-riscv64-static -L "$ROOTFS" -0 "\$0" "$ROOTFS/usr/bin/$PY" "\$@"
WRAP
    chmod +x "$VENV/bin/$name"
done
# pip: the rootfs's own wheel (python3-pip-whl), run from the wheel file (ensurepip copies
# it with listxattr, a call qemu-user does not redirect into the rootfs), then the pinned
# requirements.
PIP_WHL="$(ls "$ROOTFS"/usr/share/python-wheels/pip-*.whl | head -1)"
"$VENV/bin/python" "$PIP_WHL/pip" install -q --no-index --disable-pip-version-check "$PIP_WHL" >&2
mkdir -p "$BASE/pip-cache"
# pycryptodome has no riscv64 wheel: build it from source with the host's cross compiler
# (its C is plain C loaded through ctypes: no Python.h needed). The emulated pip runs the
# host's compiler natively.
CC=riscv64-linux-gnu-gcc LDSHARED="riscv64-linux-gnu-gcc -shared" \
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --cache-dir "$BASE/pip-cache" \
    -r riscv/requirements.txt >&2
"$VENV/bin/python" -c 'import platform, sys; assert platform.machine() == "riscv64", platform.machine(); print(sys.version)' >&2
touch "$DIR/.done"
# older environments (other keys) go
for old in "$BASE"/*/; do
    [ "${old%/}" = "$DIR" ] || [ "${old%/}" = "$BASE/pip-cache" ] || rm -rf "$old"
done
echo "$VENV"
