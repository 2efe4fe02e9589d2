# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck unit js install install-dev constraints clean bench bench-quick bench-ws bench-dashboard wrk

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml or the pinned versions change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(VENV)/.installed $@

## Pin the newest versions that pyproject.toml allows (then run `make test` before committing).
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,2p' constraints.txt; .venv-constraints/bin/pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf .venv-constraints

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Serve cellmon at http://127.0.0.1:8000 (CELLMON_HOST / CELLMON_PORT / CELLMON_DATA_DIR).
run: install
	$(BIN)/cellmon db upgrade
	$(BIN)/cellmon serve

## Lint, type-check and run the whole test suite.
test: lint typecheck unit js

lint: install-dev
	$(BIN)/ruff check cellmon tests bench
	$(BIN)/ruff format --check cellmon tests bench

typecheck: install-dev
	$(BIN)/mypy cellmon

## The dashboard's rules (cellmon/dashboard/static/rules.js) in Node's built-in test runner.
js:
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' 2>/dev/null || \
		{ echo "make test needs Node.js 18 or later for the dashboard's tests (node --test): install it, e.g. apt-get install nodejs" >&2; exit 1; }
	node --test tests/dashboard/js/*.test.mjs

# In parallel (pytest-xdist), each worker on databases of its own; under Tokyo's time, so
# that a time read without its zone shows. TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 4
unit: install-dev
	TZ=Asia/Tokyo $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

## Benchmarks beside bare FastAPI baselines, in the same run; figures go to docs/benchmarks.md.
## Starts PostgreSQL, Redis and InfluxDB (scripts/services.sh up); about 8 minutes.
bench: install-dev wrk
	ulimit -n "$$(ulimit -Hn)" && $(BIN)/python -m bench all

## A short run of both benchmarks, for development (figures still written to the doc).
bench-quick: install-dev wrk
	ulimit -n "$$(ulimit -Hn)" && $(BIN)/python -m bench all --quick

## The WebSocket benchmark alone (issue 4).
bench-ws: install-dev wrk
	ulimit -n "$$(ulimit -Hn)" && $(BIN)/python -m bench ws

## The dashboard in headless Chromium under a lecture hall's load (issue 11); about 3 minutes.
bench-dashboard: install-dev
	$(BIN)/python -m bench dashboard

wrk:
	@command -v wrk >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts
