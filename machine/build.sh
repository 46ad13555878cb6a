#!/usr/bin/env bash
# Build (or reuse) the Cartesi machine that runs dapp.py, from source:
#
#   machine/build.sh          prints the machine's directory (host path) on its last line
#
# From MACHINE_SRC (the unmodified source tarballs: emulator, OpenSBI, guest tools; default
# ../shared/vendor/cartesi beside the repo) and Debian and PyPI packages only:
#   chroot     a Debian trixie amd64 build root (mmdebstrap); everything is built and run in
#              it (the emulator needs GCC >= 13, Boost 1.83 and trixie's libraries)
#   emulator   machine-emulator: libcartesi, cartesi-machine.lua, the uarch, run in place
#   linux.bin  Cartesi's OpenSBI with machine/opensbi.patch (riscv,isa in canonical order,
#              SBI 2.0 for the console) carrying Debian trixie's stock riscv64 kernel
#   cmio.ko    our cmio driver (machine/cmio), built against Debian's kernel headers
#   initramfs  busybox, the kernel's pmem/ext4 modules, cmio.ko, machine/guest/initramfs-init;
#              appended to the RAM image at 64 MiB (the CLI has no initrd option)
#   root.ext2  Debian trixie riscv64 Python 3.13 (extracted, no maintainer scripts), the
#              DApp's requirements (pycryptodome cross-built from its PyPI sdist, requests
#              from PyPI), dapp.py + db + streamable_token, our rollup HTTP shim over libcmt
#              (machine/guest/rollup-shim.c), the do-nothing DApp of the cost baseline
#              (machine/guest/noop_dapp.py), every .py compiled to .pyc (unchecked-hash)
#   snapshot   the machine stored at its first yield: dapp.py waiting on POST /finish
# Cached under MACHINE_CACHE (default /var/cache/streamable-token/machine), outside the
# tree: each stage in a directory named by a hash of its inputs (tarballs, recipe files,
# the DApp's tracked files), reused until they change. Needs root to build (mmdebstrap,
# chroot); without root and without a cached machine it exits 77 after saying why, and so it
# does with MACHINE_NO_BUILD=1 set whenever the machine is not cached (tests/test_machine.py
# under a plain `make test`).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
MACHINE_SRC="$(cd "${MACHINE_SRC:-$REPO/../shared/vendor/cartesi}" 2>/dev/null && pwd || echo "${MACHINE_SRC:-$REPO/../shared/vendor/cartesi}")"
MACHINE_CACHE="${MACHINE_CACHE:-/var/cache/streamable-token/machine}"
SUITE=trixie
KVER=6.12.117+deb13
RAM_LENGTH=256Mi
ROOT_SIZE=256M
INITRD_ADDR=0x84000000       # RAM start + 64 MiB: linux.bin is padded to there
EMU_TAR=machine-emulator-0.21.0.tar.gz
SBI_TAR=opensbi-1.3.1-ctsi-2.tar.gz
GT_TAR=machine-guest-tools-d3d5069.tar.gz
CHROOT_PACKAGES=build-essential,g++-14,libboost1.83-dev,libssl-dev,libslirp-dev,pkg-config,lua5.4,liblua5.4-dev,lua-socket,lua-posix,lua-lpeg,xxd,procps,ca-certificates,gcc-riscv64-unknown-elf,g++-14-riscv64-linux-gnu,gcc-riscv64-linux-gnu,cpio,e2fsprogs,file,python3,python3-setuptools,python3-wheel,python3-pip,bc,flex,bison,kmod,zstd,xz-utils,device-tree-compiler,pahole
ROOT_PACKAGES=python3,busybox-static

say() { echo "machine/build: $*" >&2; }
now() { date +%s; }
T0=$(now)
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
hash_str() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

for f in "$EMU_TAR" "$SBI_TAR" "$GT_TAR"; do
    if [ ! -f "$MACHINE_SRC/$f" ]; then
        say "SKIP: $MACHINE_SRC/$f not found (set MACHINE_SRC to the directory of the Cartesi source tarballs)"
        exit 77
    fi
done

