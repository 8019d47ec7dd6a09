# One command to run, one to test. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint format bench soak contracts clean

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
test: $(STAMP) tools
	$(BIN)/python -m pytest

# Tools some tests drive, from Debian, installed here only when missing: Chromium for the
# browser tests, a CJK font so their screenshots show Chinese, promtool for the alert rules.
.PHONY: tools chromium
tools:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing \
	    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; } \
	    || echo "make: could not install$$missing; the tests that need them will fail" >&2; \
	  else \
	    echo "make: missing$$missing and cannot install them here (not root or no apt-get):" \
	      "run 'sudo apt-get install$$missing'; the tests that need them will fail" >&2; \
	  fi; \
	fi
chromium: tools

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

## soak: ten minutes of mixed traffic on all five services (MINUTES=, RATE= to change);
## a table per service over time and a verdict (errors, memory, lag), JSON in bench-results/
MINUTES ?= 10
RATE ?= 100
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes $(MINUTES) --rate $(RATE)

## contracts: regenerate the published JSON Schemas and AsyncAPI (commit them); refuses a breaking change without a new schema_version
contracts: $(STAMP)
	$(BIN)/salesops contracts export contracts/published

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache contracts-out bench-results
