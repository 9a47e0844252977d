# Everyday tasks. Only Go (with cgo) is required.
GO ?= go
BENCH ?= .
BENCHTIME ?= 1x

.PHONY: build test vet fmt generate bench quickstart docker

build:
	$(GO) build -o bin/sluice ./cmd/sluice

test:
	$(GO) test ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (echo "gofmt would change:"; gofmt -l .; exit 1)

fmt:
	gofmt -w .

# Regenerates the JSON Schema and docs/configuration.md from the Go types.
generate:
	$(GO) generate ./...

# Benchmarks; narrow with BENCH=Stitch and lengthen with BENCHTIME=3x.
# Record results in docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -timeout 60m ./...

quickstart:
	$(GO) run ./cmd/sluice build --project examples/quickstart

docker:
	docker build -t sluice:dev .
