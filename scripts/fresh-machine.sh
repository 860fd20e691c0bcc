#!/usr/bin/env bash
# Proof that the README's quick start works on a fresh machine (issue 4).
#
#   scripts/fresh-machine.sh [--skip-test] [--keep]
#
# It clones the committed HEAD of this repository into a temp dir, with empty
# GOCACHE, GOMODCACHE and GOPATH, and there:
#   1. runs `make test` (timed);
#   2. runs `make run` (build timed separately), lets the pipeline run for
#      60 seconds, and checks that at least two window files appear in
#      ./lake/turnstile/, that every row parses (lake.DecodeWindows, through
#      `bin/runlocal check`) and that the consumer's metrics report no
#      rejected records;
#   3. presses Ctrl-C (SIGINT to make's process group, as a terminal does)
#      and checks that everything stops cleanly, with no process left and
#      no half-written file.
# Needs: git, make, go, gcc, curl. Ports 9092, 9090 and 9102 must be free.
# Exit status 0 only if every step passed.
set -uo pipefail

SKIP_TEST=0
KEEP=0
for arg in "$@"; do
  case "$arg" in
  --skip-test) SKIP_TEST=1 ;;
  --keep) KEEP=1 ;;
  *)
    echo "usage: scripts/fresh-machine.sh [--skip-test] [--keep]" >&2
    exit 2
    ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d /tmp/fresh-machine.XXXXXX)"
REPO="$WORK/repo"
RUN_SECONDS=60
METRICS=http://127.0.0.1:9090/metrics
FAILED=()
SUMMARY=()
MAKE_PID=""

