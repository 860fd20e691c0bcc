#!/usr/bin/env bash
# A local container engine for a Linux machine without Docker: Debian's podman
# serving the Docker API on a unix socket, plus the base images that the
# Dockerfiles in docker/ need, built here because no image registry is
# reachable. Idempotent: every step checks first and skips what is done, so
# .ci/run calls it on every run and it works on a fresh machine too.
#
#   bash scripts/podman-setup.sh          # then: export DOCKER_HOST=unix:///run/podman/podman.sock
#
# Steps (each timed):
#   1. apt-get install podman runc debootstrap docker-compose and the dnsname
#      CNI plugin (if missing)
#   2. /etc/containers/containers.conf: runc, cgroupfs, no default ulimits
#   3. `podman system service` on $PODMAN_SOCK (the Docker-compatible API)
#   4. localhost/debian:<release>      debootstrap --variant=minbase, imported
#   5. localhost/turnstile-gobuilder:<go>-<release>   Debian + gcc + the host's Go
#   6. localhost/turnstile-runtime:<release>          Debian + CA certs + tzdata + uid 65532
#
# Environment: PODMAN_SOCK (default /run/podman/podman.sock), DEBIAN_MIRROR
# (default: the first URI of the host's apt sources, else deb.debian.org),
# DEBIAN_RELEASE (bookworm), FORCE_BASE_IMAGES=1 rebuilds steps 4-6.
# See docs/containers.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PODMAN_SOCK="${PODMAN_SOCK:-/run/podman/podman.sock}"
DEBIAN_RELEASE="${DEBIAN_RELEASE:-bookworm}"
FORCE_BASE_IMAGES="${FORCE_BASE_IMAGES:-0}"
STATE_DIR="${PODMAN_SETUP_STATE:-/var/tmp/turnstile-podman}"

say() { printf 'podman-setup: %s\n' "$*"; }
# timed NAME CMD...: runs CMD and reports how long it took.
timed() {
  local name="$1" start end
  shift
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  say "step '$name' took $((end - start))s"
}

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    say "run me as root (apt-get, /etc/containers and a rootful podman socket)" >&2
    exit 1
  fi
}

host_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | grep -oE 'https?://[^ ]+' | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

packages() {
  local missing=() p
  # The dnsname CNI plugin gives user-defined networks their DNS (containers
  # find each other by name and alias, e.g. kafka); without it podman 4.3 on
  # CNI resolves no container names.
  for p in podman runc debootstrap docker-compose golang-github-containernetworking-plugin-dnsname; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    say "packages present: podman $(podman --version | awk '{print $3}'), runc, debootstrap, docker-compose, dnsname"
    return
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

containers_conf() {
  local conf=/etc/containers/containers.conf
  local want='# turnstile-stream scripts/podman-setup.sh: crun fails here with "cgroups in
# hybrid mode not supported", and the default nofile ulimit with "setrlimit
# RLIMIT_NOFILE: Operation not permitted"; runc and cgroupfs work.
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"'
  mkdir -p /etc/containers
  if [[ -f $conf ]] && grep -q 'runtime = "runc"' "$conf" && grep -q 'cgroup_manager = "cgroupfs"' "$conf" && grep -q 'default_ulimits = \[\]' "$conf"; then
    say "$conf already selects runc, cgroupfs and no default ulimits"
    return
  fi
  if [[ -s $conf ]]; then
    cp "$conf" "$conf.turnstile-backup"
    say "saved the previous $conf as $conf.turnstile-backup"
  fi
  printf '%s\n' "$want" >"$conf"
  say "wrote $conf"
}

socket_ok() { podman --url "unix://$PODMAN_SOCK" version >/dev/null 2>&1; }

service() {
  if socket_ok; then
    say "podman API already serving on unix://$PODMAN_SOCK"
    return
  fi
  mkdir -p "$(dirname "$PODMAN_SOCK")" "$STATE_DIR"
  rm -f "$PODMAN_SOCK"
  # setsid: the service outlives this script (and the make that ran it).
  # cd /: conmon inherits the service's working directory and fails ("Failed
  # to get working directory", then "write child: broken pipe" for every
  # container start) once that directory is gone, e.g. a deleted CI clone.
  (cd / && exec setsid nohup podman system service --time=0 "unix://$PODMAN_SOCK" >"$STATE_DIR/service.log" 2>&1 </dev/null) &
  echo $! >"$STATE_DIR/service.pid"
  local _
  for _ in $(seq 1 100); do
    if socket_ok; then
      say "podman API serving on unix://$PODMAN_SOCK (pid $(cat "$STATE_DIR/service.pid"), log $STATE_DIR/service.log)"
      return
    fi
    sleep 0.2
  done
  say "podman system service did not answer on $PODMAN_SOCK within 20s; its log:" >&2
  cat "$STATE_DIR/service.log" >&2
  exit 1
}

have_image() { [[ $FORCE_BASE_IMAGES != 1 ]] && podman image exists "$1"; }

debian_image() {
  local img="localhost/debian:$DEBIAN_RELEASE"
  if have_image "$img"; then
    say "$img exists (FORCE_BASE_IMAGES=1 rebuilds it)"
    return
  fi
  local mirror dir
  mirror=$(host_mirror)
  dir=$(mktemp -d /var/tmp/turnstile-debootstrap.XXXXXX)
  # shellcheck disable=SC2064 # expand $dir now
  trap "rm -rf '$dir'" RETURN
  say "debootstrap --variant=minbase $DEBIAN_RELEASE from $mirror (about 1-2 min)"
  debootstrap --variant=minbase "$DEBIAN_RELEASE" "$dir/rootfs" "$mirror" >"$dir/debootstrap.log" 2>&1 || {
    tail -30 "$dir/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$dir"/rootfs/var/cache/apt/archives/*.deb "$dir"/rootfs/var/cache/apt/*.bin "$dir"/rootfs/var/lib/apt/lists/*
  tar -C "$dir/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$img" >/dev/null
  say "imported $img"
}

go_version() { go env GOVERSION | sed 's/^go//'; }

gobuilder_image() {
  local img
  img="localhost/turnstile-gobuilder:$(go_version)-$DEBIAN_RELEASE"
  if have_image "$img"; then
    say "$img exists"
    return
  fi
  say "building $img (Debian + gcc + the host's Go from $(go env GOROOT))"
  podman build -q -f "$ROOT/docker/local/gobuilder.Containerfile" \
    --build-arg "BASE_IMAGE=localhost/debian:$DEBIAN_RELEASE" -t "$img" "$(go env GOROOT)" >/dev/null
}

runtime_image() {
  local img="localhost/turnstile-runtime:$DEBIAN_RELEASE"
  if have_image "$img"; then
    say "$img exists"
    return
  fi
  say "building $img (Debian + CA certificates + tzdata + nonroot 65532)"
  podman build -q -f "$ROOT/docker/local/runtime.Containerfile" \
    --build-arg "BASE_IMAGE=localhost/debian:$DEBIAN_RELEASE" -t "$img" "$ROOT/docker/local" >/dev/null
}

need_root
timed packages packages
timed containers.conf containers_conf
timed service service
timed debootstrap debian_image
timed gobuilder gobuilder_image
timed runtime runtime_image
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'localhost/(debian|turnstile-(gobuilder|runtime))' | sed 's/^/podman-setup: image /'
say "ready: export DOCKER_HOST=unix://$PODMAN_SOCK TESTCONTAINERS_RYUK_DISABLED=true"
