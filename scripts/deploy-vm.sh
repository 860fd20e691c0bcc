#!/usr/bin/env bash
# Deploys a compose file (and, for the apps, image tags) to one turnstile VM
# over IAP SSH, and waits for it to be healthy. Used by
# .github/workflows/deploy-bitnami.yml and deploy-apps.yml; works the same from
# a workstation with gcloud logged in (docs/deploy.md).
#
#   scripts/deploy-vm.sh deploy   VM COMPOSE_FILE [IMAGES_ENV_FILE]
#   scripts/deploy-vm.sh health   VM [TIMEOUT_SECONDS]
#   scripts/deploy-vm.sh rollback VM          # back to the previous images.env
#
# Environment: PROJECT_ID and ZONE (the Terraform outputs of the same names).
# The VM side (/opt/turnstile/bin/turnstile-up) is installed by the Terraform
# startup script, terraform/templates/startup.sh.tftpl.
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

# The VM's first boot installs Docker before turnstile-up exists. (Expanded on
# the VM, hence the single quotes.)
# shellcheck disable=SC2016
readonly wait_for_startup='for _ in $(seq 60); do
  [ -x /opt/turnstile/bin/turnstile-up ] && break
  echo "waiting for the startup script to finish"; sleep 10
done
[ -x /opt/turnstile/bin/turnstile-up ] || { echo "turnstile-up is missing: see the serial console"; exit 1; }'

deploy() {
  local vm=$1 compose=$2 images=${3:-}
  local name
  name="$(basename "$compose")"
  local files=("$compose")
  local install_images=""
  if [[ -n "$images" ]]; then
    files+=("$images")
    install_images="if [ -f /opt/turnstile/images.env ]; then sudo cp /opt/turnstile/images.env /opt/turnstile/images.env.previous; fi
sudo install -m 0644 /tmp/$(basename "$images") /opt/turnstile/images.env"
  fi
  echo "deploy: copying ${files[*]} to $vm"
  gcloud_flags
  gcloud compute scp "${gc[@]}" "${files[@]}" "$vm:/tmp/"
  remote "$vm" "set -eu
$wait_for_startup
sudo install -D -m 0644 /tmp/$name /opt/turnstile/current/$name
$install_images
sudo /opt/turnstile/bin/turnstile-up up"
}

health() {
  local vm=$1 timeout=${2:-300}
  echo "health: waiting up to ${timeout}s for $vm"
  remote "$vm" "sudo /opt/turnstile/bin/turnstile-up health $timeout"
}

rollback() {
  local vm=$1
  remote "$vm" "set -eu
test -f /opt/turnstile/images.env.previous || { echo 'no previous deployment on this VM'; exit 1; }
sudo cp /opt/turnstile/images.env /opt/turnstile/images.env.failed
sudo cp /opt/turnstile/images.env.previous /opt/turnstile/images.env
cat /opt/turnstile/images.env
sudo /opt/turnstile/bin/turnstile-up up"
}

usage() {
  sed -n '2,14p' "$0" >&2
  exit 2
}

cmd=${1:-}
shift || true
case "$cmd" in
deploy) if [[ $# -lt 2 ]]; then usage; fi; deploy "$@" ;;
health) if [[ $# -lt 1 ]]; then usage; fi; health "$@" ;;
rollback) if [[ $# -ne 1 ]]; then usage; fi; rollback "$@" ;;
*) usage ;;
esac
