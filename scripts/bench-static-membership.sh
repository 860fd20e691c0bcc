#!/usr/bin/env bash
# Measures how long a consumer killed with SIGKILL and restarted at once takes
# to write its next window file, with and without static membership
# (--instance-id, i.e. group.instance.id).
#
#   bash scripts/bench-static-membership.sh [RUNS]
#
# It starts the embedded broker (bin/kafka-local), a synthetic producer at 60x
# event time with 5-second windows, and a consumer; waits for window files;
# kills the consumer with -9, restarts it with the same flags, and times the
# first window file written after the kill. The consumer uses
# session.timeout.ms=10000 and max.poll.interval.ms=10000: kfake holds a
# killed member's rebalance open until max.poll.interval.ms (Kafka drops it at
# its session timeout), so equal values make both behave like Kafka.
# Loopback only; everything it starts is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-3}"
PORT="${PORT:-19192}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

make -s build >/dev/null

./bin/kafka-local --port "$PORT" --partitions 2 --topics mta-turnstile --min-session-timeout 1s \
  >"$WORK/kafka.log" 2>&1 &
PIDS+=($!)
sleep 1

cat >"$WORK/kafka.properties" <<EOF
bootstrap.servers=127.0.0.1:$PORT
enable.metrics.push=false
session.timeout.ms=10000
heartbeat.interval.ms=1000
max.poll.interval.ms=10000
EOF

./bin/producer --synthetic --turnstiles 50 --rate 200 --speed 60 --config "$WORK/kafka.properties" \
  --topic mta-turnstile --start "$(date -u -d '-2 days' '+%Y-%m-%d %H:%M:%S')" >"$WORK/producer.log" 2>&1 &
PIDS+=($!)

# newest_file prints the newest window file's modification time (ns), or 0.
newest_file() {
  find "$1" -name '*.csv.gz' -printf '%T@\n' 2>/dev/null | sort -n | tail -n1 | tr -d . | cut -c1-19 || true
}

# measure LABEL [EXTRA FLAGS...]: prints seconds from kill -9 to the next file.
measure() {
  local label=$1
  shift
  local lake="$WORK/lake-$label"
  local args=(--config "$WORK/kafka.properties" --group "bench-$label" --duration 5s --watermark 0s
    --idle-close 0 --commit-interval 1s --sink "file://$lake/turnstile" --log-level warn "$@")
  ./bin/consumer "${args[@]}" >>"$WORK/consumer-$label.log" 2>&1 &
  local pid=$!

  for _ in $(seq 1 60); do
    [[ -n "$(find "$lake" -name '*.csv.gz' 2>/dev/null | head -n1)" ]] && break
    sleep 0.5
  done
  for run in $(seq 1 "$RUNS"); do
    sleep 3
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    local killed
    killed=$(date +%s%N)
    ./bin/consumer "${args[@]}" >>"$WORK/consumer-$label.log" 2>&1 &
    pid=$!
    local newest=0
    for _ in $(seq 1 1200); do
      newest=$(newest_file "$lake")
      [[ -n "$newest" && "$newest" -gt "$killed" ]] && break
      sleep 0.05
    done
    echo "$label run $run: $(( (newest - killed) / 1000000 )) ms from kill -9 to the next window file"
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

echo "machine: $(nproc) cores, $(date -u '+%Y-%m-%d')"
measure dynamic
measure static --instance-id bench-consumer-1
