# shellcheck shell=bash
# Shared setup for bench/latency.sh and bench/h2latency.sh: two loopback nginx backends
# and an nginx proxy written by the shared harness's own config writers (so nginx runs
# exactly as in ../shared/bench/run.sh), plus gantry built from this tree with the
# config bench/run.sh gives it. Source it, then call start_peers BASE_PORT.
# Sets W (work dir), HOST, P_NGINX (HTTP/1.1), P_NGINX_H2 (h2c), P_G (gantry, both);
# with AB_ENV set (VAR=VALUE ...) or AB_BIN (a gantry binary, say an older build), a
# second gantry runs on P_AB: AB_BIN or this build, with AB_ENV in its environment,
# for same-run A/B comparisons of a knob or of two builds. With PEERS_TCP=1 nginx also
# relays TCP (its stream module, as the harness's l4 mode) on P_NGINX_L4 and gantry on
# P_G_TCP. Everything started is stopped when the calling script exits.

start_peers() { # BASE_PORT
	local base=$1 root harness lib p
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	harness=${BENCH_HARNESS:-$root/../shared/bench/run.sh}
	lib=$(dirname "$harness")/lib/targets.sh
	[[ -f $lib ]] || { echo "harness config writers not found: $lib (set BENCH_HARNESS)" >&2; exit 69; }
	W=$(mktemp -d /tmp/gantry-latency.XXXXXX)
	HOST=127.0.0.1 P_B1=$((base + 1)) P_B2=$((base + 2)) P_NGINX=$((base + 3)) P_NGINX_H2=$((base + 4)) P_G=$((base + 5)) P_AB=$((base + 6))
	P_NGINX_L4=$((base + 7)) P_G_TCP=$((base + 8))
	NGINX=$(command -v nginx) NGINX_STREAM_MODULE=""
	if [[ -n ${PEERS_TCP:-} ]]; then
		NGINX_STREAM_MODULE=$(dirname "$(readlink -f "$NGINX")")/../lib/nginx/modules/ngx_stream_module.so
		[[ -f $NGINX_STREAM_MODULE ]] || NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
		[[ -f $NGINX_STREAM_MODULE ]] || { echo "nginx's stream module not found" >&2; exit 69; }
	fi
	# shellcheck source=/dev/null
	source "$lib"
	peer_pids=()
	trap 'kill "${peer_pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
	(cd "$root" && go build -o "$W/gantry" ./cmd/gantry)
	write_backend b1 "$P_B1"
	write_backend b2 "$P_B2"
	write_nginx
	for p in b1 b2 nginx; do
		mkdir -p "$W/$p/tmp_body"
		"$NGINX" -p "$W/$p" -c "$W/$p/nginx.conf" -g 'daemon off;' &
		peer_pids+=($!)
	done
	local tcp_listener="" tcp_upstream=""
	if [[ -n ${PEERS_TCP:-} ]]; then
		tcp_listener="  tcp: { address: \"$HOST:$P_G_TCP\", protocol: tcp, upstream: tcp }"
		tcp_upstream="  tcp: { targets: [ \"$HOST:$P_B1\", \"$HOST:$P_B2\" ] }"
	fi
	cat >"$W/gantry.yaml" <<EOC
listeners:
  web: { address: "$HOST:$P_G" }
$tcp_listener
upstreams:
  web:
    targets: [ "http://$HOST:$P_B1", "http://$HOST:$P_B2" ]
$tcp_upstream
routes:
  - { name: all, upstream: web }
EOC
	"$W/gantry" run -c "$W/gantry.yaml" --watch=false --log-level warn &
	peer_pids+=($!)
	local ports=("$P_NGINX" "$P_G")
	[[ -n ${PEERS_TCP:-} ]] && ports+=("$P_NGINX_L4" "$P_G_TCP")
	if [[ -n ${AB_ENV:-}${AB_BIN:-} ]]; then
		sed "s/$HOST:$P_G/$HOST:$P_AB/" "$W/gantry.yaml" >"$W/gantry-ab.yaml"
		# shellcheck disable=SC2086 # AB_ENV is a list of VAR=VALUE words
		env ${AB_ENV:-} "${AB_BIN:-$W/gantry}" run -c "$W/gantry-ab.yaml" --watch=false --log-level warn &
		peer_pids+=($!)
		ports+=("$P_AB")
	fi
	for p in "${ports[@]}"; do
		for _ in $(seq 100); do curl -fs "http://$HOST:$p/" >/dev/null && break; sleep 0.1; done
		curl -fs "http://$HOST:$p/" >/dev/null || { echo "proxy on port $p did not answer" >&2; exit 1; }
	done
}
