# mist: `make test` runs the whole suite (CI calls it through .ci/run).
GO ?= go

.PHONY: test deps vet test-go test-generated test-lua test-bench test-nat lua bench demo soak

test: deps vet test-go test-generated test-lua test-bench test-nat

deps:
	@bash scripts/deps.sh

vet:
	$(GO) vet ./...

# Unit, integration and fuzz seed-corpus tests, with the race detector.
test-go:
	$(GO) test -race -timeout 18m ./...

# P2P through real NATs: network namespaces, nftables routers, `mist serve`
# and `mist p2p` processes (about 30 s). Needs root, ip and nft; skips
# loudly otherwise. test-go skips it (it runs only with MIST_TEST_NAT=1).
test-nat:
	MIST_TEST_NAT=1 $(GO) test -count=1 -timeout 3m -v -run TestRealNAT ./test/natns

# Generated protobuf code must match its .proto sources.
test-generated:
	@bash scripts/check-generated.sh

# The luasteam-compatible module: build for Lua 5.1/LuaJIT and 5.4, run the Lua suites.
lua:
	@if [ -f lua/Makefile ]; then $(MAKE) -C lua build; else echo "lua: module not present"; fi

test-lua:
	@if [ -f lua/Makefile ]; then $(MAKE) -C lua test; else echo "test-lua: SKIPPED (no lua/ module yet)"; fi

# Benchmark drivers at a tiny size (correctness, not timings).
test-bench:
	@if [ -f bench/go.mod ]; then cd bench && $(GO) test -timeout 10m ./...; else echo "test-bench: SKIPPED (no bench/ module yet)"; fi

# The full cross-library benchmark run (see docs/performance.md).
bench: deps
	@cd bench && $(GO) run ./cmd/mistbench

demo:
	$(GO) run ./cmd/mist demo

# The long scenario tests at full length: 10,000-message lossy transfers
# and the many-connection runs that -race skips.
soak:
	$(GO) test -timeout 60m -run 'Lossy|ManyUDPConnections|IdleConnectionCost' -v . -args -mist.full
