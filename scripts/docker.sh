#!/usr/bin/env bash
# `make docker-build` and `make run-docker`.
#
#   scripts/docker.sh build   build turnstile-{producer,consumer[,dashboard]}:local
#   scripts/docker.sh run     Kafka + producer + consumer via docker/compose.local.yaml
#
# Both need a running Docker engine with the Compose plugin; without one they
# say so and exit 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

require_engine() {
  if ! command -v docker >/dev/null 2>&1; then
    echo "docker: no docker CLI on this machine; install Docker Engine to $1" >&2
    exit 1
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "docker: no Docker engine is reachable (docker info failed); start one to $1." >&2
    echo "        The images are also built by .github/workflows/deploy-apps.yml." >&2
    exit 1
  fi
}

build() {
  require_engine "build the images"
  local app
  for app in producer consumer dashboard; do
    if [[ ! -d "apps/$app" ]]; then
      echo "docker: apps/$app does not exist yet; skipping its image"
      continue
    fi
    echo "docker: building turnstile-$app:local"
    docker build -f "docker/$app.Dockerfile" -t "turnstile-$app:local" .
  done
}

run() {
  require_engine "run the pipeline"
  if ! docker compose version >/dev/null 2>&1; then
    echo "docker: the Compose plugin (docker compose) is missing" >&2
    exit 1
  fi
  exec docker compose --project-name turnstile-local --env-file docker/local.env \
    -f docker/compose.kafka.yaml -f docker/compose.apps.yaml -f docker/compose.local.yaml \
    --profile producer --profile consumer up --build
}

case "${1:-}" in
build) build ;;
run) run ;;
*)
  echo "usage: scripts/docker.sh build|run" >&2
  exit 2
  ;;
esac
