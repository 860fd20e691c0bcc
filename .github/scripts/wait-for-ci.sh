#!/usr/bin/env bash
# wait-for-ci.sh SHA: succeed only when the `ci` workflow (ci.yml) has passed
# on commit SHA in a run that counts, and SHA belongs to the deploy branch.
# The deploy workflows run it first, so that a push to deploy-apps or
# deploy-bitnami, a dispatched image_tag or a rollback to an older SHA deploys
# only a commit whose CI passed.
#
#   - Only `push` runs of ci.yml on main or a deploy branch (CI_BRANCHES)
#     count. A pull_request run, a fork's included, tests a commit that no one
#     has merged: it never clears a SHA for a deploy.
#   - With DEPLOY_REF set (the workflows set origin/deploy-apps or
#     origin/deploy-bitnami), SHA must be an ancestor of that ref (or the ref
#     itself) in the local clone (checked out with fetch-depth: 0): a
#     dispatched SHA from anywhere else is refused before any wait.
#
# While a counting CI run of SHA is queued or running, it waits; it fails
# when every counting run has finished without success, or when none has
# started after CI_START_GRACE seconds.
#
# Needs the GitHub CLI with GH_TOKEN (the job's GITHUB_TOKEN, with
# `actions: read`), GITHUB_REPOSITORY, and git for DEPLOY_REF. docs/deploy.md
# describes the branch protection that completes this gate.
set -euo pipefail

sha=${1:?usage: wait-for-ci.sh SHA}
repo=${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to OWNER/REPO}
workflow=${CI_WORKFLOW:-ci.yml}
branches=${CI_BRANCHES:-main deploy-apps deploy-bitnami}
deploy_ref=${DEPLOY_REF:-}
timeout=${CI_WAIT_TIMEOUT:-3600} # seconds
grace=${CI_START_GRACE:-300}     # seconds to wait for a run to appear
interval=${CI_POLL_INTERVAL:-30}

if [[ ! "$sha" =~ ^[0-9a-f]{40}$ ]]; then
  echo "::error::wait-for-ci: $sha is not a full commit SHA"
  exit 2
fi

if [[ -n "$deploy_ref" ]]; then
  if ! git rev-parse --verify --quiet "$deploy_ref^{commit}" >/dev/null; then
    echo "::error::wait-for-ci: $deploy_ref is not in this clone (check out with fetch-depth: 0)"
    exit 1
  fi
  if ! git cat-file -e "$sha^{commit}" 2>/dev/null; then
    echo "::error::$sha is not a commit of this repository's history; not deploying it"
    exit 1
  fi
  if ! git merge-base --is-ancestor "$sha" "$deploy_ref"; then
    echo "::error::$sha is not an ancestor of $deploy_ref: only a commit of the deploy branch may be deployed or rolled back to"
    exit 1
  fi
  echo "$sha is on $deploy_ref"
fi

# counting RUNS: the lines of RUNS ("STATUS CONCLUSION EVENT BRANCH
# HEAD_REPOSITORY URL") that are push runs of this repository on one of
# $branches, as "STATUS CONCLUSION URL".
counting() {
  local status conclusion event branch head url b
  while read -r status conclusion event branch head url; do
    [[ -n "$status" && "$event" == push && "$head" == "$repo" ]] || continue
    for b in $branches; do
      if [[ "$branch" == "$b" ]]; then
        echo "$status $conclusion $url"
        break
      fi
    done
  done <<<"$1"
}

waited=0
while true; do
  # One line per run of the workflow on this commit:
  # "STATUS CONCLUSION EVENT BRANCH HEAD_REPOSITORY URL"; only the counting
  # ones are kept.
  all="$(gh api "repos/$repo/actions/workflows/$workflow/runs?head_sha=$sha&per_page=100" \
    --jq '.workflow_runs[] | "\(.status) \(.conclusion // "none") \(.event) \(.head_branch // "-") \(.head_repository.full_name // "-") \(.html_url)"')"
  runs="$(counting "$all")"
  if [[ -n "$all" && -z "$runs" && "$waited" -eq 0 ]]; then
    echo "ignoring the CI runs of $sha that are not push runs on $branches:"
    echo "$all"
  fi
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
    echo "::error::no push run of ci.yml on $branches for $sha started within ${grace}s (pull_request runs do not count); push the commit to main or the deploy branch first"
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
