# Tollway: two commands for a newcomer, `make run` and `make test`.
GO ?= go
DATA ?= ./data

.PHONY: run test probe bench bench-tool bench-http bench-baselines fmt vet build crash contracts console x402-demo

build:
	$(GO) build ./...

run:
	$(GO) build -o bin/tollway ./cmd/tollway
	./bin/tollway serve --data $(DATA)

# Everything CI runs: vet, then every test under the race detector, then
# the allocation budgets (allocs_budget_test.go), which -race skips: its
# instrumentation allocates. A few seconds.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -run AllocationBudget ./httpapi/ ./engine/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

# Hostile black-box probes against the built server (connection flood, slow
# bodies, stored-response spam, SIWE and login floods, racing creators, a
# corrupted log tail); needs prlimit(1), about a minute.
probe:
	$(GO) build -o bin/tollway ./cmd/tollway
	$(GO) run ./bench/probe -bin bin/tollway

# Benchmarks of the engine and the log; BENCHMARKS.md records their figures.
# The embedded ones run `tollway bench`'s embedded-charge scenario through
# its runner, one timed run each (-benchtime 1x).
bench:
	$(GO) test -run '^$$' -bench 'EmbeddedCharge' -benchtime 1x -embedded-duration 5s -v ./bench/
	$(GO) test -run '^$$' -bench 'RecoveryReplay|OpenAfterSnapshot' -benchtime 1x -v ./bench/
	$(GO) test -run '^$$' -bench Append -benchtime 3s ./wal/

# The HTTP API under load: an in-process server on 127.0.0.1 and the
# http-charge and http-batch scenarios of `tollway bench` through its
# runner, 10,000 consumer keys, 64 and 256 connections, batches.
bench-http:
	$(GO) test ./bench/ -run '^$$' -bench HTTPCharge -benchtime 1x -http-duration 5s -v

# The load benchmark's binary, beside the server's: `tollway bench` runs
# bin/tollway-bench (the server binary links none of the benchmark).
bench-tool:
	$(GO) build -o bin/ ./cmd/tollway ./cmd/tollway-bench

# The load benchmark (`tollway bench`): Tollway over HTTP and embedded, the
# no-op HTTP ceiling, Redis (appendfsync always and everysec) and PostgreSQL,
# in one run of interleaved repetitions. Installs the baselines if missing,
# stops every server it started (also on Ctrl-C), writes docs/benchmarks/
# (results.json, summary.md, plots) and rewrites BENCHMARKS.md's results.
BENCH_FLAGS ?= --connections 64,256 --duration 5s --warmup 1s --repetitions 3
bench-baselines:
	bash bench/install-baselines.sh
	$(GO) build -o bin/ ./cmd/tollway ./cmd/tollway-bench
	./bin/tollway bench --scenarios http-charge,http-batch,embedded-charge,hot-supplier,mixed,noop-http \
		--baselines redis,redis-everysec,postgres $(BENCH_FLAGS) --out docs/benchmarks --update BENCHMARKS.md

# The settlement contracts: installs the pinned solc and OpenZeppelin
# (chain/contracts/package-lock.json), compiles chain/contracts/src/ into
# build/*.abi and *.bin, and generates the Go bindings with abigen v2 at the
# go.mod version of go-ethereum. Run after editing a .sol file and commit the
# result; TestContractsAreCurrent checks it. Needs node and npm.
ABIGEN ?= $(GO) run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10
contracts:
	cd chain/contracts && npm ci --ignore-scripts --no-audit --no-fund && node build.mjs
	$(ABIGEN) --v2 --abi chain/contracts/build/TestUSDC.abi --bin chain/contracts/build/TestUSDC.bin \
		--pkg contracts --type TestUSDC --out chain/contracts/testusdc.go
	$(ABIGEN) --v2 --abi chain/contracts/build/SettlementPool.abi --bin chain/contracts/build/SettlementPool.bin \
		--pkg contracts --type SettlementPool --out chain/contracts/settlementpool.go
	$(ABIGEN) --v2 --abi chain/contracts/build/X402StateReader.abi --bin chain/contracts/build/X402StateReader.bin \
		--pkg contracts --type X402StateReader --out chain/contracts/x402statereader.go
	$(ABIGEN) --v2 --abi chain/contracts/build/AuthorizationBatcher.abi --bin chain/contracts/build/AuthorizationBatcher.bin \
		--pkg contracts --type AuthorizationBatcher --out chain/contracts/authorizationbatcher.go

# The web console (httpapi/console): installs the pinned esbuild
# (httpapi/console/web/package-lock.json) and bundles web/src into
# content-hashed files in httpapi/console/dist, which the binary embeds.
# Run after editing web/src and commit the result; TestConsoleBuildIsCurrent
# checks it. Needs node and npm.
console:
	cd httpapi/console/web && npm ci --ignore-scripts --no-audit --no-fund && npm run build

# An x402 payment end to end with the reference npm packages: a resource
# server built with @x402/express on Tollway's facilitator and a client built
# with @x402/fetch, on a fresh server and embedded chain (needs node and npm).
x402-demo:
	$(GO) build -o bin/tollway ./cmd/tollway
	cd chain/x402/interop && npm ci --no-audit --no-fund
	chain/x402/interop/demo.sh

fmt:
	gofmt -w $$(git ls-files '*.go')
