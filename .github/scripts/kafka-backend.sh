#!/usr/bin/env bash
# kafka-backend.sh: may deploy-bitnami deploy anything? Reads KAFKA_BACKEND,
# the repository variable set from `terraform output github_variables`
# (docs/deploy.md, "Set the repository variables"); unset means vm, as for
# deployments from before the variable existed. Writes deploy=true|false to
# $GITHUB_OUTPUT; for managed or external it says, as a notice and in the
# job summary, that there is nothing to deploy. An unknown value fails.
set -euo pipefail

backend="${KAFKA_BACKEND:-vm}"
out="${GITHUB_OUTPUT:-/dev/null}"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"

case "$backend" in
vm)
  echo "kafka_backend is vm: deploying docker/compose.kafka.yaml to the Kafka VM"
  echo "deploy=true" >>"$out"
  ;;
managed | external)
  if [[ "$backend" == managed ]]; then
    why="Kafka is Google Cloud Managed Service for Apache Kafka: Terraform creates the cluster and both topics, and there is no Kafka VM"
  else
    why="Kafka is an existing external cluster, run by its owners: there is no Kafka VM"
  fi
  msg="Nothing to deploy: kafka_backend is $backend. $why, so deploy-bitnami has nothing to do. Deploy the apps with deploy-apps (docs/deploy.md, \"Kafka backends\")."
  echo "::notice title=deploy-bitnami: nothing to deploy::$msg"
  printf '### Nothing to deploy\n\n%s\n' "$msg" >>"$summary"
  echo "deploy=false" >>"$out"
  ;;
*)
  echo "::error::repository variable KAFKA_BACKEND is '$backend'; want vm, managed or external (terraform output github_variables)"
  exit 1
  ;;
esac
