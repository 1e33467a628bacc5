#!/usr/bin/env bash
# Cost of features, end to end (issue 6): gantry's CPU per proxied request on a bare
# route and on routes with an access log, API-key auth, JWT auth (HS256, RS256), the
# metrics endpoint, and all of them together, each against the same loopback nginx
# backends, driven by wrk with the route's credential in a header.
#
#   flock /tmp/gantry-bench.lock bench/features.sh            # 3 rounds x 5 s, all configs
#   bench/features.sh -r 5 -d 10 --only bare,apikey,full-jwt  # a subset, longer
#   bench/features.sh --rate 8000 ...  # fixed offered load (bench/openloop) instead of wrk
#   PPROF=1 bench/features.sh ...                            # + $OUT/work/<config>.cpu.pprof
#   bench/features.sh --help
#
# Every config runs as its own gantry process (built from this tree) on its own port;
# the runs interleave (round 1 of every config, then round 2, ...), each round starting
# at the next config so drift over time does not always hit the same one. CPU is
# utime+stime of the gantry process (all threads, /proc/PID/stat) over the measured
# window, divided by the requests completed in it. Before measuring, each
# config must answer 200 with the credential and, when it has auth, 401 without it;
# wrk's non-2xx responses and socket errors are counted in every row.
# Results: a markdown table on stdout and in $OUT/features.md, raw rows in $OUT/raw.tsv.
#
# By default wrk drives each config as fast as it goes (closed loop, as the shared
# harness does). On a saturated box that couples the cost per request to throughput:
# a slower config leaves wrk and the backends idle more often, and every wake-up of
# theirs is charged to the proxy's sends. --rate R instead offers every config the same
# R requests per second through bench/openloop (open loop, keep-alive, the credential
# in each request), so the kernel's share is alike and the difference between configs
# is the features' own work; pick R below every config's capacity (achieved ≈ asked).
# Loopback only. Needs: go, nginx, wrk, curl, openssl. Hold the bench lock when the box
# is shared.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	cat <<EOF
Options:
  -r, --rounds N      interleaved rounds (default 3, at least 3 for a table)
  -d, --duration S    measured seconds per run (default 5)
  -w, --warmup S      unmeasured seconds before each run (default 1)
  -c, --conns N       connections, keep-alive (default 64)
      --rate R        fixed offered load in requests/s (bench/openloop) instead of wrk
      --only LIST     configs to run, comma-separated (bare is always added)
                      bare admin accesslog apikey jwt-hs256 jwt-rs256 full-apikey full-jwt
      --base-port N   first of the loopback ports used (default 18700)
      --out DIR       results dir (default /tmp/gantry-features.<time>)
EOF
}

rounds=3 dur=5 warm=1 conns=64 base=18700 only="" out="" rate=""
while [[ $# -gt 0 ]]; do
	case $1 in
	-r | --rounds) rounds=$2; shift 2 ;;
	-d | --duration) dur=$2; shift 2 ;;
	-w | --warmup) warm=$2; shift 2 ;;
	-c | --conns) conns=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--base-port) base=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "unknown argument: $1 (see --help)" >&2; exit 64 ;;
	esac
done
for t in go nginx wrk curl openssl; do
	command -v "$t" >/dev/null || { echo "$t is required" >&2; exit 69; }
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${out:-/tmp/gantry-features.$(date +%Y%m%d-%H%M%S)}
W=$out/work
mkdir -p "$W"
HOST=127.0.0.1
CLK_TCK=$(getconf CLK_TCK)

all_configs=(bare admin accesslog apikey jwt-hs256 jwt-rs256 full-apikey full-jwt)
if [[ -n $only ]]; then
	configs=(bare)
	IFS=, read -r -a want <<<"$only"
	for c in "${want[@]}"; do
		[[ " ${all_configs[*]} " == *" $c "* ]] || { echo "unknown config: $c" >&2; exit 64; }
		[[ $c == bare ]] || configs+=("$c")
	done
else
	configs=("${all_configs[@]}")
fi

# ------------------------------------------------------------------ processes --
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
start_bg() { # LOGNAME CMD... ; sets $! in last_pid
	"${@:2}" >"$W/$1.out" 2>&1 &
	last_pid=$!
	pids+=("$last_pid")
}
wait_port() { # PORT
	local i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "nothing listens on $HOST:$1" >&2
	exit 1
}

