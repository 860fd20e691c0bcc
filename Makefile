# turnstile-stream: every target is listed by `make help` (the default).
SHELL := /bin/bash
GO ?= go
export CGO_ENABLED := 1

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every app into ./bin (first build compiles librdkafka bindings: ~1 min).
	@echo "building apps into ./bin (the first build compiles the librdkafka cgo bindings and takes about a minute)"
	@mkdir -p bin
	$(GO) build -o bin/ ./apps/... ./tools/...

.PHONY: test
test: ## Unit, integration and end-to-end tests (embedded broker) plus go vet, with -race.
	@echo "go vet + go test -race ./... (first run compiles librdkafka bindings with cgo: expect ~1-2 min of silence)"
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: bench
bench: ## Run the benchmarks; writes bench.out (benchstat-ready).
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count 6 ./internal/... | tee bench.out
	@echo "wrote bench.out; compare with: benchstat old.out bench.out"

# --- Infrastructure and delivery (terraform/, docker/, .github/workflows/) ---
# Tools are built once into .cache/tools (gitignored) by scripts/tools.sh.
# tools/google-provider-double, terraform/test, tools/tofu and
# tools/composecheck are Go modules of their own: the root go.mod carries only
# what the apps and their tests use.

.PHONY: tools
tools: ## Build the cached lint/Terraform tools (tofu ~4 min cold, actionlint, staticcheck, provider test double, shellcheck).
	bash scripts/tools.sh

.PHONY: lint
lint: ## gofmt, go vet, go mod tidy -diff, staticcheck, actionlint+shellcheck, tofu fmt, compose files (run `make tools` first).
	bash scripts/lint.sh

.PHONY: tf-test
tf-test: ## Offline Terraform tests: tofu fmt/init/validate/test and terratest (run `make tools` first).
	bash scripts/tf-test.sh

# --- Containers (docker/, docs/containers.md) ---
# On a Linux machine without Docker, podman serves the Docker API:
# scripts/podman-setup.sh (run by these targets) installs and configures it and
# builds the local base images, since no image registry is reachable here.

.PHONY: images
images: ## Build every image (producer, consumer, dashboard, broker, fake GCS) on the local engine (podman here, else Docker).
	bash scripts/images.sh

.PHONY: docker-build
docker-build: images ## Same as `make images`.

.PHONY: e2e-containers
e2e-containers: ## tests/e2e on the container engine: Kafka as the broker image, the consumer's own image (run `make images` first).
	bash scripts/e2e-containers.sh

.PHONY: run-docker
run-docker: ## Run Kafka, producer, consumer and dashboard with Compose on the local engine (window files in lake/docker).
	bash scripts/docker.sh run

.PHONY: compose-check
compose-check: ## Start the Compose stack detached, check every health check and the window files in the lake, take it down.
	bash scripts/docker.sh check

# --- Local pipeline (tools/runlocal, scripts/fresh-machine.sh, docs/local-run.md) ---
# `make run` builds ./bin, then tools/runlocal starts the embedded broker, the
# consumer, the dashboard and the producer as separate processes; Ctrl-C stops
# them in reverse order.

SINK ?= file
# SOURCE=ridership: the hourly ridership sample through tools/soda-local instead of the synthetic turnstile feed.
SOURCE ?=
KAFKA_BOOTSTRAP ?=
# More runlocal flags, e.g. RUN_FLAGS="--broker-port 19092 --speed 120" (bin/runlocal -h).
RUN_FLAGS ?=
FILE ?=
REPLAY_DIR ?= lake/replay

.PHONY: run
run: build ## Run the whole pipeline locally until Ctrl-C (SOURCE=ridership for the hourly ridership sample, SINK=file|gcs, KAFKA_BOOTSTRAP=host:9092 for a real cluster).
	@./bin/runlocal $(if $(SOURCE),--source $(SOURCE)) --sink $(SINK) $(if $(KAFKA_BOOTSTRAP),--kafka-bootstrap $(KAFKA_BOOTSTRAP)) $(RUN_FLAGS)

.PHONY: replay
replay: build ## Replay MTA files without Kafka: make replay FILE=testdata/mta/turnstile_240720.txt (files in lake/replay).
	@if [ -z "$(FILE)" ]; then echo "usage: make replay FILE=testdata/mta/turnstile_240720.txt" >&2; exit 2; fi
	@echo "replaying $(FILE): producer --input $(FILE) --out - | consumer --input - --sink file://./$(REPLAY_DIR)/turnstile"
	@set -o pipefail; ./bin/producer --input $(FILE) --out - | ./bin/consumer --input - --sink file://./$(REPLAY_DIR)/turnstile
	@echo "files in $(REPLAY_DIR):"; find $(REPLAY_DIR) -type f -name '*.csv.gz' | sort | sed 's/^/  /'

.PHONY: e2e
e2e: ## End-to-end tests of the pipeline (tests/e2e, embedded broker), with -race.
	$(GO) test -race -count=1 ./tests/e2e/...
