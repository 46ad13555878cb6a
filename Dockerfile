# syntax=docker.io/docker/dockerfile:1
#
# Streamable Token DApp: the Cartesi machine's root filesystem (Rollups v2).
# Shaped after the Cartesi CLI's Python template (`cartesi create --template python`):
# a linux/riscv64 cartesi/python image, the machine guest tools (.deb, checksummed),
# PATH with /opt/cartesi/bin, ENTRYPOINT rollup-init, CMD python3 dapp.py.
#
# Stages:
#   dev      amd64 Python for local development (docker-compose.yml: the DApp and the
#            local rollup host in two containers). `docker build --target dev .`
#   wheels   riscv64: builds wheels for requirements.txt; pycryptodome is the one
#            dependency without a riscv64 wheel on PyPI, so it compiles here.
#   machine  (last, the default target) riscv64: what `cartesi build` turns into the
#            machine's root drive.
#
# The SQLite database lives on the machine's writable data drive, mounted at /mnt/data
# (`[drives.data] builder = "empty"` in cartesi.toml; see README "Packaging"). Without
# that drive the folder is on the root drive, which is writable too.
#
# This repository's CI has no Docker daemon: the file is linted (hadolint) and checked by
# tests/test_packaging.py (every COPY source exists, the commands exist), not built.

ARG PYTHON_RISCV64_IMAGE=cartesi/python:3.13.2-slim-noble
# Packages from the Ubuntu archive as they were on this date, whenever the image is built.
ARG APT_UPDATE_SNAPSHOT=20250408T030400Z

################################################################################
# dev: amd64, for docker compose (not part of the Cartesi machine)
FROM python:3.11-slim AS dev

WORKDIR /opt/cartesi/dapp
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY dapp.py ./
COPY db ./db
COPY streamable_token ./streamable_token
COPY rollup_host ./rollup_host
# The host's node JSON-RPC encodes outputs and builds their Merkle tree with the same
# pure modules the L1 bridge uses.
COPY l1/__init__.py l1/codec.py l1/merkle.py ./l1/

ENV PYTHONUNBUFFERED=1 \
    ROLLUP_HTTP_SERVER_URL="http://rollup-host:5004" \
    DAPP_DB=/var/lib/streamable-token/dapp.sqlite
CMD ["python3", "dapp.py"]

################################################################################
# riscv64 base: the template's Python image, apt pinned to a snapshot. The platform is
# part of the Cartesi contract (the machine is RISC-V), hence --platform (DL3029).
# hadolint ignore=DL3029
FROM --platform=linux/riscv64 ${PYTHON_RISCV64_IMAGE} AS riscv64-base

ARG APT_UPDATE_SNAPSHOT
ARG DEBIAN_FRONTEND=noninteractive
# The apt lists stay for the two stages below (DL3009); the machine stage deletes them.
# hadolint ignore=DL3008,DL3009
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && apt-get update --snapshot="${APT_UPDATE_SNAPSHOT}"

################################################################################
# wheels: every requirement as a riscv64 wheel (pycryptodome compiled from source)
FROM riscv64-base AS wheels

ARG DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get install -y --no-install-recommends build-essential
COPY requirements.txt /tmp/requirements.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /tmp/requirements.txt

################################################################################
# machine: the Cartesi machine's root filesystem (default target)
FROM riscv64-base AS machine

ARG DEBIAN_FRONTEND=noninteractive
ARG MACHINE_GUEST_TOOLS_VERSION=0.17.0
ARG MACHINE_GUEST_TOOLS_SHA512=973943b3a3e40164175da7d7b5b7857642d1277e1fd38be268da12daca5ff458735f93a7ac25b350b3de58b073a25b64c860d9eb92157bfc946b03dd1a345cc9
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN curl -fsSL -o /tmp/machine-guest-tools_riscv64.deb \
      "https://github.com/cartesi/machine-guest-tools/releases/download/v${MACHINE_GUEST_TOOLS_VERSION}/machine-guest-tools_riscv64.deb" \
 && echo "${MACHINE_GUEST_TOOLS_SHA512}  /tmp/machine-guest-tools_riscv64.deb" | sha512sum -c - \
 && apt-get install -y --no-install-recommends busybox-static /tmp/machine-guest-tools_riscv64.deb \
 && rm -f /tmp/machine-guest-tools_riscv64.deb \
 && rm -rf /var/lib/apt/lists/* /var/log/* /var/cache/*

ENV PATH="/opt/cartesi/bin:${PATH}"

WORKDIR /opt/cartesi/dapp
COPY requirements.txt ./
# Offline install from the wheels stage; drop bytecode caches so every build of the
# machine has the same files (and so the same machine hash).
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels -r requirements.txt \
 && find /usr/local/lib -type d -name __pycache__ -exec rm -r {} +

COPY dapp.py ./
COPY db ./db
COPY streamable_token ./streamable_token

# ERC20Portal: empty means the Rollups v2 default (contracts 2.0.x); set it with
# `--build-arg PORTAL_ADDRESS=0x...` for contracts that deploy elsewhere.
ARG PORTAL_ADDRESS=""
RUN mkdir -p /mnt/data
ENV PYTHONDONTWRITEBYTECODE=1 \
    ROLLUP_HTTP_SERVER_URL="http://127.0.0.1:5004" \
    ROLLUPS_VERSION=v2 \
    PORTAL_ADDRESS=${PORTAL_ADDRESS} \
    DAPP_DB=/mnt/data/dapp.sqlite

ENTRYPOINT ["rollup-init"]
CMD ["python3", "dapp.py"]