# --- keys: each stage's inputs ---------------------------------------------------------
# A stage's recipe is its part of this script: bump the stage's "-vN" tag when it changes
# (the machine's own key includes this whole script).
K_CHROOT=$(hash_str "$SUITE" "$CHROOT_PACKAGES" chroot-v1)
K_EMU=$(hash_str "$(hash_of "$MACHINE_SRC/$EMU_TAR")" emu-v1)
K_LINUX=$(hash_str "$(hash_of "$MACHINE_SRC/$SBI_TAR" machine/opensbi.patch)" "$KVER" linux-v1)
K_CMIO=$(hash_str "$(hash_of machine/cmio/*)" "$KVER" cmio-v1)
K_ROOTBASE=$(hash_str "$SUITE" "$ROOT_PACKAGES" "$(hash_of requirements.txt)" rootbase-v2)
K_INITRD=$(hash_str "$K_CMIO" "$K_ROOTBASE" "$KVER" "$(hash_of machine/guest/initramfs-init)" initrd-v1)
APP_FILES=$(git ls-files dapp.py db streamable_token 2>/dev/null | grep -v '\.sqlite' | LC_ALL=C sort) || true
if [ -z "$APP_FILES" ]; then
    say "SKIP: git ls-files lists none of the DApp's files here (not a git checkout, or git refuses it)"
    exit 77
fi
K_APP=$(hash_str "$K_ROOTBASE" "$(hash_of $APP_FILES)" "$APP_FILES" "$(hash_of "$MACHINE_SRC/$GT_TAR" machine/cmio/cmio.h machine/guest/rollup-shim.c machine/guest/init machine/guest/noop_dapp.py)" "$ROOT_SIZE" app-v2)
BOOTARGS_EXTRA="${MACHINE_BOOTARGS:-quiet}"
K_MACHINE=$(hash_str "$K_EMU" "$K_LINUX" "$K_INITRD" "$K_APP" "$RAM_LENGTH" "$BOOTARGS_EXTRA" "$(hash_of machine/build.sh)" machine-v1)

CHROOT="$MACHINE_CACHE/chroot-$K_CHROOT"
CACHE_IN="/cache"                        # the stages, as the chroot sees them
CACHE="$CHROOT$CACHE_IN"
MACHINE_DIR="$CACHE/machine-$K_MACHINE"

if [ -f "$MACHINE_DIR/.done" ]; then
    say "cached machine $MACHINE_DIR"
    echo "$MACHINE_DIR"
    exit 0
fi
if [ -n "${MACHINE_NO_BUILD:-}" ]; then
    say "SKIP: no Cartesi machine cached under $MACHINE_CACHE for these inputs; \`make machine\` (or \`make machine-test\`) builds it (~8-10 min, root)"
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    say "SKIP: building the Cartesi machine needs root (mmdebstrap, chroot); none cached under $MACHINE_CACHE"
    exit 77
fi

# --- host tools -------------------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap (apt)"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >&2
fi

# The Debian mirror of the machine's own apt sources (riscv/debian_mirror.py, shared with
# riscv/setup.sh). MACHINE_MIRROR overrides it.
MIRROR="${MACHINE_MIRROR:-$(python3 "$REPO/riscv/debian_mirror.py")}"
[ -n "$MIRROR" ] || { say "no Debian main archive in /etc/apt/sources.list*; set MACHINE_MIRROR"; exit 1; }

# --- the build chroot ---------------------------------------------------------------------
MOUNTED=()
cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount "${MOUNTED[$i]}" 2>/dev/null || umount -l "${MOUNTED[$i]}" || true; done
}
trap cleanup EXIT
mount_chroot() {
    if ! mountpoint -q "$CHROOT/proc"; then mount -t proc proc "$CHROOT/proc"; MOUNTED+=("$CHROOT/proc"); fi
    if ! mountpoint -q "$CHROOT/dev"; then mount --bind /dev "$CHROOT/dev"; MOUNTED+=("$CHROOT/dev"); fi
}
in_chroot() { chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 sh -ec "$1"; }
stage_begin() { # name key -> sets DIR; returns 1 when cached
    DIR="$CACHE/$1-$2"
    if [ -f "$DIR/.done" ]; then say "$1: cached ($DIR)"; return 1; fi
    # a stage left half-built by an interrupted run has no mounts in it: remove it
    rm -rf "$DIR"; mkdir -p "$DIR"; STAGE_T=$(now); say "$1: building ($DIR)"; return 0
}
stage_end() { touch "$DIR/.done"; say "$1: built in $(($(now) - STAGE_T)) s"; }

