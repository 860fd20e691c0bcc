#!/usr/bin/env bash
# bench-archive.sh: replay a year of MTA-shaped weekly files, old producer against new, as
# BENCHMARKS.md records it (issue #16).
#
# It generates 52 weekly files (about 13.1 M readings, 1.1 GB) from the shipped sample
# testdata/mta/turnstile_240720.txt: the sample's 6 turnstiles are cloned 1,000 times (SCP
# suffix -000..-999), and its 4 days are tiled 91 times (364 days) with the dates shifted and
# each turnstile's counters carried forward, then cut into weekly files grouped by turnstile,
# as MTA writes them. Then it builds the producer at OLD_REV (the in-memory replay) and at the
# work tree, checks that both write byte-identical messages, and times `--out /dev/null` RUNS
# times each, old and new alternately (the machine is shared: compare medians), with
# /usr/bin/time -v for wall time and peak RSS.
#
# Usage: scripts/bench-archive.sh            (files go to $TMPDIR or /tmp)
#   WEEKS=52 CLONES=1000 RUNS=3 OLD_REV=7156139 scripts/bench-archive.sh
#   OVERLAP=1 ...   also times one run each with every 4th weekly file given twice (13 files
#                   that overlap their week entirely)
set -euo pipefail

weeks=${WEEKS:-52}
clones=${CLONES:-1000}
runs=${RUNS:-3}
old_rev=${OLD_REV:-7156139} # the last commit with the in-memory replay
root=$(cd "$(dirname "$0")/.." && pwd)
work=${TMPDIR:-/tmp}/turnstile-archive
data=$work/weeks-$weeks-$clones
mkdir -p "$work"

if [[ ! -s $data/.done ]]; then
	echo "generating $weeks weekly files ($clones clones of the sample's turnstiles) into $data"
	rm -rf "$data" && mkdir -p "$data"
	awk -v weeks="$weeks" -v clones="$clones" -v dir="$data" -F, '
	# days since 1970-01-01 of a civil date, and back (H. Hinnant)
	function days(y, m, d,    era, yoe, doy, doe) {
		y -= (m <= 2); era = int((y >= 0 ? y : y - 399) / 400); yoe = y - era * 400
		doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
		doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
		return era * 146097 + doe - 719468
	}
	function civil(z,    era, doe, yoe, doy, mp) {
		z += 719468; era = int((z >= 0 ? z : z - 146096) / 146097); doe = z - era * 146097
		yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
		doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100)); mp = int((5 * doy + 2) / 153)
		D = doy - int((153 * mp + 2) / 5) + 1; M = mp < 10 ? mp + 3 : mp - 9; Y = yoe + era * 400 + (M <= 2)
	}
	NR == 1 { header = $0; next }
	{
		key = $1 "," $2 "," $3
		if (!(key in nrows)) { gates[++ngates] = key; first_e[key] = $10 + 0; first_x[key] = $11 + 0 }
		i = ++nrows[key]
		split($7, dt, "/"); day = days(dt[3] + 0, dt[1] + 0, dt[2] + 0)
		if (NR == 2 || day < d0) d0 = day
		rday[key, i] = day; rtime[key, i] = $8; rdesc[key, i] = $9; re[key, i] = $10 + 0; rx[key, i] = $11 + 0
		rest[key] = $4 "," $5 "," $6; last_e[key] = $10 + 0; last_x[key] = $11 + 0
	}
	END {
		for (g = 1; g <= ngates; g++) {
			key = gates[g]
			span_e[key] = last_e[key] > first_e[key] ? last_e[key] - first_e[key] : 0
			span_x[key] = last_x[key] > first_x[key] ? last_x[key] - first_x[key] : 0
		}
		for (d = 0; d < weeks * 7 + 7; d++) { civil(d0 + d); date[d] = sprintf("%02d/%02d/%04d", M, D, Y) }
		for (w = 0; w < weeks; w++) {
			civil(d0 + 7 * w)
			file = sprintf("%s/turnstile_%02d%02d%02d.txt", dir, Y % 100, M, D)
			print header > file
			for (k = 0; k < clones; k++) {
				for (g = 1; g <= ngates; g++) {
					key = gates[g]; split(key, f, ",")
					id = sprintf("%s,%s,%s-%03d,%s", f[1], f[2], f[3], k, rest[key])
					for (p = int(7 * w / 4); p <= int((7 * w + 6) / 4); p++) {
						for (i = 1; i <= nrows[key]; i++) {
							day = rday[key, i] - d0 + 4 * p
							if (day < 7 * w || day >= 7 * w + 7) continue
							printf "%s,%s,%s,%s,%010d,%010d\n", id, date[day], rtime[key, i], rdesc[key, i],
								re[key, i] + p * span_e[key] + k * 1009, rx[key, i] + p * span_x[key] + k * 907 > file
						}
					}
				}
			}
			close(file)
		}
	}' "$root/testdata/mta/turnstile_240720.txt"
	date >"$data/.done"
