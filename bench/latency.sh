#!/usr/bin/env bash
# Latency at a fixed offered load (open loop), nginx vs gantry, HTTP/1.1 6-byte body:
# the question the closed-loop harness cannot answer on a saturated box (there,
# latency ≈ connections ÷ throughput). bench/openloop schedules requests at a fixed
# rate over 64 keep-alive connections and charges each from its scheduled time.
#
#   flock /tmp/gantry-bench.lock bench/latency.sh                 # rates 4000,8000,12000,16000
#   bench/latency.sh -r 5 -d 10 --rates 8000,12000
#
# Backends and the nginx proxy use the shared harness's own config writers
# (../shared/bench/lib/targets.sh, or $BENCH_HARNESS's lib), so nginx runs exactly as in
# the harness; gantry runs the config bench/run.sh gives it. Rounds interleave
# (nginx, gantry, gantry, nginx, ...); the table shows medians over rounds.
# Loopback only. Needs: go, nginx, curl.
set -euo pipefail
rounds=3 dur=10 warm=2 conns=64 rates=4000,8000,12000,16000 base=18800
while [[ $# -gt 0 ]]; do
	case $1 in
	-r | --rounds) rounds=$2; shift 2 ;;
	-d | --duration) dur=$2; shift 2 ;;
	-c | --conns) conns=$2; shift 2 ;;
	--rates) rates=$2; shift 2 ;;
	--base-port) base=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
	esac
done
for t in go nginx curl; do command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 69; }; done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/peers.sh
source "$here/lib/peers.sh"
start_peers "$base"
(cd "$here/.." && go build -o "$W/openloop" ./bench/openloop)

raw=$W/raw.tsv
IFS=, read -r -a rl <<<"$rates"
for r in "${rl[@]}"; do
	for ((i = 1; i <= rounds; i++)); do
		order=(nginx gantry); ((i % 2 == 0)) && order=(gantry nginx)
		for t in "${order[@]}"; do
			port=$P_NGINX; [[ $t == gantry ]] && port=$P_G
			line=$("$W/openloop" -url "http://$HOST:$port/" -rate "$r" -c "$conns" -d "${dur}s" -warmup "${warm}s" || true)
			echo "rate $r r$i $t $line" >&2
			printf '%s\t%s\t%s\t%s\n' "$r" "$t" "$i" "$line" >>"$raw"
		done
	done
done

# Medians over rounds per rate and target.
echo "| rate (req/s) | proxy | achieved | p50 ms | p90 ms | p99 ms | p99.9 ms | service p50 ms | service p99 ms | errors |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for r in "${rl[@]}"; do
	for t in nginx gantry; do
		awk -F'\t' -v r="$r" -v t="$t" '
			function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x } return a[int((n + 1) / 2)] }
			$1 == r && $2 == t {
				n++; split($4, kv, " ")
				for (k in kv) { split(kv[k], p, "="); v[p[1], n] = p[2] }
				err += v["errors", n]
			}
			END {
				split("achieved p50 p90 p99 p999 svc_p50 svc_p99", keys, " ")
				printf "| %s | %s |", r, t
				for (q = 1; q <= 7; q++) { for (i = 1; i <= n; i++) a[i] = v[keys[q], i] + 0; printf " %s |", med(a, n) }
				printf " %d |\n", err
			}' "$raw"
	done
done
echo "raw rows: $raw" >&2
