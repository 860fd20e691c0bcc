#!/usr/bin/env bash
# turnstile-up: start, update or health-check this VM's Compose project.
#
# Installed at /opt/turnstile/bin/turnstile-up by the Terraform startup script
# (terraform/templates/startup.sh.tftpl). The startup script runs `up` at
# every boot; the deploy scripts (scripts/deploy-vm.sh, driven by
# .github/scripts/rolling-deploy.sh) run `deploy`, `health`, `lag` and
# `rollback` over IAP SSH; a systemd timer runs `probe` every minute.
#
#   turnstile-up up                          pull images and `docker compose up -d`
#   turnstile-up deploy COMPOSE [IMAGES_ENV] install a compose file (and image
#                                            tags), then `up`
#   turnstile-up rollback [RELEASE]          back to the previous compose file and
#                                            images.env, then `up`; with no previous
#                                            deploy, stop the apps; with RELEASE
#                                            (sha256 of images.env), only a VM on it
#   turnstile-up health SECONDS              wait until the services are healthy
#   turnstile-up lag SECONDS                 consumer: the lag falls (or is small)
#                                            over SECONDS
#   turnstile-up probe                       append one /readyz line to the probe log
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
  # COMPOSE_PROFILE holds the VM's profiles, space-separated (with the
  # ridership feed: consumer consumer-ridership, producer producer-ridership).
  local profile
  for profile in $COMPOSE_PROFILE; do
    args+=(--profile "$profile")
  done
}

# env_get KEY: the value of KEY in vm.env (not sourced: values are data).
env_get() { sed -n "s/^$1=//p" "$APP_DIR/vm.env" | tail -n1; }

# app_ports: the /metrics and /readyz port of each app on this VM, one a
# line: METRICS_PORT (default 9090), and RIDERSHIP_METRICS_PORT from vm.env
# when the ridership feed runs here beside it.
app_ports() {
  echo "${METRICS_PORT:-9090}"
  local ridership
  ridership="$(env_get RIDERSHIP_METRICS_PORT)"
  if [[ -n "$ridership" ]]; then echo "$ridership"; fi
}

# Log Docker in to Artifact Registry with the VM service account's token
# (valid for an hour, so this runs before every pull).
registry_login() {
  [[ -n "$REGISTRY_HOST" ]] || return 0
  local token
  token="$(metadata_token)"
  printf '%s' "$token" | docker login --username oauth2accesstoken --password-stdin "https://$REGISTRY_HOST" >/dev/null
}

# metadata_token: an access token of the VM's service account.
metadata_token() {
  curl -fsS -H 'Metadata-Flavor: Google' \
    'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# kafka_sasl_password: with KAFKA_SASL_PASSWORD_SECRET in vm.env (an external
# cluster with SASL: projects/P/secrets/S/versions/V), read that version from
# Secret Manager as the VM's service account and export it as
# KAFKA_SASL_PASSWORD for this `docker compose up` only (client-config writes
# it into client.properties). It is never written to vm.env, never logged,
# and never known to Terraform. TURNSTILE_SECRETMANAGER_URL exists for
# terraform/test only.
kafka_sasl_password() {
  local name password
  name="$(env_get KAFKA_SASL_PASSWORD_SECRET)"
  [[ -n "$name" ]] || return 0
  # The token goes to curl on stdin (-H @-), never on a command line.
  password="$(metadata_token | sed 's/^/Authorization: Bearer /' |
    curl -fsS --retry 5 -H @- "${TURNSTILE_SECRETMANAGER_URL:-https://secretmanager.googleapis.com}/v1/$name:access" |
    python3 -c 'import base64, json, sys; sys.stdout.write(base64.b64decode(json.load(sys.stdin)["payload"]["data"]).decode())')" || {
    say "cannot read the Kafka password from Secret Manager ($name): does the secret exist, and may this VM's service account access it (roles/secretmanager.secretAccessor)?" >&2
    return 1
  }
  [[ -n "$password" ]] || {
    say "the Kafka password in $name is empty" >&2
    return 1
  }
  export KAFKA_SASL_PASSWORD="$password"
  say "read the Kafka password from $name"
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
  kafka_sasl_password
  registry_login
  docker compose "${args[@]}" pull --quiet
  docker compose "${args[@]}" up -d --remove-orphans
  docker compose "${args[@]}" ps
}

# keep_previous NEW CURRENT: CURRENT becomes CURRENT.previous when NEW differs
# from it, so that a deploy run twice keeps the release before it to roll
# back to.
keep_previous() {
  local new=$1 current=$2
  if [[ -f "$current" ]] && ! cmp -s "$new" "$current"; then
    cp "$current" "$current.previous"
  fi
}

deploy() {
  local compose=$1 images=${2:-}
  [[ -f "$compose" ]] || {
    say "no compose file at $compose" >&2
    exit 2
  }
  keep_previous "$compose" "$compose_path"
  install -D -m 0644 "$compose" "$compose_path"
  if [[ -n "$images" ]]; then
    keep_previous "$images" "$APP_DIR/images.env"
    install -m 0644 "$images" "$APP_DIR/images.env"
    say "deploying images:"
    cat "$APP_DIR/images.env"
  fi
  up
}

