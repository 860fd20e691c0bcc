#!/usr/bin/env bash
# Builds the tools behind `make lint` and `make tf-test` into .cache/tools/
# (gitignored) and reuses them while their inputs are unchanged:
#
#   .cache/tools/bin/tofu        OpenTofu, pinned by tools/tofu/go.mod (~4 min cold)
#   .cache/tools/bin/actionlint  rhysd/actionlint, pinned below
#   .cache/tools/bin/staticcheck honnef.co/go/tools, pinned below
#   .cache/tools/mirror/...      the hashicorp/google TEST DOUBLE
#                                (tools/google-provider-double, its own Go
#                                module) in a provider
#                                filesystem mirror for registry.opentofu.org
#                                and registry.terraform.io
#   .cache/tools/tofurc          an OpenTofu CLI config that installs providers
#                                from that mirror only (offline)
#
# and installs shellcheck from Debian when it is missing. Safe to run again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS_DIR:-$ROOT/.cache/tools}"
BIN="$TOOLS/bin"
GO="${GO:-go}"
ACTIONLINT_VERSION=v1.7.12
STATICCHECK_VERSION=v0.8.2

log() { printf 'tools: %s\n' "$*" >&2; }

# stamp FILES... prints a hash of the given inputs, used to skip rebuilds.
stamp() { cat "$@" | sha256sum | cut -d' ' -f1; }

# fresh NAME HASH BINARY: true when BINARY exists and was built from HASH.
fresh() { [[ -x "$3" && -f "$TOOLS/stamps/$1" && "$(cat "$TOOLS/stamps/$1")" == "$2" ]]; }
record() { printf '%s\n' "$2" >"$TOOLS/stamps/$1"; }

mkdir -p "$BIN" "$TOOLS/stamps"

build_tofu() {
  local hash
  hash="$(stamp "$ROOT/tools/tofu/go.mod" "$ROOT/tools/tofu/go.sum")"
  if fresh tofu "$hash" "$BIN/tofu"; then
    log "tofu is up to date ($(TF_CLI_CONFIG_FILE=/dev/null "$BIN/tofu" version | head -n1))"
    return
  fi
  log "building OpenTofu from tools/tofu/go.mod (about 4 minutes on 2 cores the first time)"
  local start=$SECONDS
  # `go install module@version` refuses modules with replace directives, so
  # build inside the pinned tools module, which carries OpenTofu's replace.
  (cd "$ROOT/tools/tofu" && CGO_ENABLED=0 "$GO" build -trimpath \
    -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
    -o "$BIN/tofu" github.com/opentofu/opentofu/cmd/tofu)
  record tofu "$hash"
  log "built $(TF_CLI_CONFIG_FILE=/dev/null "$BIN/tofu" version | head -n1) in $((SECONDS - start))s"
}

build_provider_double() {
  local version hash os_arch dir
  version="$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$ROOT/tools/google-provider-double/main.go")"
  [[ -n "$version" ]] || { log "cannot read Version from tools/google-provider-double/main.go"; exit 1; }
  os_arch="$("$GO" env GOOS)_$("$GO" env GOARCH)"
  hash="$(stamp "$ROOT"/tools/google-provider-double/*.go "$ROOT/tools/google-provider-double/go.mod" "$ROOT/tools/google-provider-double/go.sum")"
  local primary="$TOOLS/mirror/registry.opentofu.org/hashicorp/google/$version/$os_arch/terraform-provider-google_v$version"
  if fresh provider-double "$hash" "$primary"; then
    log "google provider test double $version is up to date"
  else
    log "building the google provider TEST DOUBLE $version"
    rm -rf "$TOOLS/mirror"
    mkdir -p "$(dirname "$primary")"
    (cd "$ROOT/tools/google-provider-double" && "$GO" build -trimpath -o "$primary" .)
    record provider-double "$hash"
  fi
  # The same binary answers for registry.terraform.io/hashicorp/google too.
  dir="$TOOLS/mirror/registry.terraform.io/hashicorp/google/$version/$os_arch"
  mkdir -p "$dir"
  cp -f "$primary" "$dir/"

  cat >"$TOOLS/tofurc" <<RC
# Written by scripts/tools.sh. Offline OpenTofu CLI config: hashicorp/google
# comes from the local mirror, which holds a TEST DOUBLE, not the real
# provider. Nothing is fetched from a registry.
provider_installation {
  filesystem_mirror {
    path    = "$TOOLS/mirror"
    include = ["registry.opentofu.org/hashicorp/google", "registry.terraform.io/hashicorp/google"]
  }
}
disable_checkpoint = true
RC
}

build_actionlint() {
  local hash
  hash="$(printf '%s %s' "$ACTIONLINT_VERSION" "$("$GO" env GOVERSION)" | sha256sum | cut -d' ' -f1)"
  if fresh actionlint "$hash" "$BIN/actionlint"; then
    log "actionlint $ACTIONLINT_VERSION is up to date"
    return
  fi
  log "building actionlint $ACTIONLINT_VERSION"
  GOBIN="$BIN" CGO_ENABLED=0 "$GO" install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  record actionlint "$hash"
}

build_staticcheck() {
  local hash
  hash="$(printf '%s %s' "$STATICCHECK_VERSION" "$("$GO" env GOVERSION)" | sha256sum | cut -d' ' -f1)"
  if fresh staticcheck "$hash" "$BIN/staticcheck"; then
    log "staticcheck $STATICCHECK_VERSION is up to date"
    return
  fi
  log "building staticcheck $STATICCHECK_VERSION (about a minute)"
  GOBIN="$BIN" CGO_ENABLED=0 "$GO" install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  record staticcheck "$hash"
}

install_shellcheck() {
  if command -v shellcheck >/dev/null 2>&1; then
    log "shellcheck is installed ($(shellcheck --version | sed -n 's/^version: //p'))"
    return
  fi
  log "installing shellcheck from Debian"
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q shellcheck
}

case "${1:-all}" in
all)
  install_shellcheck
  build_actionlint
  build_staticcheck
  build_provider_double
  build_tofu
  ;;
tofu) build_tofu ;;
provider) build_provider_double ;;
actionlint) build_actionlint ;;
staticcheck) build_staticcheck ;;
shellcheck) install_shellcheck ;;
*)
  echo "usage: scripts/tools.sh [all|tofu|provider|actionlint|staticcheck|shellcheck]" >&2
  exit 2
  ;;
esac
