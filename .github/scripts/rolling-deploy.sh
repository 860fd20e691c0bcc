#!/usr/bin/env bash
# rolling-deploy.sh COMPOSE_FILE IMAGES_ENV: deploy-apps' rollout, one VM at
# a time, with automatic rollback.
#
#   1. each consumer VM of CONSUMER_VM_NAMES in turn: deploy, then wait until
#      it is healthy (/readyz, and the dashboard) and its lag falls (or is
#      small) before the next one;
#   2. then the producer VM (PRODUCER_VM_NAME): deploy, healthy.
#
# On the first failure (a deploy, a health check or a lag check), every VM
# this run has touched, the failing one included, is rolled back to the
# release it ran before (turnstile-up rollback: the previous compose file and
# images.env, i.e. the previous SHA), newest first; the VMs not reached yet
# are left alone, and the script fails. A VM whose deploy failed before it
# changed anything does not run this release and is left as it is (the
# rollback names the release by the sha256 of IMAGES_ENV). A failed rollback
# is reported and
# fails it too (docs/deploy.md, "A deploy that fails").
#
# Environment:
#   CONSUMER_VM_NAMES  space-separated consumer VM names (required)
#   PRODUCER_VM_NAME   the producer VM (required)
#   DEPLOY_VM          the per-VM script (default scripts/deploy-vm.sh next to
#                      this repository's root; the tests put a stub here)
#   HEALTH_TIMEOUT     seconds each VM has to become healthy (default 300)
#   LAG_WINDOW         seconds over which a consumer's lag must fall (default 60)
set -euo pipefail

compose=${1:?usage: rolling-deploy.sh COMPOSE_FILE IMAGES_ENV}
images=${2:?usage: rolling-deploy.sh COMPOSE_FILE IMAGES_ENV}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
deploy_vm=${DEPLOY_VM:-$root/scripts/deploy-vm.sh}
health_timeout=${HEALTH_TIMEOUT:-300}
lag_window=${LAG_WINDOW:-60}
release="$(sha256sum <"$images" | cut -d' ' -f1)"
consumers=${CONSUMER_VM_NAMES:?set CONSUMER_VM_NAMES (space-separated consumer VM names)}
producer=${PRODUCER_VM_NAME:?set PRODUCER_VM_NAME}

# The VMs this run has touched, in order.
touched=()

vm_cmd() { bash "$deploy_vm" "$@"; }

# fail_and_roll_back REASON: roll every touched VM back, newest first, and exit 1.
fail_and_roll_back() {
  echo "::error::$1; rolling back ${touched[*]} to the release before this deploy"
  local i vm failed=()
  for ((i = ${#touched[@]} - 1; i >= 0; i--)); do
    vm=${touched[i]}
    echo "rollback: $vm"
    if vm_cmd rollback "$vm" "$release" && vm_cmd health "$vm" "$health_timeout"; then
      echo "rollback: $vm is back on its previous release and healthy"
    else
      echo "::error::rollback of $vm failed or it is not healthy after it; see docs/deploy.md (A deploy that fails)"
      failed+=("$vm")
    fi
  done
  if ((${#failed[@]})); then
    echo "::error::not rolled back cleanly: ${failed[*]}"
  else
    echo "rolled back: ${touched[*]}"
  fi
  exit 1
}

# roll VM ROLE: deploy VM and check it, or roll back and exit.
roll() {
  local vm=$1 role=$2
  echo "== $role $vm"
  # Touched from the first step on: a deploy that fails half-way may already
  # have changed the VM.
  touched+=("$vm")
  vm_cmd deploy "$vm" "$compose" "$images" || fail_and_roll_back "the deploy to $vm failed"
  vm_cmd health "$vm" "$health_timeout" || fail_and_roll_back "$vm is not healthy after the deploy"
  if [[ "$role" == consumer ]]; then
    vm_cmd lag "$vm" "$lag_window" || fail_and_roll_back "$vm's consumer lag is not falling after the deploy"
  fi
  echo "$vm: deployed and healthy"
}

# The consumers first, so that no records pile up unread.
for vm in $consumers; do
  roll "$vm" consumer
done
roll "$producer" producer
echo "deployed to every VM: $consumers $producer"
