# The web UI (frontend/, TypeScript + React + Vite). Included by the top-level Makefile.
#
#   make ui             npm ci (when needed) and build the page into backupd/web/ (committed, so that
#                       `make run` serves it with no Node.js on the machine)
#   make openapi-types  regenerate frontend/src/types/openapi.gen.ts (committed) from the app's OpenAPI
#                       document (needs the venv, no server or database)
#   make test-frontend  type check (tsc --noEmit, which includes src/types/openapi.typetest.ts: the
#                       page's types are the OpenAPI document's), lint (Biome: biome.jsonc), vitest, a
#                       check that openapi.gen.ts is generated from the current document and that
#                       backupd/web/ is the build of the sources, then the end-to-end test (real
#                       `backupd serve` + PostgreSQL + headless Chromium)
#
# Node.js 20.19+ and npm are required for both; without them the targets fail, they do not skip.

FRONTEND     := frontend
NPM          ?= npm
NODE         ?= node
WEB_DIR      := backupd/web
NPM_STAMP    := $(FRONTEND)/node_modules/.backupd-npm-ci
BACKUPD_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: ui test-frontend test-frontend-unit test-frontend-lint test-frontend-e2e check-ui frontend-node \
	openapi-types check-openapi-types

frontend-node:
	@command -v $(NODE) >/dev/null 2>&1 || { echo "frontend: '$(NODE)' not found: install Node.js 20.19+ (and npm) to build or test the web UI" >&2; exit 1; }
	@command -v $(NPM) >/dev/null 2>&1 || { echo "frontend: '$(NPM)' not found: install npm to build or test the web UI" >&2; exit 1; }
	@$(NODE) -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("frontend: Node.js " + process.versions.node + " is too old: Vite needs 20.19+ or 22.12+"); process.exit(1); }'

# npm ci again whenever package.json or the lock file changes (or node_modules is missing).
$(NPM_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json | frontend-node
	cd $(FRONTEND) && $(NPM) ci --no-audit --no-fund
	@touch $@

ui: $(NPM_STAMP)
	cd $(FRONTEND) && $(NPM) run --silent build

# The committed bundle must be what the sources build to (Vite's output is deterministic).
check-ui: $(NPM_STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	( cd $(FRONTEND) && ./node_modules/.bin/vite build --outDir "$$tmp/web" --emptyOutDir --logLevel warn ) && \
	if diff -r "$$tmp/web" $(WEB_DIR) >/dev/null 2>&1; then echo "== $(WEB_DIR) is up to date"; \
	else echo "frontend: $(WEB_DIR) is not the build of frontend/src: run 'make ui' and commit $(WEB_DIR)" >&2; \
	     diff -rq "$$tmp/web" $(WEB_DIR) >&2 || true; exit 1; fi

# The TypeScript of the OpenAPI document (scripts/openapi-types.mjs; openapi-typescript). Committed, so
# that type checking and `make ui` need no Python; check-openapi-types fails when the API changed
# without it (then: make openapi-types, and fix src/types/backup.ts where the type test says so).
openapi-types: $(NPM_STAMP) install
	cd $(FRONTEND) && $(NODE) scripts/openapi-types.mjs

check-openapi-types: $(NPM_STAMP) install
	@cd $(FRONTEND) && $(NODE) scripts/openapi-types.mjs --check

# Type check and lint (no warnings allowed), then vitest.
test-frontend-lint: $(NPM_STAMP)
	cd $(FRONTEND) && $(NPM) run --silent typecheck
	cd $(FRONTEND) && $(NPM) run --silent lint

test-frontend-unit: test-frontend-lint
	cd $(FRONTEND) && $(NPM) test --silent

test-frontend-e2e: $(NPM_STAMP) install
	$(FRONTEND)/scripts/ensure-chromium.sh
	cd $(FRONTEND) && BACKUPD_TEST_DATABASE_URL='$(BACKUPD_TEST_DATABASE_URL)' $(NODE) e2e/backup.e2e.mjs

test-frontend: install
	@$(MAKE) --no-print-directory check-openapi-types
	@$(MAKE) --no-print-directory test-frontend-unit
	@$(MAKE) --no-print-directory check-ui
	@$(MAKE) --no-print-directory test-frontend-e2e

test: test-frontend