if [ ! -f "$CHROOT/.done" ]; then
    if [ -e "$CHROOT/proc" ] && { mountpoint -q "$CHROOT/proc" || mountpoint -q "$CHROOT/dev"; }; then
        say "$CHROOT is half-built with mounts in it: unmount $CHROOT/proc and $CHROOT/dev first"; exit 1
    fi
    rm -rf "$CHROOT"; mkdir -p "$MACHINE_CACHE"
    say "chroot: Debian $SUITE amd64 build root from $MIRROR"
    T=$(now)
    mmdebstrap --quiet --variant=buildd --architectures=amd64,riscv64 --include="$CHROOT_PACKAGES" \
        "$SUITE" "$CHROOT" "$MIRROR" >&2
    touch "$CHROOT/.done"
    say "chroot: built in $(($(now) - T)) s"
fi
mkdir -p "$CACHE"
mount_chroot
APT_FRESH="$CHROOT/var/lib/apt/lists/.fresh"
apt_lists() { # mmdebstrap empties the package lists: fetch them once per chroot
    [ -f "$APT_FRESH" ] || { in_chroot "apt-get update -q" >&2; touch "$APT_FRESH"; }
}
# Added to a chroot made before they were in the list (the chroot's key is its first list):
# libarchive, which mke2fs loads to build the root drive from a tarball.
CHROOT_EXTRA=libarchive13t64
if ! in_chroot "dpkg -s $CHROOT_EXTRA >/dev/null 2>&1"; then
    apt_lists
    in_chroot "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $CHROOT_EXTRA" >&2
fi

# --- emulator -----------------------------------------------------------------------------
EMU_IN="$CACHE_IN/emu-$K_EMU/src"
if stage_begin emu "$K_EMU"; then
    mkdir -p "$DIR/src"
    tar xzf "$MACHINE_SRC/$EMU_TAR" -C "$DIR/src" --strip-components=1
    # the uarch links against riscv64 glibc headers that ask for the lp64 stubs
    cp "$DIR/src/tools/rv64i-lp64-stubs/gnu/stubs-lp64.h" "$CHROOT/usr/riscv64-linux-gnu/include/gnu/"
    in_chroot "cd $EMU_IN && export DEV_ENV_HAS_TOOLCHAIN=yes && make uarch -j2 && make -j2" > "$DIR/build.log" 2>&1 \
        || { tail -30 "$DIR/build.log" >&2; say "emulator build failed (log: $DIR/build.log)"; exit 1; }
    in_chroot "cd $EMU_IN && eval \$(make -s --no-print-directory env) && cartesi-machine.lua --version" >&2
    stage_end emu
fi

# --- the kernel packages (Debian trixie, riscv64) -------------------------------------
KDEBS_IN="$CACHE_IN/kdebs-$KVER"
if [ ! -f "$CHROOT$KDEBS_IN/.done" ]; then
    apt_lists
    rm -rf "$CHROOT$KDEBS_IN"; mkdir -p "$CHROOT$KDEBS_IN"
    in_chroot "cd $KDEBS_IN && apt-get download -q linux-image-$KVER-riscv64:riscv64 linux-headers-$KVER-riscv64:riscv64 linux-headers-$KVER-common linux-kbuild-$KVER:amd64" >&2
    in_chroot "cd $KDEBS_IN && mkdir image && dpkg-deb -x linux-image-*.deb image && for d in linux-headers-*.deb linux-kbuild-*.deb; do dpkg-deb -x \$d /; done"
    touch "$CHROOT$KDEBS_IN/.done"
fi
KIMAGE_IN="$KDEBS_IN/image/boot/vmlinux-$KVER-riscv64"
KMODS_IN="$KDEBS_IN/image/usr/lib/modules/$KVER-riscv64/kernel"

