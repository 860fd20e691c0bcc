#!/usr/bin/env bash
# bench-vs-duckdb.sh: file mode against DuckDB doing the same 5-minute windows (issue #13).
#
# It builds the apps, generates two inputs with the producer (2 M lines, 5,000 turnstiles,
# about 46 and 20 records per second of event time), then, alternately and three times each,
# runs `consumer --input` into a fresh folder and a DuckDB script (typed read_csv, GROUP BY
# the key and the window, COPY ... (COMPRESSION gzip)) over the same file. It prints every
# run, then the best of 3 of each and their ratio.
#
# DuckDB comes from npm (@duckdb/node-api), installed on first use into a cache folder
# outside the repository: $TURNSTILE_BENCH_CACHE, default ~/.cache/turnstile-bench.
# Needs node >= 18 and npm.
#
# Usage: scripts/bench-vs-duckdb.sh [LINES]   (default 2000000; work files go to $TMPDIR or /tmp)
#   BASELINE=BINARY: also run this consumer build (e.g. an older one) in each run, alternately.
set -euo pipefail

lines=${1:-2000000}
runs=3
duckdb_version=1.5.6-r.1
cache=${TURNSTILE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/turnstile-bench}
nodedir=$cache/duckdb-node
work=${TMPDIR:-/tmp}/turnstile-bench-duckdb
mkdir -p "$work" "$nodedir"

for tool in node npm; do
	command -v "$tool" >/dev/null || { echo "bench-vs-duckdb: $tool is needed (apt-get install nodejs npm)" >&2; exit 1; }
done

if [[ ! -d $nodedir/node_modules/@duckdb/node-api ]]; then
	echo "installing @duckdb/node-api@$duckdb_version into $nodedir"
	[[ -f $nodedir/package.json ]] || echo '{"private": true}' >"$nodedir/package.json"
	(cd "$nodedir" && npm install --no-audit --no-fund --silent "@duckdb/node-api@$duckdb_version")
fi

# The DuckDB side: the same windows as the consumer (tumbling 5 minutes, each row counted
# in the window that ends at the first multiple of 300 s after its TIMESTAMP), summed per
# turnstile, written as one gzip CSV with the lake's columns.
cat >"$nodedir/windows.mjs" <<'EOF'
import { DuckDBInstance } from '@duckdb/node-api';
const [input, output] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run(`
COPY (
  SELECT ca AS "CA", unit AS "UNIT", scp AS "SCP", station AS "STATION", linename AS "LINENAME",
         division AS "DIVISION", strftime(wend, '%m-%d-%Y') AS "DATE", strftime(wend, '%H:%M:%S') AS "TIME",
         'REGULAR' AS "DESC", sum(entries) AS "ENTRIES", sum(exits) AS "EXITS"
  FROM (
    SELECT *, to_timestamp((epoch(ts)::BIGINT // 300 + 1) * 300)::TIMESTAMP AS wend
    FROM read_csv('${input}', header = false, delim = ',', quote = '"', columns = {
      'ca': 'VARCHAR', 'unit': 'VARCHAR', 'scp': 'VARCHAR', 'station': 'VARCHAR',
      'linename': 'VARCHAR', 'division': 'VARCHAR', 'date': 'VARCHAR', 'time': 'VARCHAR',
      'desc': 'VARCHAR', 'entries': 'BIGINT', 'exits': 'BIGINT', 'id': 'VARCHAR',
      'ts': 'TIMESTAMP'})
  )
  GROUP BY ca, unit, scp, station, linename, division, wend
  ORDER BY wend
) TO '${output}' (FORMAT csv, HEADER, COMPRESSION gzip)`);
const rows = await con.runAndReadAll(`SELECT count(*) FROM read_csv('${output}')`);
console.log(String(rows.getRows()[0][0]));
EOF

make build >/dev/null

# Two shapes: event-time seconds per record = speed / rate.
shapes=("46 217391" "20 500000")
for shape in "${shapes[@]}"; do
	read -r per_s speed <<<"$shape"
	input=$work/lines-$lines-$per_s.csv
	if [[ ! -s $input ]]; then
		echo "generating $lines lines at $per_s records/s of event time into $input"
		./bin/producer --synthetic --turnstiles 5000 --rate 10000000 --speed "$speed" --count "$lines" \
			--start "2024-07-22 00:00:00" --out "$input" 2>/dev/null
	fi
done

# wall RUN_NAME COMMAND...: runs COMMAND, prints its wall seconds.
wall() {
	local start end
	start=$(date +%s.%N)
	"$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

# The previous run's lake is removed before the clock starts (not timed): deleting
# hundreds of files is not the consumer's work.
consumer_run() {
	"${2:-./bin/consumer}" --input "$1" --sink "file://$work/lake/turnstile"
}

duckdb_run() {
	rm -f "$work/duckdb.csv.gz"
	node "$nodedir/windows.mjs" "$1" "$work/duckdb.csv.gz"
}

machine=$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
echo "machine: $(nproc) CPUs, $machine; load average: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"
for shape in "${shapes[@]}"; do
	read -r per_s _ <<<"$shape"
	input=$work/lines-$lines-$per_s.csv
	cons=() duck=() base=()
	for run in $(seq "$runs"); do
		rm -rf "$work/lake"
		cons+=("$(wall consumer_run "$input")")
		rows_c=$(find "$work/lake" -name '*.csv.gz' -exec zcat {} + | grep -vc '^,CA,\|^CA,')
		duck+=("$(wall duckdb_run "$input")")
		rows_d=$(cat "$work/out")
		echo "$per_s rec/s run $run: consumer ${cons[-1]} s ($rows_c rows), duckdb ${duck[-1]} s ($rows_d rows)"
		if [[ -n ${BASELINE:-} ]]; then
			rm -rf "$work/lake"
			base+=("$(wall consumer_run "$input" "$BASELINE")")
			echo "$per_s rec/s run $run: baseline $BASELINE ${base[-1]} s"
		fi
	done
	best_c=$(printf '%s\n' "${cons[@]}" | sort -n | head -1)
	best_d=$(printf '%s\n' "${duck[@]}" | sort -n | head -1)
	awk -v c="$best_c" -v d="$best_d" -v n="$lines" -v r="$per_s" \
		'BEGIN { printf "%s rec/s, best of 3: consumer %.2f s (%.2f M lines/s), duckdb %.2f s: consumer is %.2fx faster\n", r, c, n / c / 1e6, d, d / c }'
	if [[ -n ${BASELINE:-} ]]; then
		best_b=$(printf '%s\n' "${base[@]}" | sort -n | head -1)
		awk -v b="$best_b" -v d="$best_d" -v r="$per_s" 'BEGIN { printf "%s rec/s, best of 3: baseline %.2f s: %.2fx faster than duckdb\n", r, b, d / b }'
	fi
done
