#!/usr/bin/env bash
# Offline tests of terraform/ (`make tf-test`). Needs the tools that
# scripts/tools.sh builds into .cache/tools (run it first; it is idempotent).
#
#   1. tofu fmt -check -recursive
#   2. tofu init -backend=false  (google provider = the TEST DOUBLE from the
#      local mirror; nothing is downloaded). This runs on a staged copy of
#      terraform/ and docker/ in which the exact provider pin of versions.tf
#      is replaced by the double's version, so the real pin stays exact and no
#      lock file of the double ever lands in terraform/.
#   3. tofu validate
#   4. tofu test                 (terraform/tests/*.tftest.hcl, mock_provider)
#   5. go test -tags tftest in terraform/test, its own Go module (terratest:
#      validate, plan assertions, rendered startup scripts through shellcheck,
#      outputs)
#
# Real schema validation against the real provider runs in
# .github/workflows/ci.yml, where the registry is reachable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.cache/tools}"
TOFU="$TOOLS/bin/tofu"

for f in "$TOFU" "$TOOLS/tofurc"; do
  if [[ ! -e "$f" ]]; then
    echo "tf-test: $f is missing; run 'make tools' (bash scripts/tools.sh) first" >&2
    exit 1
  fi
done
command -v shellcheck >/dev/null || {
  echo "tf-test: shellcheck is missing; run 'make tools'" >&2
  exit 1
}

# The machine may point TF_CLI_CONFIG_FILE at a missing file; use ours, which
# installs hashicorp/google from the local mirror only.
export TF_CLI_CONFIG_FILE="$TOOLS/tofurc"
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TOFU_BIN="$TOFU" TOOLS_DIR="$TOOLS"
# Keep .terraform/ and the lock file out of the source tree.
TF_DATA_DIR="$(mktemp -d)"
STAGE="$(mktemp -d)"
export TF_DATA_DIR
trap 'rm -rf "$TF_DATA_DIR" "$STAGE"' EXIT

step() { printf '\n== tf-test: %s\n' "$*"; }

step "tofu fmt -check -recursive"
(cd "$ROOT/terraform" && "$TOFU" fmt -check -recursive -diff)

step "stage terraform/ and docker/ with the provider pin swapped for the test double's"
double_version="$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$ROOT/tools/google-provider-double/main.go")"
pin_re='^([[:space:]]*version[[:space:]]*=[[:space:]]*)"7\.[0-9]+\.[0-9]+"'
if ! grep -Eq "$pin_re" "$ROOT/terraform/versions.tf"; then
  echo "tf-test: terraform/versions.tf must pin hashicorp/google exactly (version = \"7.x.y\")" >&2
  exit 1
fi
cp -R "$ROOT/terraform" "$ROOT/docker" "$STAGE/"
rm -rf "$STAGE/terraform/.terraform" "$STAGE/terraform/.terraform.lock.hcl" "$STAGE/terraform/backend.tf" "$STAGE/terraform/test"
sed -E -i "s/$pin_re/\\1\"$double_version\"/" "$STAGE/terraform/versions.tf"
grep -n "\"$double_version\"" "$STAGE/terraform/versions.tf"
cd "$STAGE/terraform"

step "tofu init -backend=false (provider test double from the local mirror)"
"$TOFU" init -backend=false -input=false -no-color

step "tofu validate"
"$TOFU" validate -no-color

step "tofu test (mock_provider, command = plan)"
"$TOFU" test -no-color

step "terratest: go test -tags tftest (module terraform/test)"
cd "$ROOT/terraform/test"
# -v lists every test and subtest; terratest's own command logs are dropped.
go test -tags tftest -count=1 -timeout 15m -v ./... 2>&1 |
  grep -Ev '^Test[^ ]* [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z [a-z_]+\.go:[0-9]+: '
test "${PIPESTATUS[0]}" -eq 0