# --- linux.bin: OpenSBI with the kernel as its payload --------------------------------------
if stage_begin linux "$K_LINUX"; then
    mkdir -p "$DIR/src"
    tar xzf "$MACHINE_SRC/$SBI_TAR" -C "$DIR/src" --strip-components=1
    patch -s -d "$DIR/src" -p1 < machine/opensbi.patch
    # vmlinux in Debian's riscv64 package is the raw Image (text_offset 0x200000)
    in_chroot "cd $CACHE_IN/linux-$K_LINUX/src && make -r -j2 FW_PAYLOAD_PATH=$KIMAGE_IN FW_PAYLOAD=y FW_OPTIONS=0x01 PLATFORM=cartesi CROSS_COMPILE=riscv64-linux-gnu-" > "$DIR/build.log" 2>&1 \
        || { tail -30 "$DIR/build.log" >&2; say "OpenSBI build failed"; exit 1; }
    cp "$DIR/src/build/platform/cartesi/firmware/fw_payload.bin" "$DIR/linux.bin"
    rm -rf "$DIR/src"
    stage_end linux
fi
LINUX_BIN="$CACHE/linux-$K_LINUX/linux.bin"

# --- cmio.ko ------------------------------------------------------------------------------
if stage_begin cmio "$K_CMIO"; then
    cp machine/cmio/* "$DIR/"
    in_chroot "make -C /usr/src/linux-headers-$KVER-riscv64 M=$CACHE_IN/cmio-$K_CMIO ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- modules" > "$DIR/build.log" 2>&1 \
        || { tail -30 "$DIR/build.log" >&2; say "cmio module build failed"; exit 1; }
    in_chroot "riscv64-linux-gnu-strip --strip-debug $CACHE_IN/cmio-$K_CMIO/cmio.ko"
    stage_end cmio
fi
CMIO_KO="$CACHE/cmio-$K_CMIO/cmio.ko"

# --- the riscv64 root's base: Python 3.13 and busybox, and the DApp's requirements -----------
if stage_begin rootbase "$K_ROOTBASE"; then
    mmdebstrap --quiet --arch=riscv64 --variant=extract --include="$ROOT_PACKAGES" "$SUITE" "$DIR/root" "$MIRROR" >&2
    for d in bin sbin lib; do [ -e "$DIR/root/$d" ] || ln -s "usr/$d" "$DIR/root/$d"; done
    SITE="$DIR/root/usr/local/lib/python3.13/dist-packages"
    mkdir -p "$SITE" "$DIR/pip"
    # pycryptodome: no riscv64 wheel on PyPI and Debian's python3-pycryptodome is the
    # Cryptodome namespace only: cross-build the pinned sdist (its C is plain C loaded through
    # ctypes, no Python.h), install the wheel's files.
    PCD_VERSION=$(sed -n 's/^pycryptodome==\([^ ]*\).*/\1/p' requirements.txt)
    python3 -m pip download -q --no-deps --no-binary :all: -d "$DIR/pip" "pycryptodome==$PCD_VERSION" >&2
    mkdir -p "$DIR/pcd"
    tar xzf "$DIR/pip/pycryptodome-$PCD_VERSION.tar.gz" -C "$DIR/pcd" --strip-components=1
    in_chroot "cd $CACHE_IN/rootbase-$K_ROOTBASE/pcd && CC=riscv64-linux-gnu-gcc LDSHARED='riscv64-linux-gnu-gcc -shared' CFLAGS=-O2 python3 -m pip wheel -q --no-deps --no-build-isolation -w ../wheels ." > "$DIR/pycryptodome.log" 2>&1 \
        || { tail -20 "$DIR/pycryptodome.log" >&2; say "pycryptodome cross-build failed"; exit 1; }
    python3 -m zipfile -e "$DIR"/wheels/pycryptodome-*.whl "$SITE"
    file "$SITE/Crypto/Hash/_keccak.abi3.so" | grep -q "RISC-V" || { say "pycryptodome's _keccak is not riscv64"; exit 1; }
    # The rest of requirements.txt from riscv64 or pure-Python wheels. eth-abi and eth-utils
    # need pydantic-core, which has no riscv64 wheel here; dapp.py never imports them (only the
    # host side and the tests do), so the root goes without them.
    grep -v -i -E '^(pycryptodome|eth-abi|eth-utils)==|^#|^$' requirements.txt > "$DIR/requirements-riscv64.txt"
    python3 -m pip install -q --disable-pip-version-check --no-compile --target "$DIR/wheelsite" --python-version 3.13 \
        --implementation cp --abi cp313 --platform manylinux_2_39_riscv64 --platform manylinux_2_28_riscv64 \
        --platform manylinux_2_17_riscv64 --platform manylinux2014_riscv64 --platform linux_riscv64 \
        --only-binary=:all: -r "$DIR/requirements-riscv64.txt" > "$DIR/pip.log" 2>&1 \
        || { tail -20 "$DIR/pip.log" >&2; say "pip install of the riscv64 requirements failed"; exit 1; }
    rm -rf "$DIR/wheelsite/bin"
    cp -a "$DIR/wheelsite/." "$SITE/"
    rm -rf "$DIR/pcd" "$DIR/wheelsite"
    stage_end rootbase