# Backends: two nginx instances, one worker each, GET / -> "hello\n" (as the shared
# harness configures them).
for n in 1 2; do
	d=$W/backend$n
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $d/tmp_body;
    proxy_temp_path $d/tmp_proxy;
    fastcgi_temp_path $d/tmp_fcgi;
    uwsgi_temp_path $d/tmp_uwsgi;
    scgi_temp_path $d/tmp_scgi;
    server {
        listen $HOST:$((base + n)) backlog=4096 reuseport;
        location / { default_type text/plain; return 200 "hello\n"; }
    }
}
EOF
	start_bg "backend$n" nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
	wait_port $((base + n))
done

# --------------------------------------------------------------- credentials --
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
api_key=$(openssl rand -hex 24)
jwt_secret=$(openssl rand -hex 32)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/rs.key" 2>/dev/null
openssl pkey -in "$W/rs.key" -pubout -out "$W/rs.pub" 2>/dev/null
now=$(date +%s)
claims=$(printf '{"iss":"https://idp.bench","aud":"bench","sub":"bench-client","iat":%d,"exp":%d}' "$now" "$((now + 86400))" | b64url)
h_hs=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
h_rs=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
sig_hs=$(printf '%s.%s' "$h_hs" "$claims" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)
sig_rs=$(printf '%s.%s' "$h_rs" "$claims" | openssl dgst -sha256 -sign "$W/rs.key" -binary | b64url)
jwt_hs=$h_hs.$claims.$sig_hs
jwt_rs=$h_rs.$claims.$sig_rs

# ------------------------------------------------------------------- gantry ----
bin=$out/gantry
(cd "$root" && go build -o "$bin" ./cmd/gantry)
if [[ -n $rate ]]; then
	[[ $rate =~ ^[1-9][0-9]*$ ]] || { echo "--rate wants a positive integer, got $rate" >&2; exit 64; }
	(cd "$root" && go build -o "$W/openloop" ./bench/openloop)
fi

declare -A PORT HEADER AUTHED PID
i=10
for c in "${configs[@]}"; do
	PORT[$c]=$((base + i))
	i=$((i + 2))
done

# config_yaml NAME -> the gantry.yaml of that config on stdout.
config_yaml() {
	local c=$1 admin="" observe="" auth="" port=${PORT[$1]}
	case $c in admin | full-*) admin="admin: { address: \"$HOST:$((port + 1))\" }" ;; esac
	case $c in accesslog | full-*) observe="observe: { access_log: { output: \"$W/$c.access.log\", format: json } }" ;; esac
	local jwt_hs_yaml="jwt: { issuer: \"https://idp.bench\", audiences: [bench], algorithms: [HS256], keys: [ { secret: \"$jwt_secret\" } ] }"
	case $c in
	apikey) auth="auth: { api_key: { header: X-Api-Key } }" ;;
	jwt-hs256) auth="auth: { $jwt_hs_yaml }" ;;
	jwt-rs256) auth="auth: { jwt: { issuer: \"https://idp.bench\", audiences: [bench], algorithms: [RS256], keys: [ { file: \"$W/rs.pub\" } ] } }" ;;
	full-*) auth="auth: { api_key: { header: X-Api-Key }, $jwt_hs_yaml }" ;;
	esac
	cat <<EOF
listeners:
  web: { address: "$HOST:$port" }
upstreams:
  web:
    targets: [ "http://$HOST:$((base + 1))", "http://$HOST:$((base + 2))" ]
consumers:
  bench-client:
    api_keys: [ "$api_key" ]
routes:
  - name: all
    upstream: web
    ${auth}
$admin
$observe
EOF
}

for c in "${configs[@]}"; do
	case $c in
	apikey | full-apikey) HEADER[$c]="X-Api-Key: $api_key" ;;
	jwt-hs256 | full-jwt) HEADER[$c]="Authorization: Bearer $jwt_hs" ;;
	jwt-rs256) HEADER[$c]="Authorization: Bearer $jwt_rs" ;;
	*) HEADER[$c]="X-Bench: 1" ;; # same header count on every config
	esac
	case $c in apikey | jwt-* | full-*) AUTHED[$c]=1 ;; *) AUTHED[$c]=0 ;; esac
	config_yaml "$c" >"$W/$c.yaml"
	"$bin" validate -c "$W/$c.yaml" >"$W/$c.validate" 2>&1 || { cat "$W/$c.validate" >&2; exit 1; }
	prof=()
	[[ -n ${PPROF:-} ]] && prof=(--cpuprofile "$W/$c.cpu.pprof")
	start_bg "gantry-$c" "$bin" run -c "$W/$c.yaml" --watch=false --log-level warn "${prof[@]}"
	PID[$c]=$last_pid
	wait_port "${PORT[$c]}"
