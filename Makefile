# Tollway: two commands for a newcomer, `make run` and `make test`.
GO ?= go
DATA ?= ./data

.PHONY: run test bench fmt vet build crash

build:
	$(GO) build ./...

run:
	$(GO) run ./cmd/tollway serve --data $(DATA)

# Everything CI runs: vet, then every test under the race detector.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

# Benchmarks of the engine and the log (see BENCHMARKS.md for the figures).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./wal/ ./engine/
	$(GO) run ./cmd/tollway bench --scenario embedded-charge

fmt:
	gofmt -w $$(git ls-files '*.go')
