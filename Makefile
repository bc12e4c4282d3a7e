# Ganpin — 赣品溯源. `make run` and `make test` are all a new machine needs.
GO    ?= go
# The race detector needs cgo; use it wherever a C compiler is present.
RACE  ?= $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v gcc >/dev/null && echo -race)
BENCH ?= .

.PHONY: run test build bench fuzz lint

run:
	$(GO) run ./cmd/ganpin serve --demo --data ./var

build:
	$(GO) build -o bin/ganpin ./cmd/ganpin

test:
	@if [ -z "$$GANPIN_TEST_DATABASE_URL" ]; then \
		echo "NOTE: GANPIN_TEST_DATABASE_URL is not set: the PostgreSQL suite is SKIPPED (SQLite only)."; \
		echo "      Run it with GANPIN_TEST_DATABASE_URL=postgres://user@127.0.0.1:5432/db make test"; fi
	$(GO) vet ./...
	$(GO) test $(RACE) -count=1 ./...

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)

# Benchmarks; see docs/benchmarks.md for the figures and the database they need.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 3s ./...

# A short run of every fuzz target.
FUZZ_PKGS = ./trace ./api ./internal/anchor ./internal/telemetry ./internal/epcis
fuzz:
	@for p in $(FUZZ_PKGS); do for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 20s $$p || exit 1; done; done
