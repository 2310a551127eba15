# Two commands matter: `make demo` and `make test`. Both set everything up from a fresh clone
# (Python 3.11, node/npm and make are all they need).
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# checkov (infrastructure scans) pins packages the test tools cannot share: its own venv.
INFRA_VENV ?= .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed

.PHONY: setup test test-infra test-fast demo run lint fmt bench clean browser

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip==25.3
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	# The Functions Python worker's own indexer checks function_app.py offline (tests only).
	# It declares Python >= 3.13 but its indexer runs on 3.11.
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --ignore-requires-python azure-functions-runtime==1.3.0
	# The `rpcopy` command line: .venv/bin/rpcopy (its dependencies came with requirements-dev.txt).
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(INFRA_STAMP): requirements-infra.txt Makefile
	$(PY) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install -q --disable-pip-version-check -U pip==25.3
	$(INFRA_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-infra.txt
	touch $@

setup: $(PY_STAMP) $(NODE_STAMP) $(INFRA_STAMP)

## make browser: Chromium and ChromeDriver from Debian for the status page test, where missing.
## A machine that cannot install them still runs the suite: that test then fails and says how.
RPCOPY_CHROMIUM ?= /usr/bin/chromium
RPCOPY_CHROMEDRIVER ?= /usr/bin/chromedriver
browser:
	@if [ -x "$(RPCOPY_CHROMIUM)" ] && [ -x "$(RPCOPY_CHROMEDRIVER)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends chromium chromium-driver) \
	  || echo "make browser: installing chromium chromium-driver failed" >&2; \
	else \
	  echo "make browser: no $(RPCOPY_CHROMIUM) or $(RPCOPY_CHROMEDRIVER); as root run: apt-get install" \
	    "-y --no-install-recommends chromium chromium-driver" >&2; \
	fi

## make test: the whole suite (unit, functions, emulator, devhost, integration)
test: setup browser
	RPCOPY_INFRA_VENV=$(INFRA_VENV) $(BIN)/python -m pytest

## make test-infra: the offline checks of infra/ (Bicep parsed, checkov, settings and role kept equal to the code)
test-infra: $(PY_STAMP) $(INFRA_STAMP)
	RPCOPY_INFRA_VENV=$(INFRA_VENV) $(BIN)/python -m pytest tests/infra

## make demo: Azurite + ARM emulator + local host; copies a restore point end to end
demo: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/python -m devstack demo

## make run: start the stack and keep it running (Ctrl-C stops everything)
run: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/python -m devstack run

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make bench: every benchmark; results land in benchmarks/results/
bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .pytest_cache .ruff_cache .stack
