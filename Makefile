# Builds the Go side and runs its tests. npm scripts call these targets;
# `npm run build` and `npm test` are the commands a person types.

GO        ?= go
GOROOT    := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm
# The production wasm: stripped, without file paths.
WASM_FLAGS := -trimpath -ldflags='-s -w'

.PHONY: wasm test test-go test-wasm vet clean

## wasm: dist/hearth.wasm and build/wasm_exec.js (copied from the toolchain so it always matches)
wasm:
	mkdir -p dist build
	GOOS=js GOARCH=wasm $(GO) build $(WASM_FLAGS) -o dist/hearth.wasm ./go/cmd/hearth-wasm
	cp $(WASM_EXEC)/wasm_exec.js build/wasm_exec.js

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

test: vet test-go test-wasm

clean:
	rm -rf dist build
