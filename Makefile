# provisioner: every target creates .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all run test lint typecheck unit bench clean fmt system-deps

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

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
