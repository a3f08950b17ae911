# `make bench [EVENTS=1000000] [REPEAT=3] [STORE="dir s3://bucket/prefix"]`: backupd vs pg_dump/pg_restore on
# the same server. backupd runs with `-o PATH` and once per STORE (a BACKUPD_STORE value; `dir` is a fresh
# directory store; s3:// stores use BACKUPD_S3_ENDPOINT and AWS_*). `make bench-rgw` (mk/s3.mk) adds radosgw.
EVENTS ?= 1000000
REPEAT ?= 3
STORE  ?= dir
BENCH_RESULTS ?= bench/results/latest.json

.PHONY: bench
bench: install
	$(BIN)/python bench/run.py --events $(EVENTS) --repeat $(REPEAT) $(foreach s,$(STORE),--store $(s)) \
		--results $(BENCH_RESULTS)
	$(BIN)/python bench/reuse.py --events $(EVENTS) --repeat $(REPEAT) --results $(REUSE_RESULTS)

# `make bench-reuse [EVENTS=1000000] [REPEAT=3]`: change-proportional backups (docs/change-proportional-backups.md)
# beside `pg_dump -Fd -j2 -Z1` in one run: a full backup, an unchanged database, one day of the application's
# activity, the worst case; seconds, server CPU seconds and peak RSS. `make bench` runs it after bench/run.py.
REUSE_RESULTS ?= bench/results/reuse-latest.json

.PHONY: bench-reuse
bench-reuse: install
	$(BIN)/python bench/reuse.py --events $(EVENTS) --repeat $(REPEAT) --results $(REUSE_RESULTS)
