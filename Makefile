# Two commands set everything up: `make run` and `make test`. Without DATABASE_URL both start a
# private PostgreSQL under .data/ (scripts/pg.sh); with it they use that database.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := bin/wazapin

.PHONY: run test build bench generate check-generate lint fmt fuzz pg-stop clean

# -buildvcs=auto records the commit for `wazapin version`, even where GOFLAGS turns it off.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/wazapin

run: build
	@scripts/run.sh $(BIN)

# After every test, the store's tests again on a schema whose workspace tables are
# hash-partitioned by workspace_id (internal/testdb; docs/SCALING.md, "Distributing by
# workspace"): of internal/server's tests, one or two of what the store keeps and answers for
# each resource, the two that run every write, and those that check one workspace never sees
# another's. Left out, to keep the step under a minute: tests of HTTP parsing, limits, logs,
# metrics and timeouts, which reach no table; the long import runs (100k lines, property tests)
# and the merge races, minutes for statements the tests here run too; and the second test of a
# resource where a first covers its statements.
PARTITIONED_TESTS := EveryWriteCommitsWithWhatJoinsIt EveryChangeRecordsItsEvent \
  CreateContact PatchContact UpsertMatchesAndUpdates ConcurrentUpsertsConvergeOnOneContact \
  DeleteContactRemovesEverythingAttached Identities Resolve Reachability ListFilters \
  SearchPagesThroughItsMatchesOnce Notes Tags Consent Suppressions Import MergeAndUndo \
  WritesToAMergedContact FeedResumedFromACursorMissesNothing WebhookDeliveriesAreSignedEvents ChannelCRUD \
  ChannelBoundIsKeptInTheDatabase APIKeys IdempotencyKeyReplaysTheAnswer IdempotencyKeysArePerWorkspace \
  OtherWorkspacesContactsAreNotFound ImportStaysInItsWorkspace AnotherWorkspacesEndpointGetsNothing
empty :=
space := $(empty) $(empty)

# Without DATABASE_URL the private cluster gets a streaming standby too, for the replica tests
# (WAZAPIN_TEST_REPLICA_URL; they skip without one).
test:
	@url="$${DATABASE_URL:-}"; replica="$${WAZAPIN_TEST_REPLICA_URL:-}"; \
	if [ -z "$$url" ]; then url=$$(scripts/pg.sh start .data/pg-test fast); \
	  replica=$$(scripts/pg.sh standby .data/pg-test-replica .data/pg-test fast); fi; \
	DATABASE_URL="$$url" WAZAPIN_TEST_REPLICA_URL="$$replica" $(GO) test -count=1 ./...; \
	echo "again on the partitioned schema:"; \
	DATABASE_URL="$$url" WAZAPIN_TEST_PARTITIONED=1 $(GO) test -count=1 \
	  -run '^Test($(subst $(space),|,$(strip $(PARTITIONED_TESTS))))$$' ./internal/server/

# The API against pgbench on the same SQL, side by side; writes docs/BENCHMARKS.md. Settings:
# BENCH_CONTACTS (1000000), BENCH_SECONDS (10), BENCH_CONCURRENCY (16), BENCH_IMPORT (100000).
bench: build
	$(GO) build -o bin/bench ./bench
	bin/bench

# db first: db/rivergen writes River's migrations into db/migrations, which sqlc reads.
generate:
	$(GO) generate ./db/... ./gen/...
	@cd clients/typescript && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --ignore-scripts --no-audit --no-fund; fi
	cd clients/typescript && npm run --silent generate

# CI regenerates and fails when the committed generated code differs.
check-generate: generate
	@if [ -n "$$(git status --porcelain -- gen/ db/migrations/ clients/typescript/src/schema.ts)" ]; then \
	  git status --short -- gen/ db/migrations/ clients/typescript/src/schema.ts; git diff --stat -- gen/ db/migrations/ clients/typescript/src/schema.ts; \
	  echo "generated code is stale: run make generate and commit"; exit 1; fi

# The /docs renderer, a pinned npm package checked against its published sha512 (scripts/docs-asset.sh):
# docs-asset fetches it into internal/docs/assets; CI re-fetches and fails when the committed copy differs.
.PHONY: docs-asset check-docs-asset
docs-asset:
	scripts/docs-asset.sh

check-docs-asset:
	scripts/docs-asset.sh --check

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@# openapi.yaml through Redocly CLI and Spectral, pinned in scripts/openapi-lint (npm ci on first use; no telemetry).
	@cd scripts/openapi-lint && if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --ignore-scripts --no-audit --no-fund; fi
	cd scripts/openapi-lint && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	  node_modules/.bin/redocly lint --config redocly.yaml ../../openapi.yaml
	cd scripts/openapi-lint && node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn ../../openapi.yaml

fmt:
	gofmt -w $$(git ls-files '*.go')

# Runs each fuzz target for FUZZTIME (default 20s); seeds stay in testdata/.
FUZZTIME ?= 20s
fuzz:
	@for pkg in ./internal/identity ./internal/replica ./internal/ids ./internal/cursor ./internal/apikey ./internal/resolve ./internal/obs ./internal/server; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

pg-stop:
	scripts/pg.sh stop .data/pg
	scripts/pg.sh stop .data/pg-test-replica
	scripts/pg.sh stop .data/pg-test
	scripts/pg.sh stop .data/pg-bench

clean: pg-stop
	rm -rf .data bin
