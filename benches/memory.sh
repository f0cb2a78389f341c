#!/usr/bin/env bash
# Resident memory per new series, for each kind: a fresh release server per kind (pinned to CPU 0,
# the load to CPU 1), 10,000 series pushed first (so that the tables and buffers every server
# grows anyway are there), then 100,000 new series of the kind; the growth of VmRSS divided by the
# series. Loopback only, every push bounded by --requests and --duration.
#
#   bash benches/memory.sh                 # all five kinds
#   KINDS="counter gauge" bash benches/memory.sh
#   NEW=50000 bash benches/memory.sh       # fewer new series
#   WARM=5s bash benches/memory.sh         # right before the first reading, 2 s of /metrics
#                                          # scrapes and WARM of batched ingest over 1,000
#                                          # series: what compare.sh's server has just done
#                                          # when it reads, and memory it freed is reused
set -euo pipefail
cd "$(dirname "$0")/.."
KINDS=${KINDS:-counter gauge meter histogram timer}
BASE=${BASE:-10000}
NEW=${NEW:-100000}
WARM=${WARM:-}
source benches/lib.sh
bench_setup memory

if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet; fi
M="${CARGO_TARGET_DIR:-target}/release/meterd"
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
series() { curl -fsS -H 'Accept: application/json' "$1/metrics/vendor" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["meterd.series"]))'; }
push() { # target kind series
  taskset -c 1 "$M" bench --target "$1" --mode events --kind "$2" --batch 100 --series "$3" \
    --requests $(( $3 / 100 )) --connections 8 --duration 120s --json --quiet >/dev/null
}

printf '[limits]\nmax_series_per_service = 1000000\n' >"$WORK/bench.toml"
printf '%-10s %12s %12s %14s\n' kind "new series" "RSS growth" "bytes/series"
for kind in $KINDS; do
  HP=$(free_port)
  taskset -c 0 "$M" serve --listen "127.0.0.1:$HP" --data-dir "$WORK/$kind" --statsd-udp off \
    --pipeline "$WORK/bench.toml" >"$WORK/$kind.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  T="http://127.0.0.1:$HP"
  wait_http "$T/-/ready"
  push "$T" "$kind" "$BASE"
  sleep 1
  if [ -n "$WARM" ]; then
    taskset -c 1 "$M" bench --target "$T" --mode query --path /metrics --connections 1 \
      --duration 2s --json --quiet >/dev/null
    taskset -c 1 "$M" bench --target "$T" --mode events --kind "$kind" --batch 100 --series 1000 \
      --connections 16 --duration "$WARM" --json --quiet >/dev/null
  fi
  s0=$(series "$T"); rss0=$(rss_kib "$PID")
  push "$T" "$kind" $((BASE + NEW))
  sleep 1
  s1=$(series "$T"); rss1=$(rss_kib "$PID")
  kill "$PID"; wait "$PID" 2>/dev/null || true
  python3 -c "n=$s1-$s0; g=($rss1-$rss0)*1024; print(f'{\"$kind\":<10} {n:>12,} {g/2**20:>9.1f} MiB {g/max(n,1):>14,.0f}')"
done