fi
ROOTBASE="$CACHE/rootbase-$K_ROOTBASE/root"

# --- initramfs -----------------------------------------------------------------------------
if stage_begin initrd "$K_INITRD"; then
    I="$DIR/tree"
    mkdir -p "$I/bin" "$I/modules" "$I/proc" "$I/sys" "$I/dev" "$I/newroot"
    cp "$ROOTBASE/usr/bin/busybox" "$I/bin/busybox"
    cp machine/guest/initramfs-init "$I/init"; chmod 755 "$I/init"
    mknod -m 600 "$I/dev/console" c 5 1
    for f in drivers/nvdimm/libnvdimm drivers/nvdimm/nd_btt drivers/nvdimm/nd_pmem drivers/nvdimm/of_pmem \
             lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4; do
        xz -dc "$CHROOT$KMODS_IN/$f.ko.xz" > "$I/modules/$(basename "$f").ko"
    done
    cp "$CMIO_KO" "$I/modules/cmio.ko"
    in_chroot "cd $CACHE_IN/initrd-$K_INITRD/tree && riscv64-linux-gnu-strip --strip-debug modules/*.ko && find . -exec touch -h -d @1700000000 {} + && find . | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet | gzip -9n > ../initrd.gz"
    rm -rf "$I"
    stage_end initrd
fi
INITRD="$CACHE/initrd-$K_INITRD/initrd.gz"

# --- root.ext2: the base, the DApp, the shim, compiled bytecode ----------------------------
if stage_begin app "$K_APP"; then
    # libcmt from the guest tools, against our cmio header
    mkdir -p "$DIR/gt" "$DIR/inc/linux/cartesi" "$DIR/shim"
    tar xzf "$MACHINE_SRC/$GT_TAR" -C "$DIR/gt" --strip-components=1
    cp machine/cmio/cmio.h "$DIR/inc/linux/cartesi/cmio.h"
    cp machine/guest/rollup-shim.c "$DIR/shim/"
    A="$CACHE_IN/app-$K_APP"
    in_chroot "cd $A/gt/sys-utils/libcmt && make -s CC='riscv64-linux-gnu-gcc -isystem $A/inc' AR=riscv64-linux-gnu-ar build/riscv64/libcmt.a && cd $A/shim && riscv64-linux-gnu-gcc -O2 -Wall -Wextra -static -isystem $A/inc -I$A/gt/sys-utils/libcmt/include -o rollup-shim rollup-shim.c $A/gt/sys-utils/libcmt/build/riscv64/libcmt.a && riscv64-linux-gnu-strip rollup-shim" > "$DIR/build.log" 2>&1 \
        || { tail -30 "$DIR/build.log" >&2; say "libcmt/rollup-shim build failed"; exit 1; }
    R="$DIR/root"
    cp -a "$ROOTBASE" "$R"
    mkdir -p "$R/opt/dapp" "$R/opt/machine" "$R/var/lib/dapp" "$R/root" "$R/proc" "$R/sys" "$R/dev" "$R/tmp"
    chmod 1777 "$R/tmp"
    printf '%s\n' $APP_FILES | tar cf - -T - | tar xf - -C "$R/opt/dapp"
    cp machine/guest/init "$R/opt/machine/init"; chmod 755 "$R/opt/machine/init"
    cp "$DIR/shim/rollup-shim" "$R/opt/machine/rollup-shim"
    cp machine/guest/noop_dapp.py "$R/opt/machine/noop_dapp.py"
    # trixie amd64 and riscv64 have the same Python (3.13.5): its bytecode is the guest's.
    # unchecked-hash: the guest never stats a source to validate its .pyc
    in_chroot "python3 -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version' && python3 -m compileall -q -j2 --invalidation-mode unchecked-hash -s $A/root -p / $A/root/usr/lib/python3.13 $A/root/usr/lib/python3 $A/root/usr/local/lib/python3.13 $A/root/opt/dapp" >&2
    find "$R" -exec touch -h -d @1700000000 {} +
    # from a tarball (sorted names, fixed times) so that the drive is the same bytes on every
    # build: mke2fs -d from a directory takes its readdir order and the files' ctimes
    in_chroot "cd $A && tar -C root --sort=name --mtime=@1700000000 --numeric-owner -cf root.tar . && E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext2 -b 4096 -L root -U 6d616368-696e-6500-0000-000000000001 -E hash_seed=6d616368-696e-6500-0000-000000000002,root_owner=0:0 -d $A/root.tar root.ext2 $ROOT_SIZE"
    rm -rf "$DIR/gt" "$DIR/root" "$DIR/root.tar"
    stage_end app
