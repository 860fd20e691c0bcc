#!/usr/bin/env bash
# Deploys a compose file (and, for the apps, image tags) to one turnstile VM
# over IAP SSH, and waits for it to be healthy. Used by
# .github/workflows/deploy-bitnami.yml and deploy-apps.yml; works the same from
# a workstation with gcloud logged in (docs/deploy.md).
#
#   scripts/deploy-vm.sh deploy   VM COMPOSE_FILE [IMAGES_ENV_FILE]
#   scripts/deploy-vm.sh health   VM [TIMEOUT_SECONDS]
#   scripts/deploy-vm.sh lag      VM [SECONDS]  # a consumer's lag falls (or is small)
#   scripts/deploy-vm.sh rollback VM [RELEASE]  # back to the previous compose file
#                                               # and images.env (RELEASE: only if the
#                                               # VM runs that images.env, by sha256)
#
# .github/scripts/rolling-deploy.sh runs these one VM at a time for deploy-apps.
#
# Environment: PROJECT_ID and ZONE (the Terraform outputs of the same names).
# The VM side (/opt/turnstile/bin/turnstile-up) is installed by the Terraform
# startup script, terraform/templates/startup.sh.tftpl. Every command first
# waits for that script's ready marker (a VM that is still booting is waited
# for); turnstile-up then holds a lock, so deploys never overlap.
set -euo pipefail

gcloud_flags() {
  : "${PROJECT_ID:?set PROJECT_ID (terraform output -raw project_id)}"
  : "${ZONE:?set ZONE (terraform output -raw zone)}"
  gc=(--project "$PROJECT_ID" --zone "$ZONE" --tunnel-through-iap --quiet --strict-host-key-checking=no)
}

remote() {
  local vm=$1 script=$2
  gcloud_flags
  gcloud compute ssh "$vm" "${gc[@]}" --command "$script"
}

# Wait for this boot's startup script to finish: it writes the ready marker
# /run/turnstile/ready at its very end (/run is cleared at every reboot). A
# deploy that arrives during a boot waits here; turnstile-up's lock covers the
# rest. (Expanded on the VM, hence the single quotes.)
# shellcheck disable=SC2016
readonly wait_for_startup='for _ in $(seq 90); do
  [ -f /run/turnstile/ready ] && break
  echo "waiting for the startup script to finish (the VM may be booting)"; sleep 10
done
[ -f /run/turnstile/ready ] || { echo "the startup script has not finished after 15 min: see the serial console"; exit 1; }'

deploy() {
  local vm=$1 compose=$2 images=${3:-}
  local files=("$compose") remote_images=""
  if [[ -n "$images" ]]; then
    files+=("$images")
    remote_images="/tmp/$(basename "$images")"
  fi
  echo "deploy: copying ${files[*]} to $vm"
  gcloud_flags
  gcloud compute scp "${gc[@]}" "${files[@]}" "$vm:/tmp/"
  remote "$vm" "set -eu
$wait_for_startup
sudo /opt/turnstile/bin/turnstile-up deploy /tmp/$(basename "$compose") $remote_images"
}

health() {
  local vm=$1 timeout=${2:-300}
  echo "health: waiting up to ${timeout}s for $vm"
  remote "$vm" "set -eu
$wait_for_startup
sudo /opt/turnstile/bin/turnstile-up health $timeout"
}

lag() {
  local vm=$1 window=${2:-60}
  echo "lag: watching $vm's consumer lag for ${window}s"
  remote "$vm" "set -eu
sudo /opt/turnstile/bin/turnstile-up lag $window"
}

rollback() {
  local vm=$1 release=${2:-}
  if [[ -n "$release" && ! "$release" =~ ^[0-9a-f]{64}$ ]]; then
    echo "rollback: RELEASE must be a sha256" >&2
    exit 2
  fi
  remote "$vm" "set -eu
$wait_for_startup
sudo /opt/turnstile/bin/turnstile-up rollback $release"
}

usage() {
  sed -n '2,20p' "$0" >&2
  exit 2
}

cmd=${1:-}
shift || true
case "$cmd" in
deploy) if [[ $# -lt 2 ]]; then usage; fi; deploy "$@" ;;
health) if [[ $# -lt 1 ]]; then usage; fi; health "$@" ;;
lag) if [[ $# -lt 1 ]]; then usage; fi; lag "$@" ;;
rollback) if [[ $# -lt 1 || $# -gt 2 ]]; then usage; fi; rollback "$@" ;;
*) usage ;;
esac
