# The two commands a new user types: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test install dev clean

include Makefile.l1

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

test: $(VENV)/.installed-dev l1-deps
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
