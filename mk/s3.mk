# Ceph radosgw as a real S3 endpoint (not part of `make test`: CI does not need Ceph).
#   make rgw-start       single-node Ceph + radosgw at $(RGW_ENDPOINT), state in $(RGW_DIR) (installs the
#                        Debian packages when missing; needs root for that)
#   make rgw-stop        stops the daemons rgw-start started (state is kept; rm -rf $(RGW_DIR) to forget it)
#   make test-s3-rgw     the store tests against radosgw instead of moto_server (one bucket per test)
#   make bench-rgw       `make bench` (EVENTS, REPEAT) with backupd writing to / restoring from the directory
#                        store and radosgw side by side; results in $(RGW_BENCH_RESULTS)
# radosgw keeps running after these targets, like the embedded PostgreSQL; `make rgw-stop` ends it.
RGW_DIR      ?= /tmp/backupd-rgw
RGW_PORT     ?= 7480
RGW_ENDPOINT := http://127.0.0.1:$(RGW_PORT)
RGW_BUCKET   ?= backupd-bench
RGW_ENV      := AWS_ACCESS_KEY_ID=rgwtest AWS_SECRET_ACCESS_KEY=rgwtestsecret AWS_REGION=us-east-1
RGW_PACKAGES := radosgw ceph-mon ceph-osd uuid-runtime curl
STORE_TESTS  ?= tests/store/test_store.py tests/store/test_store_cli.py tests/store/test_replicas.py
RGW_BENCH_RESULTS ?= bench/results/stores.json

.PHONY: rgw-packages rgw-start rgw-stop rgw-status test-s3-rgw bench-rgw

rgw-packages:
	@missing=""; for tool in radosgw ceph-mon ceph-osd uuidgen curl; do \
		command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "rgw: missing$$missing; run as root, or: sudo apt-get install -y --no-install-recommends $(RGW_PACKAGES)" >&2; \
			exit 1; fi; \
		echo "rgw: installing $(RGW_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(RGW_PACKAGES) >/dev/null; \
	fi

rgw-start: rgw-packages
	@bash bench/rgw.sh start $(RGW_DIR) $(RGW_PORT)

rgw-stop:
	@bash bench/rgw.sh stop $(RGW_DIR)

rgw-status:
	@bash bench/rgw.sh status $(RGW_DIR)

test-s3-rgw: install rgw-start
	BACKUPD_TEST_S3_ENDPOINT=$(RGW_ENDPOINT) $(RGW_ENV) \
		$(BIN)/pytest -q --basetemp="$$(mktemp -d /tmp/backupd-pytest.XXXXXX)" $(STORE_TESTS)

bench-rgw: install rgw-start
	@$(RGW_ENV) $(BIN)/python -c "import botocore.session as s; c = s.get_session().create_client('s3', endpoint_url='$(RGW_ENDPOINT)'); \
		'$(RGW_BUCKET)' in [b['Name'] for b in c.list_buckets()['Buckets']] or c.create_bucket(Bucket='$(RGW_BUCKET)')"
	$(RGW_ENV) BACKUPD_S3_ENDPOINT=$(RGW_ENDPOINT) $(MAKE) --no-print-directory bench \
		STORE="dir s3://$(RGW_BUCKET)/bench" BENCH_RESULTS=$(RGW_BENCH_RESULTS)
