#!/usr/bin/env bash
# What a request costs the server, binaries side by side: for each binary in turn (RUNS rounds,
# alternating), a fresh meterd pinned to CPU 0, `meterd bench` on CPU 1 sending REQ requests of
# BATCH events over CONN connections, `perf stat -e task-clock,context-switches` on the server
# meanwhile, then GET /-/healthy on the same server. Prints each run and the medians: req/s,
# the ratio to /-/healthy, server CPU and context switches per request. Loopback only; every
# run is bounded by its request count.
#
#   bash benches/hops.sh OLD_BIN NEW_BIN            # REQ=30000 BATCH=1 CONN=32 RUNS=3
#   BATCH=100 CONN=16 REQ=4000 MODE=fsync bash benches/hops.sh OLD_BIN NEW_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=${REQ:-30000} BATCH=${BATCH:-1} CONN=${CONN:-32} RUNS=${RUNS:-3} MODE=${MODE:-interval}
[ $# -ge 1 ] || { echo "usage: $0 BIN [BIN...]" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is needed (Debian package linux-perf)" >&2; exit 2; }
source benches/lib.sh
bench_setup hops

one_run() { # BIN LABEL
  local bin=$1 label=$2 port pid perf_pid dir
  dir=$(mktemp -d "$WORK/run.XXXXXX"); port=$(free_port)
  printf '[limits]\nmax_series_per_service = 1000000\n[durability]\nmode = "%s"\n' "$MODE" >"$dir/p.toml"
  taskset -c 0 "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir/d" --pipeline "$dir/p.toml" \
    >"$dir/log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/-/ready"
  local load=(taskset -c 1 "$bin" bench --target "http://127.0.0.1:$port" --json --quiet --duration 60s)
  "${load[@]}" --mode events --batch "$BATCH" --connections "$CONN" --requests 2000 >/dev/null
  perf stat -x, -e task-clock,context-switches -p "$pid" -o "$dir/perf" &
  perf_pid=$!
  sleep 0.2
  "${load[@]}" --mode events --batch "$BATCH" --connections "$CONN" --requests "$REQ" >"$dir/ingest.json"
  kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
  "${load[@]}" --mode query --path /-/healthy --connections 32 --requests $((REQ * 2)) >"$dir/healthy.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label $dir"
}

for _ in $(seq 1 "$RUNS"); do
  for bin in "$@"; do one_run "$bin" "$bin"; done
done >"$WORK/runs"

python3 - "$WORK/runs" "$BATCH" <<'PY'
import json, sys, statistics
rows = {}
for line in open(sys.argv[1]):
    label, d = line.split()
    ingest, healthy = json.load(open(d + "/ingest.json")), json.load(open(d + "/healthy.json"))
    perf = {p[2]: float(p[0]) for p in (l.strip().split(",") for l in open(d + "/perf")) if len(p) > 2}
    n = ingest["requests"]
    r = dict(rps=ingest["requests_per_second"], ratio=ingest["requests_per_second"] / healthy["requests_per_second"],
             cpu=perf.get("task-clock", 0) * 1000 / n, cs=perf.get("context-switches", 0) / n,
             errors=sum(ingest["errors"].values()))
    rows.setdefault(label, []).append(r)
    print(f'{label}: {r["rps"]:,.0f} req/s ({sys.argv[2]} events each), {r["ratio"]:.2f} of /-/healthy, '
          f'{r["cpu"]:.1f} us CPU and {r["cs"]:.2f} context switches per request, {r["errors"]} errors')
print("medians:")
for label, rs in rows.items():
    m = lambda k: statistics.median(x[k] for x in rs)
    print(f'  {label}: {m("rps"):,.0f} req/s, {m("ratio"):.2f} of /-/healthy, {m("cpu"):.1f} us CPU, {m("cs"):.2f} cs per request, {sum(x["errors"] for x in rs)} errors')
# A run with refused requests (cheap 503s) would look faster than it is.
sys.exit(1 if any(x["errors"] for rs in rows.values() for x in rs) else 0)
PY
