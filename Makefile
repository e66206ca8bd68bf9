# hitcounter: the README is the contract for these targets.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build test test-unit test-e2e run lint bench clean

build: ## static binary in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/hitcounter ./cmd/hitcounter

test: test-unit test-e2e ## every test: unit, integration (real redis-server), end-to-end (real Docker engine)

test-unit: ## everything but the Docker end-to-end tests
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

test-e2e: ## only the Docker end-to-end tests (verbose: they print image size and start-up time)
	$(GO) test -count=1 -timeout 25m -v ./e2e/...

run: ## the service against a Redis on localhost:6379
	REDIS_HOST=$${REDIS_HOST:-127.0.0.1} $(GO) run -ldflags '-X main.version=$(VERSION)' ./cmd/hitcounter

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

bench: ## side-by-side throughput and latency; writes docs/benchmarks.md
	bash scripts/bench.sh

clean:
	rm -rf bin
