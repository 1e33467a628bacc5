#!/usr/bin/env bash
# Connection rate, nginx vs gantry: every request on a new TCP connection (wrk with
# "Connection: close", which the backends honour), through the HTTP/1.1 listener and
# through the TCP (l4) relay. Issue 6 asks for new connections per second beside the
# keep-alive figures of ../shared/bench/run.sh; this is that measurement, with the
# harness's own nginx configs (bench/lib/peers.sh, nginx's stream module for l4).
#
#   flock /tmp/gantry-bench.lock bench/connrate.sh          # 3 rounds x 8 s
#   bench/connrate.sh -r 5 -d 8 -c 64
#
# Per run: connections (= requests) per second, the proxy's CPU per connection
# (utime+stime of all its processes and threads, from /proc), wrk's p99, and errors
# (socket errors + non-2xx). Rounds interleave, the order reversed every other round;
# the table shows medians over rounds. Loopback only. Needs: go, nginx (with its stream
# module), curl, wrk.
set -euo pipefail
rounds=3 dur=8 warm=1 conns=64 base=18870
while (($#)); do
	case $1 in
	-r | --rounds) rounds=$2; shift 2 ;;
	-d | --duration) dur=$2; shift 2 ;;
	-w | --warmup) warm=$2; shift 2 ;;
	-c | --conns) conns=$2; shift 2 ;;
	--base-port) base=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
	esac
done
for t in go nginx curl wrk; do command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 69; }; done
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/peers.sh
source "$here/lib/peers.sh"
PEERS_TCP=1 start_peers "$base"
nginx_pid=${peer_pids[2]} gantry_pid=${peer_pids[3]}
tck=$(getconf CLK_TCK)

# cpu PID...: utime+stime in clock ticks of the processes and their children.
cpu() {
	local t=0 p
	for p in "$@" $(pgrep -P "$1" | tr '\n' ' '); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

raw=$W/connrate.tsv
targets=(nginx-h1 gantry-h1 nginx-l4 gantry-l4)
for ((i = 1; i <= rounds; i++)); do
	order=("${targets[@]}")
	((i % 2 == 0)) && order=(gantry-l4 nginx-l4 gantry-h1 nginx-h1)
	for t in "${order[@]}"; do
		case $t in
		nginx-h1) port=$P_NGINX pid=$nginx_pid ;;
		gantry-h1) port=$P_G pid=$gantry_pid ;;
		nginx-l4) port=$P_NGINX_L4 pid=$nginx_pid ;;
		gantry-l4) port=$P_G_TCP pid=$gantry_pid ;;
		esac
		url="http://$HOST:$port/"
		wrk -t1 -c "$conns" -d "${warm}s" -H 'Connection: close' "$url" >/dev/null 2>&1 || true
		c0=$(cpu "$pid")
		out=$(wrk -t1 -c "$conns" -d "${dur}s" --latency -H 'Connection: close' "$url" 2>&1 || true)
		c1=$(cpu "$pid")
		line=$(awk -v c="$((c1 - c0))" -v tck="$tck" '
			/requests in/ { n = $1 }
			/Requests\/sec/ { rps = $2 }
			/^ +99%/ { p99 = $2 }
			/Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
			/Non-2xx/ { e += $NF }
			END { printf "conns_s=%.0f cpu_us=%.2f p99=%s errors=%d", rps, (n > 0 ? c / tck * 1e6 / n : 0), p99, e }' <<<"$out")
		echo "r$i $t $line" >&2
		printf '%s\t%s\t%s\n' "$t" "$i" "$line" >>"$raw"
	done
done

echo "| proxy | new connections/s | proxy CPU µs per connection | p99 | errors |"
echo "|---|---|---|---|---|"
for t in "${targets[@]}"; do
	awk -F'\t' -v t="$t" '
		function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x } return a[int((n + 1) / 2)] }
		$1 == t { n++; split($3, kv, " "); for (k in kv) { split(kv[k], p, "="); v[p[1], n] = p[2] }; err += v["errors", n] }
		END {
			for (i = 1; i <= n; i++) a[i] = v["conns_s", i] + 0; r = med(a, n)
			for (i = 1; i <= n; i++) a[i] = v["cpu_us", i] + 0; c = med(a, n)
			for (i = 1; i <= n; i++) { s = v["p99", i]; x = s + 0; if (s ~ /us$/) x /= 1000; else if (s ~ /[0-9]s$/) x *= 1000; a[i] = x }
			printf "| %s | %d | %.2f | %.2f ms | %d |\n", t, r, c, med(a, n), err
		}' "$raw"
done
echo "raw rows: $raw" >&2