# rollback: back to the compose file and images.env of the deploy before the
# last one. A VM whose first deploy failed has none: its apps are stopped and
# images.env removed, which is where it stood before that deploy.
#
# With RELEASE (the sha256 of the images.env a rolling deploy installed), a
# VM that does not run that release (its deploy failed before it changed
# anything) is left alone, rather than sent one release further back.
rollback() {
  local release=${1:-}
  if [[ -n "$release" ]] && [[ "$(sha256sum <"$APP_DIR/images.env" 2>/dev/null | cut -d' ' -f1)" != "$release" ]]; then
    say "this VM does not run the release being rolled back; leaving it as it is"
    return 0
  fi
  if [[ ! -f "$APP_DIR/images.env.previous" ]]; then
    say "no previous deployment on this VM: stopping the apps (as before the first deploy)"
    compose_args
    docker compose "${args[@]}" down --remove-orphans
    if [[ -f "$APP_DIR/images.env" ]]; then
      mv "$APP_DIR/images.env" "$APP_DIR/images.env.failed"
    fi
    return 0
  fi
  cp "$APP_DIR/images.env" "$APP_DIR/images.env.failed"
  cp "$APP_DIR/images.env.previous" "$APP_DIR/images.env"
  if [[ -f "$compose_path.previous" ]]; then
    cp "$compose_path" "$compose_path.failed"
    cp "$compose_path.previous" "$compose_path"
  fi
  say "rolled back to:"
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
  for topic in "$(env_get KAFKA_TOPIC)" "$(env_get EMIT_TOPIC)" "$(env_get RIDERSHIP_TOPIC)"; do
    [[ -n "$topic" ]] || continue
    docker exec "$id" /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:29092 \
      --describe --topic "$topic" >/dev/null 2>&1 || return 1
  done
}

# apps_ready: every app's /readyz answers (app_ports); on a consumer VM
# whose compose file has a dashboard service, the dashboard answers on its
# internal address too.
apps_ready() {
  local port
  for port in $(app_ports); do
    curl -fsS --max-time 5 "http://127.0.0.1:$port/readyz" >/dev/null || return 1
  done
  if [[ "$ROLE" == consumer ]] && docker compose "${args[@]}" config --services 2>/dev/null | grep -qx dashboard; then
    curl -fsS --max-time 5 -o /dev/null "http://$(env_get DASHBOARD_BIND):$(env_get DASHBOARD_PORT)/" || return 1
  fi
}

health() {
  local timeout=${1:-300} waited=0 rc
  compose_args
  # An app VM rolled back from its first deploy runs nothing, as before it.
  if [[ "$ROLE" != kafka && ! -f "$APP_DIR/images.env" ]]; then
    say "no app deployed on this VM: nothing to check"
    return 0
  fi
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

# metric_sum NAME: the sum of every series of NAME on the /metrics of every
# app on this VM (app_ports).
metric_sum() {
  local port
  for port in $(app_ports); do
    curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" || return 1
  done | awk -v name="$1" '$1 == name || index($1, name "{") == 1 { sum += $NF } END { printf "%d\n", sum }'
}

# lag SECONDS: on a consumer VM, the total lag must have fallen over SECONDS,
# or be at most TURNSTILE_LAG_OK records (a consumer that has caught up has
# nothing left to fall).
lag() {
  local window=${1:-60} ok=${TURNSTILE_LAG_OK:-1000} before after
  [[ "$ROLE" == consumer ]] || {
    say "lag: only a consumer VM has a lag"
    return 0
  }
  before="$(metric_sum turnstile_consumer_lag)" || {
    say "lag: cannot read /metrics" >&2
    return 1
  }
  sleep "$window"
  after="$(metric_sum turnstile_consumer_lag)" || {
    say "lag: cannot read /metrics" >&2
    return 1
  }
  if ((after <= ok || after < before)); then
    say "lag: $before -> $after records over ${window}s: falling or caught up"
    return 0
  fi
  say "lag: $before -> $after records over ${window}s: not falling (and above $ok)" >&2
  return 1
}

# probe: one line for the readiness alert, appended to TURNSTILE_PROBE_LOG
# (kept under 1 MiB): not-ready when any app's /readyz (app_ports) fails.
# Nothing before the first deploy: a VM with no app yet is not "not ready".
probe() {
  local log=${TURNSTILE_PROBE_LOG:-/var/log/turnstile/readyz.log} state=ready port
  [[ -f "$APP_DIR/images.env" ]] || return 0
  for port in $(app_ports); do
    if ! curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/readyz"; then
      state=not-ready
    fi
  done
  mkdir -p "$(dirname "$log")"
  if [[ -f "$log" ]] && (($(stat -c %s "$log") > 1048576)); then
    mv "$log" "$log.1"
  fi
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) turnstile-readyz $state vm=$(hostname)" >>"$log"
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
  rollback "${2:-}"
  ;;
health) health "${2:-300}" ;;
lag) lag "${2:-60}" ;;
probe) probe ;;
ps)
  compose_args
  docker compose "${args[@]}" ps -a
  ;;
*)
  echo "usage: turnstile-up [up | deploy COMPOSE [IMAGES_ENV] | rollback [RELEASE] | health SECONDS | lag SECONDS | probe | ps]" >&2
  exit 2
  ;;
esac
