# `make test-schemathesis`: does /openapi.json tell the truth? schemathesis (`st run --checks all`, fixed seed
# and example count, about a minute) against a real `backupd serve` on a throwaway database created on
# $(BACKUPD_TEST_DATABASE_URL), else $(PG15_URL) (an embedded PostgreSQL when that server does not answer),
# and dropped afterwards.
# Any finding fails `make test`. Options: ST_SEED=…, ST_EXAMPLES=…, ST_ARGS='-- <more st run options>'.
ST_SEED     ?= 20260131
ST_EXAMPLES ?= 30

.PHONY: test-schemathesis
test-schemathesis: install
	$(BIN)/python tests/support/schemathesis_run.py --server-url '$(or $(BACKUPD_TEST_DATABASE_URL),$(PG15_URL))' --seed $(ST_SEED) --max-examples $(ST_EXAMPLES) $(ST_ARGS)

test: test-schemathesis
