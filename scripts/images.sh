#!/usr/bin/env bash
# `make images`: builds every image of the project from the Dockerfiles in
# docker/, tagged turnstile-<name>:local:
#
#   producer, consumer, dashboard   the apps
#   kafka-local                     the embedded broker (tools/kafka-local)
#   gcs-local                       the GCS emulator (tools/gcs-local), for tests/e2e
#
# Engine: podman when it is installed (this machine kind: no image registry,
# so scripts/podman-setup.sh first builds local base images and they are passed
# as the BUILD_IMAGE and RUNTIME_IMAGE build arguments), else docker with the
# Dockerfiles' defaults (golang:<go>-bookworm, distroless), as on GitHub.
# ENGINE=docker|podman forces one. IMAGES="consumer kafka-local" builds some.
# Each build is timed; the sizes are listed at the end. See docs/containers.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ALL_IMAGES="producer consumer dashboard kafka-local gcs-local"
IMAGES="${IMAGES:-$ALL_IMAGES}"
DEBIAN_RELEASE="${DEBIAN_RELEASE:-bookworm}"
GO_VERSION="$(awk '$1 == "go" {print $2; exit}' go.mod)"

if [[ -z "${ENGINE:-}" ]]; then
  if command -v podman >/dev/null 2>&1; then ENGINE=podman; else ENGINE=docker; fi
fi

args=(--build-arg "GO_VERSION=$GO_VERSION" --build-arg "DEBIAN_RELEASE=$DEBIAN_RELEASE")
case "$ENGINE" in
podman)
  bash scripts/podman-setup.sh
  host_go="$(go env GOVERSION | sed 's/^go//')"
  if [[ $host_go != "$GO_VERSION" ]]; then
    echo "images: the host's Go is $host_go but go.mod says $GO_VERSION; the local builder image copies the host's Go" >&2
  fi
  args+=(
    --build-arg "BUILD_IMAGE=${BUILD_IMAGE:-localhost/turnstile-gobuilder:$host_go-$DEBIAN_RELEASE}"
    --build-arg "RUNTIME_IMAGE=${RUNTIME_IMAGE:-localhost/turnstile-runtime:$DEBIAN_RELEASE}"
    --format docker # keeps HEALTHCHECK (OCI images have none)
  )
  # Builds here reach no module proxy over TLS, so Go modules come from the
  # host's module cache (filled from the Go module proxy by `go mod
  # download`), served read-only as a file:// GOPROXY. go.sum checks them.
  if [[ ${LOCAL_GOPROXY:-1} == 1 ]]; then
    go mod download
    args+=(-v "$(go env GOMODCACHE)/cache/download:/gomodproxy:ro" --build-arg "GOPROXY=file:///gomodproxy")
  fi
  ;;
docker)
  if ! docker info >/dev/null 2>&1; then
    echo "images: no Docker engine answers (docker info failed), and podman is not installed." >&2
    echo "        On Debian without Docker: bash scripts/podman-setup.sh (docs/containers.md)." >&2
    exit 1
  fi
  [[ -n "${BUILD_IMAGE:-}" ]] && args+=(--build-arg "BUILD_IMAGE=$BUILD_IMAGE")
  [[ -n "${RUNTIME_IMAGE:-}" ]] && args+=(--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE")
  ;;
*)
  echo "images: ENGINE must be podman or docker, not $ENGINE" >&2
  exit 2
  ;;
esac

total_start=$(date +%s)
built=()
for name in $IMAGES; do
  dockerfile="docker/$name.Dockerfile"
  if [[ ! -f $dockerfile ]]; then
    echo "images: no $dockerfile (choose from: $ALL_IMAGES)" >&2
    exit 2
  fi
  extra=()
  # BuildKit reads docker/<name>.Dockerfile.dockerignore by itself; podman
  # is told.
  [[ $ENGINE == podman ]] && extra+=(--ignorefile "$dockerfile.dockerignore")
  echo "== images: building turnstile-$name:local with $ENGINE"
  start=$(date +%s)
  "$ENGINE" build "${args[@]}" "${extra[@]}" -f "$dockerfile" -t "turnstile-$name:local" .
  echo "images: turnstile-$name:local built in $(($(date +%s) - start))s"
  built+=("turnstile-$name:local")
done
echo "images: ${#built[@]} images built in $(($(date +%s) - total_start))s with $ENGINE:"
for img in "${built[@]}"; do
  "$ENGINE" image inspect --format "{{.Size}}" "$img" | awk -v img="$img" '{printf "  %-34s %6.1f MB\n", img, $1 / 1e6}'
done
