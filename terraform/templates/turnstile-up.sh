#!/usr/bin/env bash
# turnstile-up: start, update or health-check this VM's Compose project.
#
# Installed at /opt/turnstile/bin/turnstile-up by the Terraform startup script
# (terraform/templates/startup.sh.tftpl). The startup script runs it at every
# boot; the deploy workflows run it over IAP SSH after copying a new compose
# file (and, for the apps, a new images.env).
#
#   turnstile-up up              pull images and `docker compose up -d`
#   turnstile-up health SECONDS  wait until the service is healthy
#   turnstile-up ps              show the project's containers
set -euo pipefail

APP_DIR=${TURNSTILE_APP_DIR:-/opt/turnstile}
# shellcheck source=/dev/null
. "$APP_DIR/role.env" # ROLE, COMPOSE_FILE, COMPOSE_PROFILE, REGISTRY_HOST

compose_path="$APP_DIR/current/$COMPOSE_FILE"
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
  if [[ "$ROLE" != kafka && ! -f "$APP_DIR/images.env" ]]; then
    echo "turnstile-up: no app images deployed to this VM yet; push the deploy-apps branch"
    return 0
  fi
  registry_login
  docker compose "${args[@]}" pull --quiet
  docker compose "${args[@]}" up -d --remove-orphans
  docker compose "${args[@]}" ps
}

healthy_once() {
  case "$ROLE" in
  kafka)
    local id
    id="$(docker compose "${args[@]}" ps -q kafka)"
    [[ -n "$id" && "$(docker inspect --format '{{.State.Health.Status}}' "$id")" == healthy ]]
    ;;
  *)
    curl -fsS --max-time 5 "http://127.0.0.1:${METRICS_PORT:-9090}/readyz" >/dev/null
    ;;
  esac
}

health() {
  local timeout=${1:-300} waited=0
  until healthy_once; do
    if ((waited >= timeout)); then
      echo "turnstile-up: $ROLE not healthy after ${timeout}s" >&2
      docker compose "${args[@]}" ps >&2 || true
      docker compose "${args[@]}" logs --tail 50 >&2 || true
      return 1
    fi
    sleep 5
    waited=$((waited + 5))
  done
  echo "turnstile-up: $ROLE is healthy"
}

case "${1:-up}" in
up) up ;;
health) health "${2:-300}" ;;
ps) docker compose "${args[@]}" ps ;;
*)
  echo "usage: turnstile-up [up | health SECONDS | ps]" >&2
  exit 2
  ;;
esac
