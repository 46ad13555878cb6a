# The two commands a new user types: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install dev clean

$(VENV)/.installed-runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed-runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Local rollup host + dapp.py together, no Docker, no chain. Ctrl-C stops both.
run: $(VENV)/.installed-runtime
	$(PY) -m rollup_host up

install: $(VENV)/.installed-runtime
dev: $(VENV)/.installed-dev

# The L1 round-trip test needs npm packages; without npm it skips with a message.
NPM := $(shell command -v npm 2>/dev/null)

test: $(VENV)/.installed-dev $(VENV)/.installed-notebook $(if $(NPM),l1-deps) page-deps
	$(PY) -m pytest -q tests

# The inner loop: the unit and property tests only (no HTTP loop, child process, chain,
# browser, machine, emulator or build; markers in pyproject.toml, one per test file).
# `make test` still runs everything.
FAST_TESTS := not integration and not l1 and not browser and not machine and not riscv and not slow
.PHONY: test-fast
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -q tests -m "$(FAST_TESTS)"

# The web page's browser test drives Debian's chromium (never a downloaded browser): installed
# with apt when missing and we are root; otherwise that one test skips and says why.
CHROMIUM ?= /usr/bin/chromium
.PHONY: page-deps
page-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium (apt) for the page's browser test"; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      --no-install-recommends chromium >/dev/null || echo "chromium could not be installed"; \
	  else echo "no $(CHROMIUM) and not root: the page's browser test will skip"; fi; fi

# Simulation.ipynb: JupyterLab on port 8888 (make notebook); every cell headless (make notebook-test).
$(VENV)/.installed-notebook: requirements-notebook.txt requirements.txt $(VENV)/.installed-dev
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-notebook.txt
	touch $@

notebook: $(VENV)/.installed-notebook
	$(PY) -m jupyter lab --port 8888 --port-retries 0 --allow-root Simulation.ipynb

notebook-test: $(VENV)/.installed-notebook
	$(PY) -m pytest -q tests/test_notebook.py

.PHONY: notebook notebook-test

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# Start `make run` over from nothing: the DApp's database and the chain the host keeps beside it.
.PHONY: reset
reset:
	rm -f db/dapp.sqlite db/dapp.sqlite-wal db/dapp.sqlite-shm db/dapp.sqlite.chain.jsonl

# Scale benchmarks against the per-query-sum baseline: bench/RESULTS.md, bench/results/.
# bench-quick: small sizes, under a minute (CI); bench: 25k / 100k / 1M streams (~25-30 min on 2 cores).
.PHONY: bench bench-quick
$(VENV)/.installed-bench: requirements-bench.txt requirements.txt $(VENV)/.installed-runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	touch $@

bench-quick: $(VENV)/.installed-bench
	$(PY) -m bench --quick

bench: $(VENV)/.installed-bench
	$(PY) -m bench

# Coverage-guided fuzzing of the payload decoders and the router (atheris); not in CI.
# FUZZ_TIME seconds (default 60); FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS=-jobs=2.
FUZZ_TIME ?= 60
.PHONY: fuzz
$(VENV)/.installed-fuzz: requirements-fuzz.txt $(VENV)/.installed-dev
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-fuzz.txt
	touch $@

fuzz: $(VENV)/.installed-fuzz
	$(PY) fuzz/fuzz_decoders.py -max_total_time=$(FUZZ_TIME) -print_final_stats=1 $(FUZZ_ARGS)

include Makefile.l1

# The web page (issue 28). `make web` bundles web/main.js with the pinned esbuild into
# build/web/ (nothing generated is committed); `make app` starts the whole local stack
# behind it (anvil + contracts, host serving the page, dapp.py, bridge): Ctrl-C stops all.
# `make run` needs neither target, nor Node.js.
.PHONY: web app
web: l1-deps
	node_modules/.bin/esbuild web/main.js --bundle --format=esm --minify --sourcemap \
		--outfile=build/web/app.js --log-level=warning
	cp web/index.html web/style.css build/web/

app: $(VENV)/.installed-runtime l1-deps web
	$(PY) -m l1.app

# The page's costs in chromium (load to first balance, a frame with 1,000 streams against a
# page that recomputes every stream): a table, and bench/results/page.json.
.PHONY: bench-page
bench-page: $(VENV)/.installed-dev l1-deps page-deps
	$(PY) -m bench.page

# The Cartesi machine's riscv64 Python 3.13, emulated (qemu-user, Debian trixie; cached in .riscv/):
# suite, README round trip and a recorded log native vs emulated. Needs root the first time.
# bench-riscv: the HTTP loop with dapp.py emulated beside native, hub at 100,000 streams (~2 min).
.PHONY: riscv-test bench-riscv
riscv-test: $(VENV)/.installed-dev
	bash riscv/test.sh $(PY)

bench-riscv: $(VENV)/.installed-bench
	$(PY) -m bench --riscv
include Makefile.machine
