# provisioner: every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all run test lint typecheck unit bench clean fmt system-deps lock lock-upgrade

all: test

# Installs come from the lock files, every version pinned and every file hashed, so a new release
# of a dependency cannot change a fresh clone. requirements-dev.lock (runtime + dev extra) is what
# .venv gets; requirements.lock (runtime only) is for deployments. After changing the dependencies
# in pyproject.toml run `make lock` (keeps the other pins) and commit both files; `make
# lock-upgrade` moves every pin to the newest release. Both resolve with uv (from the dev extra)
# against the package index, for any platform, Python 3.11 up.
PIP_VERSION := 26.3
LOCK     := requirements-dev.lock
RUN_LOCK := requirements.lock
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
  --generate-hashes --custom-compile-command 'make lock'

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

lock: $(STAMP)
	$(UV_COMPILE) --extra dev $(UPGRADE) -o $(LOCK)
	$(UV_COMPILE) --constraint $(LOCK) -o $(RUN_LOCK)

lock-upgrade: UPGRADE := --upgrade
lock-upgrade: lock

run: $(STAMP)
	ORACLE_PASSWORD=demo-oracle-pw HR_PASSWORD=demo-hr-pw BILLING_PASSWORD=demo-billing-pw \
	  $(BIN)/provisioner apply configs/example.yaml --emulator --no-progress --log-level warning

lint: $(STAMP)
	$(BIN)/ruff format --check provisioner tests bench
	$(BIN)/ruff check provisioner tests bench

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Real services for the tests (PostgreSQL, a Pushgateway, promtool), from Debian's packages.
# The tests start and stop their own throwaway servers; this only installs the programs.
DEBS := postgresql prometheus prometheus-pushgateway
system-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v promtool >/dev/null \
	    && command -v prometheus-pushgateway >/dev/null; then :; else \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $(DEBS); fi

unit: $(STAMP) system-deps
	$(BIN)/pytest -q -p no:cacheprovider --cov=provisioner --cov-branch \
	  --cov-report=term:skip-covered --cov-fail-under=95

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

fmt: $(STAMP)
	$(BIN)/ruff format provisioner tests bench
	$(BIN)/ruff check --fix provisioner tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