done

# Each config must serve the backend's answer with its credential and refuse without.
for c in "${configs[@]}"; do
	url=http://$HOST:${PORT[$c]}/
	got=$(curl -s -o "$W/$c.body" -w '%{http_code}' -H "${HEADER[$c]}" "$url")
	[[ $got == 200 && $(cat "$W/$c.body") == hello ]] || { echo "$c: with credential got $got $(head -c 200 "$W/$c.body"), want 200 hello" >&2; exit 1; }
	if [[ ${AUTHED[$c]} == 1 ]]; then
		got=$(curl -s -o /dev/null -w '%{http_code}' "$url")
		[[ $got == 401 ]] || { echo "$c: without credential got $got, want 401" >&2; exit 1; }
	fi
	echo "validate $c: ok"
done

ticks() { awk '{ n = split($0, p, ") "); split(p[n], f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }

# -------------------------------------------------------------------- runs -----
{
	echo "date: $(date -Is)"
	echo "host: $(uname -srm), $(nproc) cpus; loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "gantry: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?') $(cd "$root" && git status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
	if [[ -n $rate ]]; then
		echo "params: rounds=$rounds duration=${dur}s warmup=${warm}s conns=$conns openloop rate=$rate/s"
	else
		echo "params: rounds=$rounds duration=${dur}s warmup=${warm}s conns=$conns wrk threads=1"
	fi
} | tee "$out/env.txt"
printf 'round\tconfig\trps\tp99_ms\treqs\tcpu_s\tus_per_req\tnon2xx\tsockerr\n' >"$out/raw.tsv"
n=${#configs[@]}
for ((r = 1; r <= rounds; r++)); do
	for ((k = 0; k < n; k++)); do
		c=${configs[$(((k + r - 1) % n))]}
		url=http://$HOST:${PORT[$c]}/
		if [[ -n $rate ]]; then
			"$W/openloop" -url "$url" -rate "$rate" -c "$conns" -d "${warm}s" -warmup 0 -H "${HEADER[$c]}" >/dev/null || true
			t0=$(ticks "${PID[$c]}")
			"$W/openloop" -url "$url" -rate "$rate" -c "$conns" -d "${dur}s" -warmup 0 -H "${HEADER[$c]}" >"$W/ol.$c.$r.txt" || true
			t1=$(ticks "${PID[$c]}")
			# rate= achieved= done= errors= p50= p90= p99= ...: the same raw row as wrk's.
			tr ' ' '\n' <"$W/ol.$c.$r.txt" | awk -F= -v r="$r" -v c="$c" -v dt=$((t1 - t0)) -v hz="$CLK_TCK" '
				{ v[$1] = $2 }
				END {
					if (!("done" in v)) { print "openloop printed no result for " c " (see its output above)" > "/dev/stderr"; exit 1 }
					cpu = dt / hz
					printf "%d\t%s\t%.0f\t%.2f\t%d\t%.2f\t%.2f\t%d\t%d\n", r, c, v["achieved"], v["p99"], v["done"], cpu, (v["done"] ? cpu * 1e6 / v["done"] : 0), v["errors"], 0
				}' | tee -a "$out/raw.tsv" | awk -F'\t' '{ printf "  r%s %-12s rps=%-7s p99=%-7s ms cpu_us/req=%-7s errors=%s\n", $1, $2, $3, $4, $7, $8 }'
			continue
		fi
		wrk -t 1 -c "$conns" -d "${warm}s" -H "${HEADER[$c]}" "$url" >/dev/null
		t0=$(ticks "${PID[$c]}")
		wrk -t 1 -c "$conns" -d "${dur}s" --latency -H "${HEADER[$c]}" "$url" >"$W/wrk.$c.$r.txt"
		t1=$(ticks "${PID[$c]}")
		awk -v r="$r" -v c="$c" -v dt=$((t1 - t0)) -v hz="$CLK_TCK" '
			/requests in/ { reqs = $1 }
			/Requests\/sec:/ { rps = $2 }
			/^ +99%/ { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
				p99 = (u == "us" ? v / 1000 : u == "s" ? v * 1000 : v) }
			/Non-2xx or 3xx responses:/ { non2xx = $NF }
			/Socket errors:/ { gsub(/,/, ""); sockerr = $4 + $6 + $8 + $10 }
			END {
				cpu = dt / hz
				printf "%d\t%s\t%.0f\t%.2f\t%d\t%.2f\t%.2f\t%d\t%d\n", r, c, rps, p99, reqs, cpu, (reqs ? cpu * 1e6 / reqs : 0), non2xx, sockerr
			}' "$W/wrk.$c.$r.txt" | tee -a "$out/raw.tsv" | awk -F'\t' '{ printf "  r%s %-12s rps=%-7s p99=%-7s ms cpu_us/req=%-7s non2xx=%s sockerr=%s\n", $1, $2, $3, $4, $7, $8, $9 }'
	done
done

# The access log must have been written (not silently dropped): its line count, and
# the drop counter where an admin listener exposes it.
for c in "${configs[@]}"; do
	f=$W/$c.access.log
	[[ -f $f ]] || continue
	note="access log $c: $(wc -l <"$f") lines"
	if [[ $c == full-* ]]; then
		port=${PORT[$c]}
		dropped=$(curl -s "http://$HOST:$((port + 1))/metrics" | awk '/^gantry_access_log_dropped_total/ { s += $NF } END { print s + 0 }')
		note="$note, gantry_access_log_dropped_total $dropped"
	fi
	echo "$note" | tee -a "$out/env.txt"
done

# ----------------------------------------------------------------- summary -----
summarize() {
	awk -F'\t' -v order="${configs[*]}" '
	NR == 1 { next }
	{ rps[$2] = rps[$2] " " $3; p99[$2] = p99[$2] " " $4; us[$2] = us[$2] " " $7; bad[$2] += $8 + $9; at[$1, $2] = $7; rounds[$1] = 1 }
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		lo = a[1]; hi = a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		print "| config | rps | p99 ms | gantry CPU µs/req [min..max] | µs/req over bare | % over bare | paired % over bare [min..max] | non-2xx + socket errors |"
		print "|---|---|---|---|---|---|---|---|"
		n = split(order, cs, " ")
		bare = median(us["bare"])
		for (i = 1; i <= n; i++) {
			c = cs[i]
			m = median(us[c]); l = lo; h = hi
			d = m - bare
			# Paired: the config in each round against bare in the same round (they ran
			# minutes apart at most), then the median over rounds; drift of the box
			# between rounds cancels out.
			pr = ""
			for (r in rounds) if (at[r, c] != "" && at[r, "bare"] > 0) pr = pr " " 100 * (at[r, c] / at[r, "bare"] - 1)
			pm = median(pr); pl = lo; ph = hi
			printf "| %s | %.0f | %.2f | %.1f [%.1f..%.1f] | %s%.1f | %s%.1f%% | %s%.1f%% [%.1f..%.1f] | %d |\n", c, median(rps[c]), median(p99[c]), m, l, h,
				(d >= 0 ? "+" : ""), d, (d >= 0 ? "+" : ""), (bare ? 100 * d / bare : 0), (pm >= 0 ? "+" : ""), pm, pl, ph, bad[c]
		}
	}' "$out/raw.tsv"
}
{
	echo
	load="wrk, closed loop"
	[[ -n $rate ]] && load="openloop at $rate req/s"
	echo "Medians over $rounds rounds (${dur}s each, $conns connections, $load, GET / -> 6-byte body)."
	echo
	summarize
	echo
	echo "admin: admin listener (metrics endpoint; metrics are collected in every config). accesslog: JSON access log to a"
	echo "file. apikey: API-key auth (X-Api-Key). jwt-hs256 / jwt-rs256: JWT auth, HMAC secret / RSA-2048 public key."
	echo "full-apikey / full-jwt: admin + access log + route auth with both methods configured, the client presenting an"
	echo "API key / an HS256 JWT."
} | tee "$out/features.md"
echo "results: $out (features.md, raw.tsv, env.txt, work/)"