say() { printf '[fresh-machine %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
pass() {
  SUMMARY+=("PASS  $*")
  say "PASS: $*"
}
fail() {
  SUMMARY+=("FAIL  $*")
  FAILED+=("$*")
  say "FAIL: $*"
}

LOGS="/tmp/fresh-machine-logs.$(date +%Y%m%d-%H%M%S)"

cleanup() {
  if [[ -n "$MAKE_PID" ]] && kill -0 "$MAKE_PID" 2>/dev/null; then
    kill -INT -- "-$MAKE_PID" 2>/dev/null
    sleep 20
    kill -KILL -- "-$MAKE_PID" 2>/dev/null
  fi
  mkdir -p "$LOGS"
  cp "$WORK"/*.log "$WORK"/*.txt "$LOGS"/ 2>/dev/null
  cp -r "$REPO/lake/logs" "$LOGS/pipeline-logs" 2>/dev/null
  say "logs saved in $LOGS"
  if [[ "$KEEP" == 1 ]]; then
    say "kept $WORK"
  else
    # The module cache is read-only; go clean removes it.
    GOMODCACHE="$WORK/gomodcache" go clean -modcache 2>/dev/null
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

export GOCACHE="$WORK/gocache" GOMODCACHE="$WORK/gomodcache" GOPATH="$WORK/gopath"
export GOTOOLCHAIN=local
mkdir -p "$GOCACHE" "$GOMODCACHE" "$GOPATH"

say "$(go version), $(nproc) cores; HEAD $(git -C "$ROOT" rev-parse --short HEAD)"
say "cloning into $REPO (empty GOCACHE, GOMODCACHE, GOPATH under $WORK)"
if ! git clone -q "$ROOT" "$REPO"; then
  echo "git clone failed" >&2
  exit 1
fi
cd "$REPO" || exit 1

# 1. make test
if [[ "$SKIP_TEST" == 1 ]]; then
  SUMMARY+=("SKIP  make test (--skip-test)")
else
  say "make test (log: $WORK/make-test.log)"
  start=$SECONDS
  make test >"$WORK/make-test.log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  if [[ $rc == 0 ]]; then
    pass "make test in ${took}s ($((took / 60))m$((took % 60))s)"
  else
    fail "make test exited $rc after ${took}s; failures:"
    grep -E '^(--- FAIL|FAIL|ok |panic:|.*\[build failed\]|# )' "$WORK/make-test.log" | grep -v '^ok ' | head -40 | sed 's/^/      /'
    SUMMARY+=("$(grep -E '^(--- FAIL|FAIL)' "$WORK/make-test.log" | head -20 | sed 's/^/      /')")
  fi
fi

# 2. make run
say "make run (log: $WORK/make-run.log)"
start=$SECONDS
: >"$WORK/make-run.log"
setsid make run >"$WORK/make-run.log" 2>&1 &
MAKE_PID=$!
up=0
while kill -0 "$MAKE_PID" 2>/dev/null; do
  if grep -q 'The pipeline is running' "$WORK/make-run.log"; then
    up=1
    break
  fi
  if ((SECONDS - start > 1200)); then
    break
  fi
  sleep 1
done
took=$((SECONDS - start))
if [[ $up == 1 ]]; then
  pass "make run: built and every component up in ${took}s"
else
  fail "make run: the pipeline did not come up in ${took}s"
  tail -30 "$WORK/make-run.log" | sed 's/^/      /'
fi

if [[ $up == 1 ]]; then
  sed -n '/runlocal: starting/,/logs:/p' "$WORK/make-run.log" | sed 's/^/      | /'
  run_start=$SECONDS
  # At least two window files, every row parses, no rejected records.
  if ./bin/runlocal check --dir lake/turnstile --min-files 2 --wait "${RUN_SECONDS}s" --metrics "$METRICS" >"$WORK/check1.txt" 2>&1; then
    pass "after $((SECONDS - run_start))s of running: $(cat "$WORK/check1.txt")"
  else
    fail "during the run: $(cat "$WORK/check1.txt")"
  fi
  while ((SECONDS - run_start < RUN_SECONDS)); do
    if ! kill -0 "$MAKE_PID" 2>/dev/null; then
      fail "make run exited on its own during the run"
      break
    fi
    sleep 1
  done
  if ./bin/runlocal check --dir lake/turnstile --min-files 2 --metrics "$METRICS" >"$WORK/check2.txt" 2>&1; then
    pass "after ${RUN_SECONDS}s: $(cat "$WORK/check2.txt")"
  else
    fail "after ${RUN_SECONDS}s: $(cat "$WORK/check2.txt")"
  fi
fi

# 3. Ctrl-C: SIGINT to the foreground process group (make and the runner;
# the runner's children are in groups of their own).
if kill -0 "$MAKE_PID" 2>/dev/null; then
  say "Ctrl-C"
  stop_start=$SECONDS
  kill -INT -- "-$MAKE_PID"
  for _ in $(seq 120); do
    kill -0 "$MAKE_PID" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$MAKE_PID" 2>/dev/null; then
    fail "make run still running 60s after Ctrl-C"
  else
    wait "$MAKE_PID"
    rc=$?
    if grep -q 'runlocal: stopped cleanly' "$WORK/make-run.log"; then
      pass "Ctrl-C: stopped cleanly in $((SECONDS - stop_start))s (make exit status $rc)"
    else
      fail "Ctrl-C: no clean stop (make exit status $rc)"
    fi
    sed -n '/interrupt received/,$p' "$WORK/make-run.log" | sed 's/^/      | /'
  fi
  MAKE_PID=""
  left="$(pgrep -af -- "$REPO/bin/")"
  if [[ -z "$left" ]]; then
    pass "no process of $REPO/bin left"
  else
    fail "processes left after Ctrl-C:"
    printf '      %s\n' "$left"
  fi
  if ./bin/runlocal check --dir lake/turnstile --min-files 2 --metrics "" --no-partial >"$WORK/check3.txt" 2>&1; then
    pass "after the stop: $(cat "$WORK/check3.txt"), no temporary file left"
  else
    fail "after the stop: $(cat "$WORK/check3.txt")"
  fi
fi

echo
echo "== fresh-machine summary (total $((SECONDS / 60))m$((SECONDS % 60))s) =="
printf '%s\n' "${SUMMARY[@]}"
if ((${#FAILED[@]} > 0)); then
  echo "== ${#FAILED[@]} step(s) failed"
  exit 1
fi
echo "== all steps passed"
