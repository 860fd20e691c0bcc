#!/usr/bin/env bash
# turnstile-up: start, update or health-check this VM's Compose project.
#
# Installed at /opt/turnstile/bin/turnstile-up by the Terraform startup script
# (terraform/templates/startup.sh.tftpl). The startup script runs `up` at
# every boot; the deploy scripts (scripts/deploy-vm.sh) run `deploy`, `health`
# and `rollback` over IAP SSH.
#
#   turnstile-up up                          pull images and `docker compose up -d`
#   turnstile-up deploy COMPOSE [IMAGES_ENV] install a compose file (and image
#                                            tags), then `up`
#   turnstile-up rollback                    back to the previous images.env, then `up`
#   turnstile-up health SECONDS              wait until the services are healthy
#   turnstile-up ps                          show the project's containers
#
# up, deploy and rollback hold an exclusive flock on $LOCK_FILE, so two
# deploys, or a deploy during the boot's own `up`, never run at once: the
# second waits (up to TURNSTILE_LOCK_TIMEOUT seconds, default 1800).
set -euo pipefail

APP_DIR=${TURNSTILE_APP_DIR:-/opt/turnstile}
LOCK_FILE=${TURNSTILE_LOCK_FILE:-/run/lock/turnstile-up.lock}
LOCK_TIMEOUT=${TURNSTILE_LOCK_TIMEOUT:-1800}
# shellcheck source=/dev/null
. "$APP_DIR/role.env" # ROLE, COMPOSE_FILE, COMPOSE_PROFILE, REGISTRY_HOST

compose_path="$APP_DIR/current/$COMPOSE_FILE"

say() { echo "turnstile-up: $*"; }

# lock: take the exclusive deploy lock for the rest of this process.
lock() {
  exec 9>>"$LOCK_FILE"
  if ! flock -n 9; then
    say "waiting for another turnstile-up (boot or deploy) to finish"
    flock -w "$LOCK_TIMEOUT" 9 || {
      say "could not get $LOCK_FILE in ${LOCK_TIMEOUT}s" >&2
      exit 1
    }
  fi
}

# compose_args: the docker compose flags of this VM's project.
compose_args() {
  if [[ ! -f "$compose_path" ]]; then
    install -D -m 0644 "$APP_DIR/seed/$COMPOSE_FILE" "$compose_path"
  fi
  args=(--project-name turnstile --project-directory "$APP_DIR/current" -f "$compose_path" --env-file "$APP_DIR/vm.env")
  if [[ -f "$APP_DIR/images.env" ]]; then
    args+=(--env-file "$APP_DIR/images.env")
  fi
  if [[ -n "$COMPOSE_PROFILE" ]]; then
    args+=(--profile "$COMPOSE_PROFILE")
  fi
}

# env_get KEY: the value of KEY in vm.env (not sourced: values are data).
env_get() { sed -n "s/^$1=//p" "$APP_DIR/vm.env" | tail -n1; }

# Log Docker in to Artifact Registry with the VM service account's token
# (valid for an hour, so this runs before every pull).
registry_login() {
  [[ -n "$REGISTRY_HOST" ]] || return 0
  local token
  token="$(curl -fsS -H 'Metadata-Flavor: Google' \
    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
  printf '%s' "$token" | docker login --username oauth2accesstoken --password-stdin "https://$REGISTRY_HOST" >/dev/null
}

up() {
  compose_args
  # Kafka's log lives on the data disk (KAFKA_DATA_DIR). A compose file that
  # does not mount it (one from before the disk, e.g. a rollback of
  # deploy-bitnami) would start Kafka on an empty Docker volume: refuse.
  if [[ "$ROLE" == kafka && -n "$(env_get KAFKA_DATA_DIR)" ]] && ! grep -q 'KAFKA_DATA_DIR' "$compose_path"; then
    say "refusing to start $compose_path: it does not mount KAFKA_DATA_DIR ($(env_get KAFKA_DATA_DIR)), so Kafka would lose its log; deploy a compose.kafka.yaml that does" >&2
    exit 1
  fi
  if [[ "$ROLE" != kafka && ! -f "$APP_DIR/images.env" ]]; then
    say "no app images deployed to this VM yet; push the deploy-apps branch"
    return 0
  fi
  registry_login
  docker compose "${args[@]}" pull --quiet
  docker compose "${args[@]}" up -d --remove-orphans
  docker compose "${args[@]}" ps
}

