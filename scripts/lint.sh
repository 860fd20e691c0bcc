#!/usr/bin/env bash
# `make lint`: static checks that need no network. Run `make tools` (bash
# scripts/tools.sh) first; it builds actionlint, staticcheck and tofu into
# .cache/tools.
#
#   gofmt -l over every git-tracked .go file
#   go vet ./...   (root module) and go vet of the tool modules:
#                  tools/google-provider-double, terraform/test (build-tagged)
#   go mod tidy -diff in the root module and in every tool module
#   staticcheck ./...   (root module)
#   actionlint, with shellcheck, over every workflow in .github/workflows
#   ShellCheck over scripts/*.sh, .github/scripts/*.sh and the VM helper
#   terraform/templates/turnstile-up.sh
#   tofu fmt -check -recursive terraform
#   docker/compose*.yaml loaded by compose-go (tools/composecheck, no engine needed)
#
# `scripts/lint.sh go` runs only the Go checks (gofmt, vet, tidy, staticcheck),
# which need staticcheck alone (bash scripts/tools.sh staticcheck).
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
only="${1:-all}"
case "$only" in
all | go) ;;
*)
  echo "usage: scripts/lint.sh [all|go]" >&2
  exit 2
  ;;
esac
need "$TOOLS/bin/staticcheck"
if [[ "$only" == all ]]; then
  need "$TOOLS/bin/actionlint"
  need "$TOOLS/bin/tofu"
  need shellcheck
fi

# The Go modules besides the root one: each has its own go.mod, so the root's
# ./... does not reach them.
tool_modules=(tools/google-provider-double terraform/test tools/composecheck tools/tofu)

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

step "go vet ./... (root module, and the tests/e2e containers build)"
go vet ./... || fail=1
go vet -tags containers ./tests/e2e/ || fail=1

step "go vet (tool modules)"
(cd tools/google-provider-double && go vet ./...) || fail=1
(cd terraform/test && go vet -tags tftest,gcp ./...) || fail=1

step "go mod tidy -diff (root and tool modules)"
for dir in . "${tool_modules[@]}"; do
  if (cd "$dir" && go mod tidy -diff); then
    echo "$dir: tidy"
  else
    echo "$dir: go.mod/go.sum are not tidy; run (cd $dir && go mod tidy)" >&2
    fail=1
  fi
done

step "staticcheck ./... (root module)"
"$TOOLS/bin/staticcheck" ./... && echo "clean" || fail=1

if [[ "$only" == go ]]; then
  if ((fail)); then
    echo -e "\nlint: FAILED" >&2
    exit 1
  fi
  echo -e "\nlint: Go checks passed"
  exit 0
fi

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
