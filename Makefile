# hitcounter: the README is the contract for these targets.
SHELL := /bin/bash
# Every version pin (Docker plugins, Go tools, the test cluster's binaries): one file, read by the
# scripts too. `make prepare K8S_VERSION=...` overrides one.
include scripts/versions.env
# Go where the machines of this kind have it, also for a shell whose PATH lacks it.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# The server the tests start (internal/redistest, e2e's snapshot reader): where `make prepare`
# copied the stack's own (scripts/test-server.sh), so the version tested is the version pinned;
# otherwise redis-server from PATH. Set REDIS_SERVER_BIN to choose another. (Read when make
# starts: so `make test` runs its tests in a second make, started after prepare.)
HITCOUNTER_CACHE ?= /var/cache/hitcounter
REDIS_SERVER_BIN ?= $(wildcard $(HITCOUNTER_CACHE)/bin/redis-server)
export REDIS_SERVER_BIN

.PHONY: build prepare up test test-unit test-rules test-monitoring test-fuzz test-e2e test-k8s k8s-binaries chaos run lint bench clean

# Fuzz targets (package:function:executions), from the seeds in the code plus the corpus under
# the package's testdata/fuzz. Counts, not durations: a duration (-fuzztime 10s) can fail at its
# deadline with "context deadline exceeded" and no finding (Go issue 75804, fixed in Go 1.27).
# Each count is about 10 s on a 2-core machine. FUZZTIME=60s (or 1000000x) overrides them all.
FUZZ_TARGETS := ./internal/httpapi:FuzzNegotiate:80000x ./internal/httpapi:FuzzRequestID:100000x \
	./internal/httpapi:FuzzHandler:25000x ./internal/httpapi:FuzzVisitEncoders:20000x \
	./internal/httpapi:FuzzCounterRoutes:20000x ./internal/badge:FuzzRender:60000x ./internal/badge:FuzzShort:500000x \
	./internal/httpapi:FuzzClientHeaders:60000x ./internal/config:FuzzLoad:300000x \
	./internal/importers:FuzzParse:150000x

build: ## static binary in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/hitcounter ./cmd/hitcounter

prepare: ## make this machine ready for every test: packages, Docker, stand-in images, the test cluster's binaries (idempotent; seconds when ready)
	bash scripts/prepare-machine.sh

up: ## the stack on a fresh machine without a registry: prepare what Docker needs, then docker compose up --build
	bash scripts/prepare-machine.sh --stack
	docker compose up --build

test: prepare ## every test, after prepare: unit, integration (real redis-server), lint, Prometheus rules and the dashboard, fuzzing, end-to-end (real Docker engine), Kubernetes
	@$(MAKE) --no-print-directory lint test-unit test-rules test-fuzz test-e2e test-k8s

# The monitoring package's tests run here too: they find promtool (Docker) and Helm (make
# prepare's build, or PATH) themselves.
test-unit: ## everything but the Docker end-to-end tests
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

# promtool from the Prometheus image the monitoring profile runs (compose.yaml), so the rules are
# checked by the version that loads them.
PROMETHEUS_IMAGE ?= $(shell sed -n 's/^ *image: \(prom\/prometheus:[^ ]*\)$$/\1/p' compose.yaml | head -n 1)
RULES := deploy/helm/hitcounter/files/prometheus-rules.yml

test-rules: ## the Prometheus alerting and recording rules (monitoring/rules-test.yml) with promtool
	docker run --rm --network none --entrypoint promtool \
		-v "$(CURDIR)/$(RULES):/rules/prometheus-rules.yml:ro" \
		-v "$(CURDIR)/monitoring/rules-test.yml:/rules/rules-test.yml:ro" \
		-w /rules $(PROMETHEUS_IMAGE) test rules rules-test.yml
	docker run --rm --network none --entrypoint promtool \
		-v "$(CURDIR)/monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro" \
		-v "$(CURDIR)/$(RULES):/etc/prometheus/rules/prometheus-rules.yml:ro" \
		$(PROMETHEUS_IMAGE) check config /etc/prometheus/prometheus.yml

# Helm, for rendering the chart without a cluster: the test cluster's own build, cached by version.
HELM_DIR := $(HITCOUNTER_CACHE)/k8s-helm-$(HELM_VERSION)

test-monitoring: test-rules ## the rules, then the dashboard's queries (promtool) and the chart's PrometheusRule and dashboard ConfigMap (helm template); builds Helm once (a few minutes) when it is not cached
	@[ -x "$(HELM_DIR)/helm" ] || command -v helm >/dev/null || bash scripts/k8s/build-binaries.sh helm
	HITCOUNTER_E2E=1 $(GO) test -count=1 ./monitoring

test-fuzz: ## each fuzz target for a bounded number of executions (FUZZTIME overrides)
	@set -e; for target in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg name budget <<<"$$target"; \
		budget=$${FUZZTIME:-$$budget}; \
		echo "fuzz $$name in $$pkg for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime "$$budget" -timeout 5m "$$pkg"; \
	done

test-e2e: ## the Docker end-to-end tests, then the browser tests (e2e/browser, own module: headless Chromium)
	HITCOUNTER_E2E=1 $(GO) test -count=1 -timeout 25m -v ./e2e/...
	cd e2e/browser && HITCOUNTER_E2E=1 $(GO) test -count=1 -timeout 15m -v ./...

test-k8s: ## the Helm chart on a real single-node Kubernetes built here (root; see docs/kubernetes.md)
	bash scripts/k8s/test.sh

k8s-binaries: ## build and cache only the test cluster's binaries (make prepare does it too)
	bash scripts/k8s/build-binaries.sh

chaos: ## the chaos suite in its long form; rewrites the table in docs/reliability.md
	HITCOUNTER_E2E=1 CHAOS_LONG=1 CHAOS_REPORT=1 $(GO) test -count=1 -v -run '^TestChaos' -timeout 30m ./e2e/...

run: ## the service against a Redis on localhost:6379
	REDIS_HOST=$${REDIS_HOST:-127.0.0.1} $(GO) run -ldflags '-X main.version=$(VERSION)' ./cmd/hitcounter

# golangci-lint at the pinned version, built once by `go run` (Go caches the binary), with
# .golangci.yml: errcheck, staticcheck, govet, a line-length limit and the rest listed there.
GOLANGCI_LINT := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

lint: ## golangci-lint (.golangci.yml: gofmt, go vet, errcheck, staticcheck, line length, ...) on the main module and e2e/browser
	$(GOLANGCI_LINT) run ./...
	cd e2e/browser && $(GOLANGCI_LINT) run --config ../../.golangci.yml ./...

bench: ## side-by-side throughput and latency in one run (bench/harness); writes docs/benchmarks.md and .png
	$(GO) run ./bench/harness

clean:
	rm -rf bin
