#!/usr/bin/env bash
# Benchmarks Gantry against nginx, haproxy and caddy with the shared harness
# (../shared/bench/run.sh, or $BENCH_HARNESS) in one run, so ratios are comparable.
#
#   bench/run.sh                      # h1, small+16k bodies, 3 rounds
#   bench/run.sh -r 5 --modes h1,h2,l4
#   PPROF=1 bench/run.sh ...          # also save CPU and heap profiles of gantry under load
#
# Extra arguments go to the harness. Results land in $OUT (default /tmp/gantry-bench.<time>).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/bench/run.sh}
[[ -x $harness || -f $harness ]] || { echo "harness not found: $harness (set BENCH_HARNESS)" >&2; exit 69; }
out=${OUT:-/tmp/gantry-bench.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
bin=$out/gantry
(cd "$root" && go build -o "$bin" ./cmd/gantry)

# One candidate command serves every mode: HTTP on {port}, TCP on {tcp_port}.
wrapper=$out/gantry-candidate.sh
cat >"$wrapper" <<EOW
#!/usr/bin/env bash
set -euo pipefail
cat >"\$BENCH_WORKDIR/gantry.yaml" <<EOC
listeners:
  web: { address: "127.0.0.1:\$BENCH_PORT" }
  tcp: { address: "127.0.0.1:\$BENCH_TCP_PORT", protocol: tcp, upstream: tcp }
upstreams:
  web:
    targets: [ "http://\$BENCH_BACKEND1", "http://\$BENCH_BACKEND2" ]
  tcp:
    targets: [ "\$BENCH_BACKEND1", "\$BENCH_BACKEND2" ]
routes:
  - { name: all, upstream: web }
EOC
extra=()
[[ -n "${PPROF:-}" ]] && extra+=(--cpuprofile "\$BENCH_WORKDIR/cpu.pprof" --memprofile "\$BENCH_WORKDIR/mem.pprof")
exec "$bin" run -c "\$BENCH_WORKDIR/gantry.yaml" --watch=false --log-level warn "\${extra[@]}"
EOW
chmod +x "$wrapper"
exec bash "$harness" --out "$out/results" --candidate "gantry=exec $wrapper" "$@"
