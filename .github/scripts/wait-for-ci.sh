#!/usr/bin/env bash
# wait-for-ci.sh SHA: succeed only when the `ci` workflow (ci.yml) has passed
# on commit SHA. The deploy workflows run it first, so that a push to
# deploy-apps or deploy-bitnami (or a rollback to an older SHA) deploys only a
# commit whose CI passed. While a CI run of SHA is queued or running, it
# waits; it fails when every CI run of SHA has finished without success, or
# when none has started after CI_START_GRACE seconds.
#
# Needs the GitHub CLI with GH_TOKEN (the job's GITHUB_TOKEN, with
# `actions: read`) and GITHUB_REPOSITORY. docs/deploy.md describes the branch
# protection that completes this gate.
set -euo pipefail

sha=${1:?usage: wait-for-ci.sh SHA}
repo=${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to OWNER/REPO}
workflow=${CI_WORKFLOW:-ci.yml}
timeout=${CI_WAIT_TIMEOUT:-3600} # seconds
grace=${CI_START_GRACE:-300}     # seconds to wait for a run to appear
interval=${CI_POLL_INTERVAL:-30}

if [[ ! "$sha" =~ ^[0-9a-f]{40}$ ]]; then
  echo "::error::wait-for-ci: $sha is not a full commit SHA"
  exit 2
fi

waited=0
while true; do
  # One line per run of the workflow on this commit: "STATUS CONCLUSION URL".
  runs="$(gh api "repos/$repo/actions/workflows/$workflow/runs?head_sha=$sha&per_page=100" \
    --jq '.workflow_runs[] | "\(.status) \(.conclusion // "none") \(.html_url)"')"
  if grep -q '^completed success ' <<<"$runs"; then
    echo "CI passed on $sha: $(grep '^completed success ' <<<"$runs" | head -n1 | cut -d' ' -f3)"
    exit 0
  fi
  if [[ -n "$runs" ]] && ! grep -qv '^completed ' <<<"$runs"; then
    echo "::error::every CI run of $sha finished without success; not deploying it"
    echo "$runs"
    exit 1
  fi
  if [[ -z "$runs" ]] && ((waited >= grace)); then
    echo "::error::no CI run of $sha started within ${grace}s; push the commit to a branch that runs ci.yml first"
    exit 1
  fi
  if ((waited >= timeout)); then
    echo "::error::CI of $sha has not finished after ${timeout}s"
    echo "$runs"
    exit 1
  fi
  echo "waiting for CI on $sha (${waited}s): ${runs:-no run yet}"
  sleep "$interval"
  waited=$((waited + interval))
done
