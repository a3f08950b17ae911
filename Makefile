# backupd — `make run` starts the service on an embedded PostgreSQL; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint test-python test-pg15 ensure-age clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("backupd needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

# On the embedded database (no URL configured) the demo application's tables are created first, so a
# new user can try backups at once; beside a real application `serve` never creates them.
run: install
	@if [ -z "$$BACKUPD_DATABASE_URL$$DATABASE_URL" ]; then $(BIN)/backupd migrate --app-schema; fi
	$(BIN)/backupd serve

# Python tests on the embedded PostgreSQL 18 (with the cross-version round trips, which also use
# $(PG15_URL) when it answers), then again on $(PG15_URL), the oldest supported major version, when it
# answers; the second run skips the tests that start servers of their own (the first run did them).
PG15_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

# Each run gets a private --basetemp: pytest's shared /tmp/pytest-of-$USER is pruned by other runs,
# which would pull the embedded server's data directory from under it.
# The `age` tool is what the encryption interoperability tests compare with (Debian package `age`).
ensure-age:
	@command -v age >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "== installing the age tool (Debian package age)"; \
			(apt-get install -y -qq age >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq age >/dev/null 2>&1)) \
			|| echo "== could not install age: its interoperability tests will be skipped"; \
		else echo "== age is not installed and cannot be installed here: its interoperability tests will be skipped"; fi; }

test-python: install ensure-age
	BACKUPD_TEST_PG15_URL='$(PG15_URL)' $(BIN)/pytest -q --basetemp="$$(mktemp -d /tmp/backupd-pytest.XXXXXX)"

test-pg15: install ensure-age
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG15_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== tests against $(PG15_URL)"; \
		BACKUPD_TEST_DATABASE_URL='$(PG15_URL)' $(BIN)/pytest -q --basetemp="$$(mktemp -d /tmp/backupd-pytest.XXXXXX)" \
			--ignore=tests/db/test_embedded.py --ignore=tests/db/test_versions.py; \
	else echo "== $(PG15_URL) does not answer: skipping the second PostgreSQL run"; fi

# Lint (ruff: rules, import order, format) and types (mypy --strict on backupd/) before any test runs.
lint: install
	$(BIN)/ruff check backupd tests bench
	$(BIN)/ruff format --check backupd tests bench
	$(BIN)/mypy

test: lint test-python test-pg15

clean:
	rm -rf $(VENV) .pytest_cache

-include mk/*.mk
