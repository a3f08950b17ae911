# `make bench [EVENTS=1000000] [REPEAT=3]`: backupd vs pg_dump/pg_restore on the same server.
EVENTS ?= 1000000
REPEAT ?= 3

.PHONY: bench
bench: install
	$(BIN)/python bench/run.py --events $(EVENTS) --repeat $(REPEAT)
