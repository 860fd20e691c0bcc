#!/usr/bin/env bash
# `make docker-build`, `make run-docker` and the Compose check of .ci/run.
#
#   scripts/docker.sh build   every image (scripts/images.sh)
#   scripts/docker.sh run     Kafka + producer + consumer + dashboard via docker/compose.local.yaml,
#                             in the foreground until Ctrl-C; window files in lake/docker
#   scripts/docker.sh check   the same stack detached, with free host ports and a fresh lake
#                             directory: passes when every health check is green and window
#                             files land in the bind-mounted lake; then takes it down
#
# Engine: podman when it is installed (scripts/podman-setup.sh sets it up;
# Compose runs against its Docker API socket and docker/compose.podman.yaml
# swaps in the locally built images), else Docker. Compose: the `docker
# compose` plugin when present, else Debian's docker-compose. See
# docs/containers.md and docker/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PODMAN_SOCK="${PODMAN_SOCK:-/run/podman/podman.sock}"
if [[ -z "${ENGINE:-}" ]]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman; else ENGINE=docker; fi
fi
FILES=(-f docker/compose.kafka.yaml -f docker/compose.apps.yaml -f docker/compose.local.yaml)
[[ $ENGINE == podman ]] && FILES+=(-f docker/compose.podman.yaml)

say() { printf 'docker.sh: %s\n' "$*"; }

setup_engine() {
  if [[ $ENGINE == podman ]]; then
    bash scripts/podman-setup.sh >/dev/null
    export DOCKER_HOST="unix://$PODMAN_SOCK"
    return
  fi
  if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "docker.sh: no Docker engine answers (docker info failed), and podman is not installed." >&2
    echo "           On Debian without Docker: bash scripts/podman-setup.sh (docs/containers.md)." >&2
    exit 1
  fi
}

# compose ARGS...: the Compose CLI against the engine.
compose() {
  if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose "$@"
  else
    echo "docker.sh: no Compose: install the docker compose plugin or Debian's docker-compose" >&2
    exit 1
  fi
}

# podman runs health checks from systemd timers; without systemd (this
# machine kind) nothing runs them, and a service that waits for a healthy one
# waits forever. So, with podman, this loop runs the health checks of the
# project's containers every 2 s, as the timers would.
HEALTH_PID=""
start_health_driver() {
  [[ $ENGINE == podman ]] || return 0
  [[ -d /run/systemd/system ]] && return 0
  local project="$1"
  (
    while sleep 2; do
      for id in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
        podman healthcheck run "$id" >/dev/null 2>&1 || true
      done
    done
  ) &
  HEALTH_PID=$!
}
stop_health_driver() {
  if [[ -n $HEALTH_PID ]]; then
    kill "$HEALTH_PID" 2>/dev/null || true
    wait "$HEALTH_PID" 2>/dev/null || true
    HEALTH_PID=""
  fi
}

# lake_dir DIR: a lake directory the consumer (uid 65532) can write.
lake_dir() {
  mkdir -p "$1"
  if [[ $(id -u) -eq 0 ]]; then chown 65532:65532 "$1"; else chmod a+rwx "$1"; fi
}

# free_port: a loopback port nothing answers on, from a range that the
# kernel does not hand out for outgoing connections.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

build() { bash scripts/images.sh; }

run() {
  setup_engine
  bash scripts/images.sh
  export LAKE_DIR="${LAKE_DIR:-$ROOT/lake/docker}"
  lake_dir "$LAKE_DIR"
  say "window files go to $LAKE_DIR; the dashboard is on http://127.0.0.1:${DASHBOARD_PORT:-8080}"
  start_health_driver turnstile-local
  trap stop_health_driver EXIT
  compose --project-name turnstile-local --env-file docker/local.env "${FILES[@]}" \
    --profile producer --profile consumer up
}