fi
ROOT_EXT2="$CACHE/app-$K_APP/root.ext2"

# --- the machine: RAM image, boot arguments, snapshot at the first /finish ------------------
DIR="$MACHINE_DIR"; rm -rf "$DIR"; mkdir -p "$DIR"; STAGE_T=$(now); say "machine: booting to the first yield ($DIR)"
cp "$LINUX_BIN" "$DIR/image.bin"
truncate -s 64M "$DIR/image.bin"
cat "$INITRD" >> "$DIR/image.bin"
INITRD_SIZE=$(stat -c %s "$INITRD")
BOOTARGS="earlycon=sbi keep_bootcon console=hvc0 initrd=$INITRD_ADDR,$INITRD_SIZE rdinit=/init $BOOTARGS_EXTRA"
M_IN="$CACHE_IN/machine-$K_MACHINE"
cat > "$DIR/env.sh" <<EOF
# sourced inside the chroot: the emulator built in place, and this machine's files
eval \$(cd $EMU_IN && make -s --no-print-directory env)
MACHINE_IN=$M_IN
BOOT_ARGS=(--ram-image=$M_IN/image.bin --ram-length=$RAM_LENGTH --no-root-flash-drive
           --flash-drive=label:root,data_filename:$CACHE_IN/app-$K_APP/root.ext2 --no-bootargs
           --append-bootargs="$BOOTARGS")
EOF
echo "$CHROOT" > "$DIR/chroot"
in_chroot "exec bash -c '. $M_IN/env.sh && cartesi-machine.lua \"\${BOOT_ARGS[@]}\" --max-mcycle=20000000000 --assert-rolling-template --final-hash --store=$M_IN/snapshot'" > "$DIR/boot.log" 2>&1 || {
    tail -30 "$DIR/boot.log" >&2; say "the machine did not reach dapp.py's first /finish (log: $DIR/boot.log)"; exit 1; }
grep -q "Manual yield rx-accepted" "$DIR/boot.log" || { tail -30 "$DIR/boot.log" >&2; say "no rx-accepted yield"; exit 1; }
sed -n 's/^Cycles: //p' "$DIR/boot.log" | tail -1 > "$DIR/boot-mcycles"
say "machine: first /finish at mcycle $(cat "$DIR/boot-mcycles"); stored in $(($(now) - STAGE_T)) s"
touch "$DIR/.done"
# older stages (other keys) go: the cache holds one machine (~0.6 GB) and its parts. The
# stage directories never have anything mounted in them (only the chroot's /proc and /dev).
for old in "$CACHE"/*/; do
    old="${old%/}"
    case "$old" in
        */emu-$K_EMU | */linux-$K_LINUX | */cmio-$K_CMIO | */rootbase-$K_ROOTBASE | */initrd-$K_INITRD | \
        */app-$K_APP | */machine-$K_MACHINE | */kdebs-$KVER | */bench) ;;
        */emu-* | */linux-* | */cmio-* | */rootbase-* | */initrd-* | */app-* | */machine-*) rm -rf "$old" ;;
    esac
done
say "done in $(($(now) - T0)) s"
echo "$MACHINE_DIR"
