# Builds the Go side and runs its tests. npm scripts call these targets;
# `npm run build` and `npm test` are the commands a person types.

GO        ?= go
GOROOT    := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm
# The production wasm: stripped, without file paths.
WASM_FLAGS := -trimpath -ldflags='-s -w'

.PHONY: wasm relay test test-go test-wasm test-relay vet clean

## wasm: dist/hearth.wasm and build/wasm_exec.js (copied from the toolchain so it always matches)
wasm:
	mkdir -p dist build
	GOOS=js GOARCH=wasm $(GO) build $(WASM_FLAGS) -o dist/hearth.wasm ./go/cmd/hearth-wasm
	cp $(WASM_EXEC)/wasm_exec.js build/wasm_exec.js

## relay: build/hearth-relay, the relay in Go (go/relay, a module of its own: go-libp2p stays out of the wasm)
relay:
	mkdir -p build
	cd go/relay && $(GO) build -trimpath -o $(CURDIR)/build/hearth-relay ./cmd/hearth-relay

## vet: native and js/wasm, so every build tag compiles
vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./...

## test-go: native unit and integration tests
test-go:
	$(GO) test -count=1 ./...

## test-wasm: the js/wasm packages under Node, with sql.js as hearthStorage
test-wasm:
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="node $(CURDIR)/js/testing/go_wasm_exec.js" ./go/...

## test-relay: the Go relay's own tests
test-relay:
	cd go/relay && $(GO) vet ./... && $(GO) test -count=1 ./...

test: vet test-go test-wasm test-relay

clean:
	rm -rf dist build