fi
rows=$(cat "$data"/turnstile_*.txt | wc -l)
echo "$weeks files, $((rows - weeks)) readings, $(du -sh "$data" | cut -f1)"

# The two producers.
if [[ ! -x $work/producer-old-$old_rev ]]; then
	rm -rf "$work/src-old" && mkdir -p "$work/src-old"
	git -C "$root" archive "$old_rev" | tar -x -C "$work/src-old"
	(cd "$work/src-old" && go build -o "$work/producer-old-$old_rev" ./apps/producer)
fi
(cd "$root" && go build -o "$work/producer-new" ./apps/producer)
old=$work/producer-old-$old_rev
new=$work/producer-new

files=("$data"/turnstile_*.txt)

echo "checking that old and new write the same messages"
sum_old=$("$old" --input "${files[@]}" --out - 2>/dev/null | sha256sum | cut -d' ' -f1)
sum_new=$("$new" --input "${files[@]}" --out - 2>/dev/null | sha256sum | cut -d' ' -f1)
if [[ $sum_old != "$sum_new" ]]; then
	echo "DIFFERENT OUTPUT: old $sum_old, new $sum_new" >&2
	exit 1
fi
echo "same output: sha256 $sum_new"

# time_run NAME BINARY ARGS...: one run, prints "NAME wall_s rss_mb cpu_s" (cpu = user + sys).
time_run() {
	local name=$1
	shift
	/usr/bin/time -v -o "$work/time.$name" "$@" --out /dev/null 2>"$work/log.$name" >/dev/null
	awk -v name="$name" '/Elapsed \(wall clock\)/ { n = split($NF, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
		/Maximum resident set size/ { rss = $NF }
		/User time \(seconds\)|System time \(seconds\)/ { cpu += $NF }
		END { printf "%s %.2f %.0f %.2f\n", name, s, rss / 1024, cpu }' "$work/time.$name"
}

results=$work/results
: >"$results"
for run in $(seq "$runs"); do
	# alternate which one goes first
	if ((run % 2)); then order="old new"; else order="new old"; fi
	for which in $order; do
		bin=$old
		[[ $which == new ]] && bin=$new
		line=$(time_run "$which" "$bin" --input "${files[@]}")
		echo "run $run: $line" | awk '{ printf "%s %s %-4s %7.2f s wall, %6.2f s CPU, peak RSS %5d MB\n", $1, $2, $3, $4, $6, $5 }'
		echo "$line" >>"$results"
	done
done

if [[ ${OVERLAP:-0} == 1 ]]; then
	# Every 4th week a second time, as a re-delivered file: 13 more files, each overlapping its
	# week entirely (their readings are all duplicates; the messages do not change).
	again=()
	for ((i = 0; i < ${#files[@]}; i += 4)); do again+=("${files[i]}"); done
	for which in old new; do
		bin=$old
		[[ $which == new ]] && bin=$new
		line=$(time_run "overlap-$which" "$bin" --input "${files[@]}" "${again[@]}")
		echo "overlap: $line" | awk '{ printf "%s %-12s %7.2f s wall, %6.2f s CPU, peak RSS %5d MB\n", $1, $2, $3, $5, $4 }'
	done
fi

echo "medians over $runs runs (load average now: $(cut -d' ' -f1-3 /proc/loadavg)):"
for which in old new; do
	median() { awk -v w="$which" -v c="$1" '$1 == w { print $c }' "$results" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	echo "  $which: $(median 2) s wall, $(median 4) s CPU, peak RSS $(median 3) MB"
done
