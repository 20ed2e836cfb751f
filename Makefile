# The two commands of the README's Quickstart (`make serve`, `make test`) and the checks.
# Each creates the virtualenv and installs Keyplane into it first when needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test check bench fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)  ## Start Keyplane on http://127.0.0.1:8000 (SQLite in ./.keyplane)
	$(BIN)/keyplane serve $(ARGS)

test: $(STAMP)  ## Every test, on SQLite and PostgreSQL, one pytest-xdist worker per core
	$(BIN)/python -m pytest -n auto $(ARGS)

check: $(STAMP)  ## ruff, mypy --strict, alembic check
	PATH="$(abspath $(BIN)):$$PATH" scripts/check

PEER_STAMP := $(VENV)/.peer-stamp

$(PEER_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,peer]'
	touch $(PEER_STAMP)

bench: $(PEER_STAMP)  ## The benchmarks in bench/, the peer included (prints figures; not a test)
	$(BIN)/python -m bench $(ARGS)

FUZZ_VENV := .venv-fuzz

$(FUZZ_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install --quiet 'schemathesis>=4.32,<5'
	touch $@

# schemathesis lives in a virtualenv of its own: its pytest plugin stays out of `make test`.
fuzz: $(STAMP) $(FUZZ_VENV)/.installed-stamp  ## schemathesis against a scratch server; any 5xx fails
	PATH="$(abspath $(BIN)):$$PATH" SCHEMATHESIS=$(abspath $(FUZZ_VENV))/bin/schemathesis scripts/fuzz $(ARGS)
