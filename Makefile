# One command to run, one to test. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint format bench contracts clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: the whole stack on this machine (embedded PostgreSQL and NATS unless SALESOPS_DATABASE_URL / SALESOPS_NATS_URL are set)
run: $(STAMP)
	$(BIN)/salesops up

## test: every test against real PostgreSQL and NATS JetStream (SALESOPS_TEST_*_URL, else Docker, else embedded)
test: $(STAMP) chromium
	$(BIN)/python -m pytest

# The dashboard's browser test drives Debian's Chromium; installed here only when missing.
.PHONY: chromium
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } \
	    || echo "make: could not install chromium; the dashboard's browser test will fail" >&2; \
	  else \
	    echo "make: /usr/bin/chromium is missing and cannot be installed here (not root or no apt-get);" \
	      "the dashboard's browser test will fail: run 'sudo apt-get install chromium'" >&2; \
	  fi; \
	fi

## lint: ruff and mypy --strict
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy salesops contracts services tests bench examples conftest.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: throughput and latency figures as JSON (not a test). Uses SALESOPS_BENCH_DATABASE_URL /
## SALESOPS_BENCH_NATS_URL (or the SALESOPS_TEST_* ones), else embedded servers.
bench: $(STAMP)
	$(BIN)/python -m bench.run

## contracts: regenerate the published JSON Schemas and AsyncAPI (commit them); refuses a breaking change without a new schema_version
contracts: $(STAMP)
	$(BIN)/salesops contracts export contracts/published

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache contracts-out bench-results
