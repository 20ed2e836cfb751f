# The two commands of the README's Quickstart (`make serve`, `make test`) and the checks.
# Each creates the virtualenv and installs Keyplane into it first when needed.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: serve test check bench fuzz lock screenshots

# Installs come from the lock files in requirements/ (pip-tools, every file hashed), so a fresh
# clone gets the same versions whatever the registries released since. `make lock` refreshes
# them on purpose. Serving needs only requirements/serve.txt; the checks and tests add dev.txt.
SERVE_STAMP := $(VENV)/.serve-stamp
LOCKED := $(BIN)/python -m pip install --quiet --require-hashes --no-deps

# The Python client (clients/python, its own distribution, whose dependencies serve.txt holds)
# goes in beside the server: the `keyplane` command's remote commands (`keys`, `login`, ...)
# act through it, and the tests drive a live server with it. No index serves it, so it is
# installed from its folder, never named as a dependency a registry could answer for.
$(SERVE_STAMP): requirements/build.txt requirements/serve.txt pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(LOCKED) -r requirements/build.txt
	$(LOCKED) -r requirements/serve.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e clients/python
	touch $(SERVE_STAMP)

$(STAMP): $(SERVE_STAMP) requirements/dev.txt
	$(LOCKED) -r requirements/dev.txt
	touch $(STAMP)

serve: $(SERVE_STAMP)  ## Start Keyplane on http://127.0.0.1:8000 (SQLite in ./.keyplane)
	$(BIN)/keyplane serve $(ARGS)

# `--cov` measures keyplane/ as [tool.coverage.*] in pyproject.toml says: it prints the files not
# fully covered and fails under its floor (fail_under). ARGS="--no-cov" for a subset of tests.
# `--dist loadgroup`: tests are dealt to the workers one by one as they free up, except those
# marked `xdist_group`, which one worker runs together (modules whose live servers start once
# per module: dealt apart, each worker would start its own).
test: $(STAMP)  ## Every test, on SQLite and PostgreSQL, one pytest-xdist worker per core, with coverage
	$(BIN)/python -m pytest -n auto --dist loadgroup --cov $(ARGS)

screenshots: $(STAMP)  ## Retake the README's console screenshots into docs/ (a browser test, on SQLite)
	KEYPLANE_SCREENSHOTS=$(abspath docs) $(BIN)/python -m pytest --no-cov -p no:randomly -n 0 \
		"tests/console/test_browser.py::test_the_readmes_screenshots[sqlite]"

check: $(STAMP)  ## ruff, mypy --strict, alembic check
	PATH="$(abspath $(BIN)):$$PATH" scripts/check

PEER_STAMP := $(VENV)/.peer-stamp

$(PEER_STAMP): $(STAMP) requirements/bench.txt
	$(LOCKED) -r requirements/bench.txt
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

LOCK_VENV := .venv-lock
COMPILE := $(LOCK_VENV)/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links

# Takes the newest releases pyproject.toml allows; review the diff of requirements/ and commit it.
lock:  ## Refresh the lock files in requirements/ from pyproject.toml (on purpose, never by accident)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet 'pip-tools==7.7.0'
	cd requirements && ../$(COMPILE) -o build.txt build.in
	cd requirements && ../$(COMPILE) -o serve.txt ../pyproject.toml
	cd requirements && ../$(COMPILE) --extra dev -o dev.txt ../pyproject.toml
	cd requirements && ../$(COMPILE) --extra dev --extra peer -o bench.txt ../pyproject.toml
