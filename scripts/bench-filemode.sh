#!/usr/bin/env bash
# bench-filemode.sh: file mode end to end on 10 M synthetic lines, as BENCHMARKS.md records it.
#
# It builds the apps, generates the lines once with the producer (5,000 turnstiles, 200 records
# per second of event time: about 14 hours, 1.3 GB) and runs `consumer --input` over them
# three times into a fresh folder, printing wall time, user time, peak memory and lines/s.
#
# Usage: scripts/bench-filemode.sh [LINES]   (default 10000000; files go to $TMPDIR or /tmp)
set -euo pipefail

lines=${1:-10000000}
work=${TMPDIR:-/tmp}/turnstile-bench
input=$work/lines-$lines.csv
mkdir -p "$work"

make build >/dev/null

if [[ ! -s $input ]]; then
	echo "generating $lines lines into $input"
	# --rate is wall-clock messages per second (high enough not to pace), --speed/--rate is the
	# event-time step per message: 50000/1e7 = 1/200 s.
	./bin/producer --synthetic --turnstiles 5000 --rate 10000000 --speed 50000 --count "$lines" \
		--start "2024-07-22 00:00:00" --out "$input" 2>/dev/null
fi

for run in 1 2 3; do
	rm -rf "$work/lake"
	start=$(date +%s.%N)
	/usr/bin/time -f "%e %U %M" -o "$work/time" \
		./bin/consumer --input "$input" --sink "file://$work/lake/turnstile" 2>/dev/null
	end=$(date +%s.%N)
	read -r _ user rss <"$work/time"
	files=$(find "$work/lake/turnstile" -name '*.csv.gz' | wc -l)
	awk -v n="$lines" -v s="$start" -v e="$end" -v u="$user" -v r="$rss" -v f="$files" -v run="$run" \
		'BEGIN { printf "run %d: %.2f s wall, %.2f s user, max RSS %d MB, %d window files: %.2f M lines/s\n", run, e - s, u, r / 1024, f, n / (e - s) / 1e6 }'
done
