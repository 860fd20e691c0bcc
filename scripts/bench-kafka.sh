#!/usr/bin/env bash
# bench-kafka.sh: Kafka mode against a raw librdkafka read of the same topic (issue #13).
#
# It builds the apps, starts the embedded broker (tools/kafka-local) as its own process,
# produces LINES synthetic messages (default 1 M, 5,000 turnstiles, 20 records per second
# of event time) over 4 partitions with kcat, keyed by turnstile (CA/UNIT/SCP), then,
# alternately, RUNS times each:
#   - times `kcat -C -e` reading every partition to its end (librdkafka, output discarded);
#   - starts the consumer in a fresh group with --metrics-addr and times it from its first
#     record (turnstile_consumer_records_in_total > 0) to the last one, polling /metrics.
# It prints every run, the medians, the ranges and the ratio of the medians (records/s).
#
# Needs kcat (Debian: apt-get install kcat) and curl.
#
# Usage: scripts/bench-kafka.sh [LINES] [RUNS]   (defaults 1000000 and 3; files in $TMPDIR or /tmp)
#   CONSUMER_ARGS: extra consumer flags, e.g. CONSUMER_ARGS='--config bench.properties'.
#   BASELINE=BINARY: also run this consumer build (e.g. an older one) in each run, alternately.
#   RSS_EVERY=N: print the consumer's RSS and peak RSS each time it has read N more records.
#   BENCH_PERF=DIR: record each consumer run with `perf record -g` into DIR/perf-N.data.
set -euo pipefail

lines=${1:-1000000}
runs=${2:-3}
work=${TMPDIR:-/tmp}/turnstile-bench-kafka
port=${BENCH_KAFKA_PORT:-19092}
mport=${BENCH_METRICS_PORT:-19093}
topic=bench-turnstile
broker=127.0.0.1:$port
mkdir -p "$work"

for tool in kcat curl; do
	command -v "$tool" >/dev/null || { echo "bench-kafka: $tool is needed" >&2; exit 1; }
done

make build >/dev/null

input=$work/lines-$lines.csv
if [[ ! -s $input ]]; then
	echo "generating $lines lines into $input"
	./bin/producer --synthetic --turnstiles 5000 --rate 10000000 --speed 500000 --count "$lines" \
		--start "2024-07-22 00:00:00" --out "$input" 2>/dev/null
fi
# key TAB value, the key being the turnstile (CA/UNIT/SCP).
keyed=$work/keyed-$lines.tsv
[[ -s $keyed ]] || awk -F, '{ printf "%s/%s/%s\t%s\n", $1, $2, $3, $0 }' "$input" >"$keyed"

pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

./bin/kafka-local --port "$port" --partitions 4 --topics "$topic" >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	kcat -L -b "$broker" -t "$topic" >/dev/null 2>&1 && break
	sleep 0.1
done

echo "producing $lines messages to $topic (4 partitions) with kcat"
kcat -P -b "$broker" -t "$topic" -K $'\t' -z none -X linger.ms=50 -X batch.num.messages=10000 -l "$keyed"
produced=$(kcat -C -b "$broker" -t "$topic" -o beginning -e -q -f 'x\n' | wc -l)
[[ $produced -eq $lines ]] || { echo "bench-kafka: the topic holds $produced messages, want $lines" >&2; exit 1; }

now() { date +%s.%N; }

kcat_run() {
	local start end
	start=$(now)
	/usr/bin/time -f '%U %S' -o "$work/kcat-time" kcat -C -b "$broker" -t "$topic" -o beginning -e -q -f '%o\n' >/dev/null
	end=$(now)
	read -r user sys <"$work/kcat-time"
	awk -v s="$start" -v e="$end" -v n="$lines" -v c="$user" -v d="$sys" 'BEGIN { printf "%.3f %.0f %.2f\n", e - s, n / (e - s), c + d }'
}

records_in() {
	{ curl -fs "http://127.0.0.1:$mport/metrics" 2>/dev/null || true; } |
		awk '$1 == "turnstile_consumer_records_in_total" { printf "%.0f\n", $2; found = 1 } END { if (!found) print 0 }'
}

