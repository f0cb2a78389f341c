#!/usr/bin/env bash
# Ingest throughput under each durability mode, in one run: three meterd servers one after
# another on loopback, each loaded by `meterd bench` for the same time, then the ratios.
#
#   benches/durability.sh [seconds] [batch] [connections]
#
# Prints one JSON line per mode and a summary; bounded in time (3 x seconds plus start-up).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
batch=${2:-100}
conns=${3:-16}
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/meterd
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

declare -A rate
for mode in fsync interval none; do
  printf '[durability]\nmode = "%s"\n' "$mode" > "$work/$mode.toml"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  METERD_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data-$mode" \
    --pipeline "$work/$mode.toml" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null && break
    sleep 0.1
  done
  "$bin" bench --target "http://127.0.0.1:$port" --duration "${secs}s" --batch "$batch" \
    --connections "$conns" --json --quiet > "$work/$mode.json"
  fsyncs=$(curl -fs -H 'Accept: application/json' "http://127.0.0.1:$port/metrics/vendor/meterd.wal.fsyncs")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rate[$mode]=$(python3 -c "import json,sys; print(json.load(open('$work/$mode.json'))['events_per_second'])")
  python3 - "$work/$mode.json" "$mode" "$fsyncs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"mode": sys.argv[2], "events_per_second": round(r["events_per_second"]),
                  "requests_per_second": round(r["requests_per_second"]), "errors": r["errors"],
                  "latency_ms": r["latency_ms"], "wal_fsyncs": json.loads(sys.argv[3])["meterd.wal.fsyncs"]}))
PY
done
python3 - "${rate[fsync]}" "${rate[interval]}" "${rate[none]}" <<'PY'
import sys
f, i, n = map(float, sys.argv[1:])
print(f"events/s  fsync {f:.0f}  interval {i:.0f}  none {n:.0f}")
print(f"ratios    fsync : interval : none = {f/n:.2f} : {i/n:.2f} : 1.00  (interval/fsync = {i/f:.2f})")
PY
