# garmaxctl — the two commands a new user runs: `make demo` and `make test`.
# Each sets up what is missing or out of date (virtualenv, Python and npm dependencies),
# keyed on the dependency files, so a second run installs nothing.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
NPM_STAMP := node_modules/.stamp-$(shell cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,19,20,21
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: setup demo test lint bench clean help

help:
	@echo "make demo   set up, start the LOCAL emulator, run the main job end to end, stop"
	@echo "make test   set up, run the whole test suite"
	@echo "make lint   ruff + mypy"
	@echo "make bench  benchmarks (figures and ratios)"
	@echo "make clean  remove the virtualenv, node_modules and local state"

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.stamp-*
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	@command -v node >/dev/null || { echo "Node.js is required (the CDK CLI runs on it)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.stamp-*
	@touch $@

demo: setup
	@$(SHELL) scripts/demo.sh

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check garmaxctl runtime infra tests benchmarks
	$(BIN)/mypy garmaxctl

bench: setup
	$(BIN)/python -m benchmarks

clean:
	-$(BIN)/garmaxctl local down 2>/dev/null
	rm -rf $(VENV) node_modules .garmax cdk.out
