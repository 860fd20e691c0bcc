#!/usr/bin/env bash
# `make lint`: static checks that need no network. Run `make tools` (bash
# scripts/tools.sh) first; it builds actionlint and tofu into .cache/tools.
#
#   gofmt -l over every git-tracked .go file
#   go vet ./...   (and the build-tagged Terraform tests)
#   actionlint, with shellcheck, over every workflow in .github/workflows
#   ShellCheck over scripts/*.sh, .github/scripts/*.sh and the VM helper
#   terraform/templates/turnstile-up.sh
#   tofu fmt -check -recursive terraform
#   docker/compose*.yaml loaded by compose-go (tools/composecheck, no engine needed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.cache/tools}"
cd "$ROOT"

fail=0
step() { printf '\n== lint: %s\n' "$*"; }
need() {
  if [[ ! -x "$1" ]] && ! command -v "$1" >/dev/null 2>&1; then
    echo "lint: $1 is missing; run 'make tools' (bash scripts/tools.sh) first" >&2
    exit 1
  fi
}
need "$TOOLS/bin/actionlint"
need "$TOOLS/bin/tofu"
need shellcheck

step "gofmt -l (git-tracked .go files)"
mapfile -t gofiles < <(git ls-files -- '*.go')
if ((${#gofiles[@]})); then
  unformatted="$(gofmt -l "${gofiles[@]}")"
  if [[ -n "$unformatted" ]]; then
    echo "not gofmt-formatted:" >&2
    echo "$unformatted" >&2
    fail=1
  else
    echo "${#gofiles[@]} files formatted"
  fi
fi

step "go vet ./..."
go vet ./... || fail=1
go vet -tags tftest,gcp ./terraform/test/ || fail=1

step "actionlint (with shellcheck) on .github/workflows"
mapfile -t workflows < <(git ls-files -- '.github/workflows/*.yml' '.github/workflows/*.yaml')
if ((${#workflows[@]} == 0)); then
  echo "no workflows found" >&2
  fail=1
else
  "$TOOLS/bin/actionlint" -shellcheck "$(command -v shellcheck)" "${workflows[@]}" && echo "${#workflows[@]} workflows clean" || fail=1
fi

step "shellcheck scripts"
shellcheck scripts/*.sh .github/scripts/*.sh terraform/templates/turnstile-up.sh && echo "clean" || fail=1

step "tofu fmt -check -recursive terraform"
TF_CLI_CONFIG_FILE="$TOOLS/tofurc" "$TOOLS/bin/tofu" fmt -check -recursive -diff terraform && echo "clean" || fail=1

step "compose files (compose-go: schema, interpolation, profiles)"
(cd tools/composecheck && go test -count=1 ./...) || fail=1

if ((fail)); then
  echo -e "\nlint: FAILED" >&2
  exit 1
fi
echo -e "\nlint: all checks passed"
