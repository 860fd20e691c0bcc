#!/usr/bin/env bash
# `make e2e-containers`: tests/e2e through its testcontainers backend on the
# local container engine. Kafka is the project's broker image
# (turnstile-kafka-local:local) on a user-defined network; TestConsumerImage
# runs the consumer's and the producer's own images there, writing to the GCS
# emulator image. Run `make images` first. E2E_REQUIRE_DOCKER=1: no engine is
# a failure, not a fallback to the in-process broker.
#
#   E2E_CONTAINER_CASES   go test -run pattern (default: the cases below)
#   E2E_CONTAINER_FLAGS   more go test flags, e.g. -v
#
# See docs/containers.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PODMAN_SOCK="${PODMAN_SOCK:-/run/podman/podman.sock}"
if [[ -z "${DOCKER_HOST:-}" ]] && command -v podman >/dev/null 2>&1; then
  bash scripts/podman-setup.sh >/dev/null
  export DOCKER_HOST="unix://$PODMAN_SOCK"
fi
# Ryuk (testcontainers' reaper) is an image from a registry; the suite
# removes its containers and network itself.
export TESTCONTAINERS_RYUK_DISABLED=true
export E2E_REQUIRE_DOCKER=1
export E2E_KAFKA_IMAGE="${E2E_KAFKA_IMAGE:-turnstile-kafka-local:local}"
export E2E_CONSUMER_IMAGE="${E2E_CONSUMER_IMAGE:-turnstile-consumer:local}"

cases="${E2E_CONTAINER_CASES:-^(TestConsumerImage|TestReplay|TestCrash|TestRebalance|TestFaults|TestGracefulStop)$}"
echo "e2e-containers: DOCKER_HOST=${DOCKER_HOST:-(default)} E2E_KAFKA_IMAGE=$E2E_KAFKA_IMAGE E2E_CONSUMER_IMAGE=$E2E_CONSUMER_IMAGE cases $cases"
# -v so that the log names the backend of every case ("Kafka backend: ...");
# testcontainers' own lines (container created, started, ...) go only to the
# full log file.
mkdir -p .cache
log=.cache/e2e-containers.log
status=0
# shellcheck disable=SC2086 # E2E_CONTAINER_FLAGS is a list of flags
go test -tags containers -race -count=1 -timeout 20m -v ${E2E_CONTAINER_FLAGS:-} -run "$cases" ./tests/e2e/ 2>&1 |
  tee "$log" | grep -vE '^[0-9/]+ [0-9:]+ (🐳|✅|⏳|🔔|🚫)|CONFWARN' || status=$?
echo "e2e-containers: full log in $log"
exit "$status"