deploy() {
  local compose=$1 images=${2:-}
  [[ -f "$compose" ]] || {
    say "no compose file at $compose" >&2
    exit 2
  }
  install -D -m 0644 "$compose" "$compose_path"
  if [[ -n "$images" ]]; then
    if [[ -f "$APP_DIR/images.env" ]]; then
      cp "$APP_DIR/images.env" "$APP_DIR/images.env.previous"
    fi
    install -m 0644 "$images" "$APP_DIR/images.env"
    say "deploying images:"
    cat "$APP_DIR/images.env"
  fi
  up
}

rollback() {
  [[ -f "$APP_DIR/images.env.previous" ]] || {
    say "no previous deployment on this VM" >&2
    exit 1
  }
  cp "$APP_DIR/images.env" "$APP_DIR/images.env.failed"
  cp "$APP_DIR/images.env.previous" "$APP_DIR/images.env"
  cat "$APP_DIR/images.env"
  up
}

# container_state SERVICE: "STATUS EXITCODE" of the service's container
# (running or exited), empty when it has none.
container_state() {
  local id
  id="$(docker compose "${args[@]}" ps -a -q "$1" 2>/dev/null | head -n1)"
  [[ -n "$id" ]] || return 0
  docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$id"
}

# kafka_ready: the broker is healthy, topic-init exited 0, and both topics
# can be described. Returns 2 when topic-init failed: no wait fixes that.
kafka_ready() {
  local id state topic
  id="$(docker compose "${args[@]}" ps -q kafka)"
  [[ -n "$id" && "$(docker inspect --format '{{.State.Health.Status}}' "$id")" == healthy ]] || return 1
  state="$(container_state topic-init)"
  case "$state" in
  "exited 0") ;;
  exited*)
    say "topic-init failed ($state): the topics may not exist" >&2
    docker compose "${args[@]}" logs --tail 50 topic-init >&2 || true
    return 2
    ;;
  *) return 1 ;;
  esac
  for topic in "$(env_get KAFKA_TOPIC)" "$(env_get EMIT_TOPIC)"; do
    [[ -n "$topic" ]] || continue
    docker exec "$id" /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:29092 \
      --describe --topic "$topic" >/dev/null 2>&1 || return 1
  done
}

# apps_ready: the app's /readyz answers; on a consumer VM whose compose file
# has a dashboard service, the dashboard answers on its internal address too.
apps_ready() {
  curl -fsS --max-time 5 "http://127.0.0.1:${METRICS_PORT:-9090}/readyz" >/dev/null || return 1
  if [[ "$ROLE" == consumer ]] && docker compose "${args[@]}" config --services 2>/dev/null | grep -qx dashboard; then
    curl -fsS --max-time 5 -o /dev/null "http://$(env_get DASHBOARD_BIND):$(env_get DASHBOARD_PORT)/" || return 1
  fi
}

health() {
  local timeout=${1:-300} waited=0 rc
  compose_args
  while true; do
    rc=0
    if [[ "$ROLE" == kafka ]]; then kafka_ready || rc=$?; else apps_ready || rc=$?; fi
    ((rc == 0)) && break
    if ((rc == 2 || waited >= timeout)); then
      say "$ROLE not healthy after ${waited}s" >&2
      docker compose "${args[@]}" ps -a >&2 || true
      docker compose "${args[@]}" logs --tail 50 >&2 || true
      return 1
    fi
    sleep 5
    waited=$((waited + 5))
  done
  say "$ROLE is healthy"
}

case "${1:-up}" in
up)
  lock
  up
  ;;
deploy)
  if [[ $# -lt 2 ]]; then
    echo "usage: turnstile-up deploy COMPOSE_FILE [IMAGES_ENV]" >&2
    exit 2
  fi
  lock
  deploy "$2" "${3:-}"
  ;;
rollback)
  lock
  rollback
  ;;
health) health "${2:-300}" ;;
ps)
  compose_args
  docker compose "${args[@]}" ps -a
  ;;
*)
  echo "usage: turnstile-up [up | deploy COMPOSE [IMAGES_ENV] | rollback | health SECONDS | ps]" >&2
  exit 2
  ;;
esac
