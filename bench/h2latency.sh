#!/usr/bin/env bash
# HTTP/2 latency percentiles, nginx vs gantry, driven exactly like the shared harness's
# h2 mode (h2load, h2c prior knowledge, 16 connections × 8 streams, 6-byte body,
# closed loop), which prints only a mean: h2load's per-request log (--log-file) gives
# p50/p99/p99.9 here, for the "p99 no worse than nginx" comparison.
#
#   flock /tmp/gantry-bench.lock bench/h2latency.sh           # 3 rounds x 10 s
#   bench/h2latency.sh -r 5 -d 10 -c 16 -m 8
#   bench/h2latency.sh -r 5 --ab GANTRY_H2_BATCH_SEND=off  # + gantry-ab, same build with that env
#   bench/h2latency.sh -r 8 --ab-bin /tmp/gantry-old       # + gantry-ab, another build
#
# Rounds interleave (nginx, gantry, gantry, nginx, ...); requests started in the
# first -w seconds of a run are left out; the table shows medians over rounds. Setup:
# bench/lib/peers.sh (the harness's own nginx configs). Loopback only. Needs: go,
# nginx, curl, h2load.
set -euo pipefail
rounds=3 dur=10 warm=2 conns=16 streams=8 base=18850
while [[ $# -gt 0 ]]; do
	case $1 in
	-r | --rounds) rounds=$2; shift 2 ;;
	-d | --duration) dur=$2; shift 2 ;;
	-w | --warmup) warm=$2; shift 2 ;;
	-c | --conns) conns=$2; shift 2 ;;
	-m | --streams) streams=$2; shift 2 ;;
	--base-port) base=$2; shift 2 ;;
	--ab) AB_ENV=$2; shift 2 ;;
	--ab-bin) AB_BIN=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
	esac
done
ab=${AB_ENV:-}${AB_BIN:-} # a second gantry runs (peers.sh)
for t in go nginx curl h2load; do command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 69; }; done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/peers.sh
source "$here/lib/peers.sh"
start_peers "$base"

raw=$W/raw.tsv
for ((i = 1; i <= rounds; i++)); do
	order=(nginx gantry ${ab:+gantry-ab})
	((i % 2 == 0)) && order=(${ab:+gantry-ab} gantry nginx)
	for t in "${order[@]}"; do
		case $t in nginx) port=$P_NGINX_H2 ;; gantry) port=$P_G ;; gantry-ab) port=$P_AB ;; esac
		log=$W/$t.$i.log
		h2load -c "$conns" -m "$streams" -D "$((dur + warm))" --log-file="$log" "http://$HOST:$port/" >"$W/$t.$i.out" 2>&1 || true
		# Columns: start (µs since epoch), status, µs to the end of the response. The
		# requests of the warm-up are dropped; errors are non-200 answers.
		err=$(awk -v warm="$warm" 'NR == 1 { t0 = $1 } $1 - t0 >= warm * 1e6 && $2 != 200 { e++ } END { print e + 0 }' "$log")
		line=$(awk -v warm="$warm" 'NR == 1 { t0 = $1 } $1 - t0 >= warm * 1e6 { print $3 }' "$log" | sort -n |
			awk -v dur="$dur" -v err="$err" '
				{ v[NR] = $1 }
				END {
					printf "rps=%.0f errors=%d", NR / dur, err
					split("p50 p99 p999", k, " "); split("0.5 0.99 0.999", f, " ")
					for (j = 1; j <= 3; j++) printf " %s=%.3f", k[j], v[int(f[j] * (NR - 1)) + 1] / 1000
					printf "\n"
				}')
		echo "r$i $t $line" >&2
		printf '%s\t%s\t%s\n' "$t" "$i" "$line" >>"$raw"
	done
done

echo "| proxy | rps | p50 ms | p99 ms | p99.9 ms | errors |"
echo "|---|---|---|---|---|---|"
for t in nginx gantry ${ab:+gantry-ab}; do
	awk -F'\t' -v t="$t" '
		function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x } return a[int((n + 1) / 2)] }
		$1 == t { n++; split($3, kv, " "); for (k in kv) { split(kv[k], p, "="); v[p[1], n] = p[2] }; err += v["errors", n] }
		END {
			printf "| %s |", t
			split("rps p50 p99 p999", keys, " ")
			for (q = 1; q <= 4; q++) { for (i = 1; i <= n; i++) a[i] = v[keys[q], i] + 0; printf " %s |", med(a, n) }
			printf " %d |\n", err
		}' "$raw"
done
[[ -n $ab ]] && echo "gantry-ab: ${AB_BIN:-the same build}${AB_ENV:+ with $AB_ENV}" >&2
echo "raw rows: $raw" >&2