# check: the stack detached, checked, taken down. Images must exist (make images).
check() {
  setup_engine
  local project="turnstile-check-$$" start timeout="${CHECK_TIMEOUT:-300}"
  LAKE_DIR="$(mktemp -d /tmp/turnstile-compose-lake.XXXXXX)"
  export LAKE_DIR
  lake_dir "$LAKE_DIR"
  # Free host ports: the machine may run other stacks on the defaults.
  KAFKA_PORT=$(free_port) KAFKA_LOCAL_PORT=$(free_port) PRODUCER_METRICS_PORT=$(free_port)
  CONSUMER_METRICS_PORT=$(free_port) DASHBOARD_PORT=$(free_port)
  export KAFKA_PORT KAFKA_LOCAL_PORT PRODUCER_METRICS_PORT CONSUMER_METRICS_PORT DASHBOARD_PORT
  # Windows close quickly: 1-minute windows of the real-time synthetic feed.
  export WINDOW_DURATION=1 WINDOW_SLIDE=1
  # Global, not local: the EXIT trap runs after check returns.
  CHECK_ARGS=(--project-name "$project" --env-file docker/local.env "${FILES[@]}" --profile producer --profile consumer)
  local c=("${CHECK_ARGS[@]}")
  cleanup() {
    stop_health_driver
    if [[ ${KEEP_STACK:-0} != 1 ]]; then
      # A container in a restart loop can come back during the first down.
      local attempt
      for attempt in 1 2 3; do
        compose "${CHECK_ARGS[@]}" down -v --remove-orphans >/dev/null 2>&1 && break
        ((attempt == 3)) && say "could not take the stack down: compose ${CHECK_ARGS[*]} down -v"
        sleep 2
      done
      rm -rf "$LAKE_DIR"
    fi
  }
  trap cleanup EXIT
  say "project $project on $ENGINE; lake $LAKE_DIR; dashboard port $DASHBOARD_PORT"
  start=$(date +%s)
  start_health_driver "$project"
  # up -d returns once every service has started (topic-init after a healthy
  # kafka, the apps after topic-init).
  if ! compose "${c[@]}" up -d --no-build; then
    compose "${c[@]}" logs --tail 40 || true
    say "FAIL: compose up failed"
    exit 1
  fi
  say "compose up -d returned after $(($(date +%s) - start))s"
  local services=(kafka producer consumer dashboard) healthy files=0 s status
  while :; do
    healthy=0
    for s in "${services[@]}"; do
      status=$(health "$project" "$s")
      [[ $status == healthy ]] && healthy=$((healthy + 1))
    done
    files=$(find "$LAKE_DIR" -name '*.csv.gz' -type f 2>/dev/null | wc -l)
    if ((healthy == ${#services[@]} && files > 0)); then
      break
    fi
    # An app that exits is restarted (unless-stopped): fail at once, with
    # its log, rather than wait for the timeout.
    for s in "${services[@]}"; do
      if [[ $(restarts "$project" "$s") != 0 ]]; then
        compose "${c[@]}" logs --tail 20 "$s" || true
        say "FAIL: $s keeps exiting (restarted $(restarts "$project" "$s") times; its log is above)"
        exit 1
      fi
    done
    if (($(date +%s) - start > timeout)); then
      for s in "${services[@]}"; do say "  $s: $(health "$project" "$s")"; done
      compose "${c[@]}" ps || true
      compose "${c[@]}" logs --tail 30 || true
      say "FAIL: after ${timeout}s: $healthy of ${#services[@]} services healthy, $files window files in the lake"
      exit 1
    fi
    sleep 2
  done
  for s in "${services[@]}"; do say "  $s: $(health "$project" "$s")"; done
  say "  topic-init: exited $(exit_code "$project" topic-init), client-config: exited $(exit_code "$project" client-config)"
  local first
  first=$(find "$LAKE_DIR" -name '*.csv.gz' -type f | sort | head -1)
  say "  lake: $files window files, e.g. ${first#"$LAKE_DIR"/} ($(gzip -dc "$first" | wc -l) lines, header $(gzip -dc "$first" | head -1))"
  # The dashboard got the closed windows the consumer published to
  # EMIT_TOPIC: its state counts rows.
  local state rows=0
  while (($(date +%s) - start <= timeout)); do
    state=$(curl -fsS "http://127.0.0.1:$DASHBOARD_PORT/api/state" 2>/dev/null || true)
    rows=$(grep -o '"rows":[0-9]*' <<<"$state" | head -1 | cut -d: -f2)
    ((${rows:-0} > 0)) && break
    sleep 2
  done
  if ((${rows:-0} == 0)); then
    say "FAIL: the dashboard on 127.0.0.1:$DASHBOARD_PORT shows no window rows from the emit topic: ${state:-no answer}"
    exit 1
  fi
  say "  dashboard on http://127.0.0.1:$DASHBOARD_PORT/ holds $rows window rows from the emit topic"
  say "PASS: every health check green and window files in the bind-mounted lake after $(($(date +%s) - start))s"
}

# health PROJECT SERVICE: the health status of the service's container.
health() {
  local id
  id=$(container_id "$1" "$2")
  [[ -z $id ]] && { echo "no container"; return; }
  "$ENGINE" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo unknown
}
restarts() {
  local id
  id=$(container_id "$1" "$2")
  [[ -z $id ]] && { echo 0; return; }
  "$ENGINE" inspect --format '{{.RestartCount}}' "$id" 2>/dev/null || echo 0
}
exit_code() {
  local id
  id=$(container_id "$1" "$2")
  "$ENGINE" inspect --format '{{.State.ExitCode}}' "$id" 2>/dev/null || echo "?"
}
container_id() {
  "$ENGINE" ps -aq --filter "label=com.docker.compose.project=$1" --filter "label=com.docker.compose.service=$2" | head -1
}

case "${1:-}" in
build) build ;;
run) run ;;
check) check ;;
*)
  echo "usage: scripts/docker.sh build|run|check" >&2
  exit 2
  ;;
esac