# consumer_run N [BINARY]: prints seconds from the first record to the last, and records/s.
consumer_run() {
	local group=bench-$$-$1-${2:+b} first="" end n pid
	rm -rf "$work/lake"
	# shellcheck disable=SC2086 # CONSUMER_ARGS is a list of flags
	"${2:-./bin/consumer}" --bootstrap "$broker" --topic "$topic" --group "$group" --metrics-addr "127.0.0.1:$mport" \
		--sink "file://$work/lake/turnstile" ${CONSUMER_ARGS:-} 2>"$work/consumer-$1.log" &
	pid=$!
	local perf=""
	if [[ -n ${BENCH_PERF:-} ]]; then
		mkdir -p "$BENCH_PERF"
		perf record -q -F 499 -g -p "$pid" -o "$BENCH_PERF/perf-$1${2:+-baseline}.data" 2>/dev/null &
		perf=$!
	fi
	local every=${RSS_EVERY:-0} mark=${RSS_EVERY:-0}
	while :; do
		n=$(records_in)
		if [[ -z $first && $n -gt 0 ]]; then first=$(now); fi
		while [[ $every -gt 0 && $n -ge $mark ]]; do
			awk -v m="$mark" '/VmRSS/ { r = int($2 / 1024) } /VmHWM/ { h = int($2 / 1024) } END { printf "  %d records: RSS %d MB, peak %d MB\n", m, r, h }' "/proc/$pid/status" >&2
			mark=$((mark + every))
		done
		if [[ $n -ge $lines ]]; then end=$(now); break; fi
		kill -0 "$pid" 2>/dev/null || { echo "bench-kafka: the consumer exited; see $work/consumer-$1.log" >&2; exit 1; }
		sleep 0.02
	done
	# /proc/PID/status VmHWM: the peak RSS.
	local rss cpu
	rss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$pid/status")
	# user + system CPU seconds (fields 14 and 15 of /proc/PID/stat, in clock ticks)
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$pid/stat")
	if [[ -n $perf ]]; then kill -INT "$perf"; wait "$perf" 2>/dev/null || true; fi
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	awk -v s="$first" -v e="$end" -v n="$lines" -v r="$rss" -v c="$cpu" 'BEGIN { printf "%.3f %.0f %d %s\n", e - s, n / (e - s), r, c }'
}

machine=$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
echo "machine: $(nproc) CPUs, $machine; load average: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
kr=() cr=() br=()
for run in $(seq "$runs"); do
	read -r ks krate kcpu < <(kcat_run)
	read -r cs crate rss ccpu < <(consumer_run "$run")
	kr+=("$krate") cr+=("$crate")
	echo "run $run: kcat -C -e ${ks} s (${krate} records/s, ${kcpu} s CPU), consumer ${cs} s from its first record (${crate} records/s, ${ccpu} s CPU in all, peak RSS ${rss} MB)"
	if [[ -n ${BASELINE:-} ]]; then
		read -r bs brate brss bcpu < <(consumer_run "$run" "$BASELINE")
		br+=("$brate")
		echo "run $run: baseline $BASELINE ${bs} s (${brate} records/s, ${bcpu} s CPU in all, peak RSS ${brss} MB)"
	fi
done

# stats: median and range of the arguments.
stats() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'; }
read -r km klo khi < <(stats "${kr[@]}")
read -r cm clo chi < <(stats "${cr[@]}")
awk -v km="$km" -v klo="$klo" -v khi="$khi" -v cm="$cm" -v clo="$clo" -v chi="$chi" 'BEGIN {
	printf "kcat -C -e: median %.0f k records/s (%.0f-%.0f k)\n", km / 1e3, klo / 1e3, khi / 1e3
	printf "consumer:   median %.0f k records/s (%.0f-%.0f k)\n", cm / 1e3, clo / 1e3, chi / 1e3
	printf "ratio of the medians: %.2f\n", cm / km }'
if [[ -n ${BASELINE:-} ]]; then
	read -r bm blo bhi < <(stats "${br[@]}")
	awk -v bm="$bm" -v blo="$blo" -v bhi="$bhi" -v km="$km" 'BEGIN {
		printf "baseline:   median %.0f k records/s (%.0f-%.0f k), ratio %.2f\n", bm / 1e3, blo / 1e3, bhi / 1e3, bm / km }'
fi
