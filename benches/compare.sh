#!/usr/bin/env bash
# meterd side by side with the peers users would pick, in one run on one machine:
#   - the ceiling server (benches/ceiling: the same actix-web and serde, decoding and counting
#     only), the most an HTTP ingest server built like meterd could take;
#   - Prometheus Pushgateway (Debian's prometheus-pushgateway) for HTTP push, same samples per
#     request, in its best case (one group, one family with its # TYPE line) and in a realistic
#     one (a group per connection, 1,000 series in 100 untyped families);
#   - Etsy's StatsD daemon (npm `statsd`) for StatsD over UDP, with its loss measured.
# Each server is pinned to CPU 0 and the load (`meterd bench`) to CPU 1. Loopback only; every run is
# bounded by --duration. Prints a table of figures and ratios (and writes it to $OUT if set).
#
#   bash benches/compare.sh            # DUR=10s by default; DUR=5s for a quicker run
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10s}
source benches/lib.sh
bench_setup compare

# --- peers --------------------------------------------------------------------------------------
if ! command -v prometheus-pushgateway >/dev/null; then
  say "installing prometheus-pushgateway"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-pushgateway >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-pushgateway >/dev/null; }
  (systemctl stop prometheus-pushgateway 2>/dev/null || pkill -x prometheus-pushgateway 2>/dev/null) || true
fi
STATSD_DIR=${STATSD_DIR:-/opt/etsy-statsd}
if [ ! -f "$STATSD_DIR/node_modules/statsd/stats.js" ]; then
  say "installing Etsy statsd"
  mkdir -p "$STATSD_DIR" && npm install --silent --prefix "$STATSD_DIR" statsd@0.9.0 >/dev/null
fi

say "building meterd and the ceiling server (release)"
cargo build --release --quiet --bin meterd --example ceiling
M="${CARGO_TARGET_DIR:-target}/release/meterd"
CEIL="${CARGO_TARGET_DIR:-target}/release/examples/ceiling"
LOAD=(taskset -c 1 "$M" bench --duration "$DUR" --json --quiet)

field() { python3 -c "import json,sys; d=json.load(open('$1')); print(d$2)"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# --- the ceiling server ---------------------------------------------------------------------------
CP=$(free_port)
say "ceiling server on 127.0.0.1:$CP (CPU 0)"
taskset -c 0 "$CEIL" "127.0.0.1:$CP" >"$WORK/ceiling.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
wait_http "http://127.0.0.1:$CP/-/healthy"
"${LOAD[@]}" --target "http://127.0.0.1:$CP" --mode events --batch 100 --connections 16 >"$WORK/ceil_batch.json"
"${LOAD[@]}" --target "http://127.0.0.1:$CP" --mode events --batch 1 --connections 32 >"$WORK/ceil_single.json"
kill "$CPID"; wait "$CPID" 2>/dev/null || true

# --- meterd ---------------------------------------------------------------------------------------
HP=$(free_port); UP=$(free_port)
# The default pipeline, with room for the 100,000-series memory run in one service.
printf '[limits]\nmax_series_per_service = 1000000\n' >"$WORK/bench.toml"
say "meterd on 127.0.0.1:$HP (CPU 0)"
taskset -c 0 "$M" serve --listen "127.0.0.1:$HP" --data-dir "$WORK/meterd" --statsd-udp "127.0.0.1:$UP" \
  --pipeline "$WORK/bench.toml" \
  >"$WORK/meterd.log" 2>&1 &
MPID=$!; PIDS+=("$MPID")
wait_http "http://127.0.0.1:$HP/-/ready"
T="http://127.0.0.1:$HP"

say "healthy baseline";        "${LOAD[@]}" --target "$T" --mode query --path /-/healthy --connections 32 >"$WORK/healthy.json"
say "batched events (100)";    "${LOAD[@]}" --target "$T" --mode events --batch 100 --connections 16 >"$WORK/batch.json"
say "single events";           "${LOAD[@]}" --target "$T" --mode events --batch 1 --connections 32 >"$WORK/single.json"

# /metrics over 10,000 pushed series: latency alone, then ingest while it is scraped once a second.
taskset -c 1 "$M" bench --target "$T" --mode events --batch 100 --series 10000 --requests 100 \
  --connections 4 --duration 60s --json --quiet >"$WORK/push10k.json"
series10k=$(curl -fsS -H 'Accept: application/json' "$T/metrics/vendor" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["meterd.series"]))')
say "/metrics with $series10k series"; "${LOAD[@]}" --target "$T" --mode query --path /metrics --connections 1 >"$WORK/scrape.json"
say "ingest while scraping"
taskset -c 1 "$M" bench --target "$T" --mode query --path /metrics --connections 1 --rate 1 --duration "$DUR" --quiet --json >/dev/null &
SCR=$!
"${LOAD[@]}" --target "$T" --mode events --batch 100 --connections 16 >"$WORK/batch_scraped.json"
wait "$SCR"

# Memory: resident growth for 100,000 new gauge/counter series (history lives on disk).
rss0=$(rss_kib "$MPID")
taskset -c 1 "$M" bench --target "$T" --mode events --batch 100 --series 110000 --requests 1100 \
  --connections 8 --duration 60s --json --quiet >"$WORK/push100k.json"
sleep 1; rss1=$(rss_kib "$MPID")
series=$(curl -fsS -H 'Accept: application/json' "$T/metrics/vendor" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["meterd.series"]))')

say "StatsD over UDP to meterd (10 lines a datagram)"
stats_lines() { curl -fsS -H 'Accept: application/json' "$T/metrics/vendor" | python3 -c '
import json,sys
v=json.load(sys.stdin)
print(int(v.get("meterd.statsd.udp.events.accepted",0)), int(v.get("meterd.statsd.udp.lines.pending",0)))'; }
for rate in 20000 100000 200000; do
  read -r before _ < <(stats_lines)
  "${LOAD[@]}" --target "udp://127.0.0.1:$UP" --mode statsd --batch 10 --connections 1 --rate "$rate" >"$WORK/statsd_meterd_$rate.json"
  for _ in $(seq 1 50); do read -r after pending < <(stats_lines); [ "$pending" = 0 ] && break; sleep 0.1; done
  echo $((after - before)) >"$WORK/statsd_meterd_$rate.received"
done
# The worst case for folding: no line repeats its series' last one (values alternate).
read -r before _ < <(stats_lines)
"${LOAD[@]}" --target "udp://127.0.0.1:$UP" --mode statsd --batch 10 --connections 1 --rate 200000 \
  --distinct-values >"$WORK/statsd_meterd_distinct.json"
for _ in $(seq 1 50); do read -r after pending < <(stats_lines); [ "$pending" = 0 ] && break; sleep 0.1; done
echo $((after - before)) >"$WORK/statsd_meterd_distinct.received"
kill "$MPID"; wait "$MPID" 2>/dev/null || true

# --- Pushgateway ----------------------------------------------------------------------------------
# A fresh Pushgateway per run: it checks every push against everything it holds. Realistic: a
# group per connection, 1,000 series in 100 untyped families; best: one group, one family of
# the request's samples with its # TYPE line. Debian's build persists to
# /var/lib/prometheus/pushgateway.data by default, loads that file at start and writes it at
# exit: without an empty --persistence.file every run would start with what earlier runs
# pushed (tens of groups, ~19x slower pushes), so it is off and checked.
pushgateway_run() {
  PP=$(free_port)
  say "pushgateway on 127.0.0.1:$PP (CPU 0), $2 samples per push ($1)"
  taskset -c 0 prometheus-pushgateway --web.listen-address="127.0.0.1:$PP" --persistence.file= \
    >"$WORK/pgw.log" 2>&1 &
  PG=$!; PIDS+=("$PG")
  wait_http "http://127.0.0.1:$PP/-/ready"
  held=$(curl -fsS "http://127.0.0.1:$PP/api/v1/metrics" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
  [ "$held" = 0 ] || { echo "the Pushgateway started with $held groups: not a fresh one" >&2; exit 1; }
  "${LOAD[@]}" --target "http://127.0.0.1:$PP" --mode "$1" --batch "$2" --connections "$3" >"$WORK/$4.json"
  kill "$PG"; wait "$PG" 2>/dev/null || true
}
pushgateway_run pushgateway 100 16 pgw_batch
pushgateway_run pushgateway 1 32 pgw_single
pushgateway_run pushgateway-best 100 16 pgwb_batch
pushgateway_run pushgateway-best 1 32 pgwb_single

# --- Etsy StatsD ----------------------------------------------------------------------------------
SP=$(free_port); AP=$(free_port)
cat >"$WORK/statsd.js" <<JS
{ port: $SP, address: "127.0.0.1", mgmt_port: $AP, mgmt_address: "127.0.0.1", backends: [], flushInterval: 3600000 }
JS
say "Etsy statsd on 127.0.0.1:$SP (CPU 0)"
taskset -c 0 node "$STATSD_DIR/node_modules/statsd/stats.js" "$WORK/statsd.js" >"$WORK/etsy.log" 2>&1 &
ES=$!; PIDS+=("$ES")
sleep 2
etsy_received() { python3 - "$AP" <<'PY'
import socket, sys, re
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"counters\n"); buf = b""
while not buf.rstrip().endswith(b"END"):
    chunk = s.recv(65536)
    if not chunk: break
    buf += chunk
m = re.search(rb"'statsd\.metrics_received': (\d+)", buf) or re.search(rb'"statsd\.metrics_received": (\d+)', buf)
print(int(m.group(1)) if m else 0)
PY
}
for rate in 20000 40000; do
  before=$(etsy_received)
  "${LOAD[@]}" --target "udp://127.0.0.1:$SP" --mode statsd --batch 10 --connections 1 --rate "$rate" >"$WORK/etsy_$rate.json"
  sleep 1
  echo $(( $(etsy_received) - before )) >"$WORK/etsy_$rate.received"
done
kill "$ES"; wait "$ES" 2>/dev/null || true

# --- table ----------------------------------------------------------------------------------------
python3 - "$WORK" "$rss0" "$rss1" "$series" "$series10k" <<'PY' | tee "${OUT:-/dev/null}"
import json, sys, os
w, rss0, rss1, series, series10k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
j = lambda n: json.load(open(os.path.join(w, n + ".json")))
h, b, s, pb, ps = j("healthy"), j("batch"), j("single"), j("pgw_batch"), j("pgw_single")
pbb, pbs, cb, cs = j("pgwb_batch"), j("pgwb_single"), j("ceil_batch"), j("ceil_single")
scrape, bs = j("scrape"), j("batch_scraped")
def errs(r): return sum(r["errors"].values())
def ratios(v, pairs):
    """`v` against each (figure, name): 0.52 of the ceiling, 4.4x Pushgateway best, ..."""
    out = []
    for other, name in pairs:
        r = v / max(other, 1e-9)
        out.append(f"{r:.2g} of {name}" if r < 1 else f"{r:.1f}x {name}")
    return "; ".join(out)
rows = []
rows.append(("meterd GET /-/healthy", f'{h["requests_per_second"]:,.0f} req/s', ""))
ev = lambda r: r["events_per_second"]
batch_peers = [(ev(cb), "ceiling"), (ev(pbb), "Pushgateway best"), (ev(pb), "Pushgateway realistic")]
rows.append(("ceiling server batched (100 events/req)", f'{ev(cb):,.0f} events/s', ""))
rows.append(("meterd batched ingest (100 events/req)", f'{ev(b):,.0f} events/s', ratios(ev(b), batch_peers)))
rows.append(("Pushgateway best: 1 group, 1 family of 100 (# TYPE)", f'{ev(pbb):,.0f} samples/s',
             ratios(ev(pbb), batch_peers[:1])))
rows.append(("Pushgateway realistic: 16 groups, 100 families", f'{ev(pb):,.0f} samples/s',
             ratios(ev(pb), batch_peers[:1])))
rq = lambda r: r["requests_per_second"]
single_peers = [(rq(cs), "ceiling"), (rq(pbs), "Pushgateway best"), (rq(ps), "Pushgateway realistic")]
rows.append(("ceiling server single-event requests", f'{rq(cs):,.0f} req/s', ""))
rows.append(("meterd single-event requests", f'{rq(s):,.0f} req/s',
             ratios(rq(s), [(rq(h), "meterd /-/healthy")] + single_peers)))
rows.append(("Pushgateway best single-sample pushes", f'{rq(pbs):,.0f} req/s', ratios(rq(pbs), single_peers[:1])))
rows.append(("Pushgateway realistic single-sample pushes", f'{rq(ps):,.0f} req/s', ratios(rq(ps), single_peers[:1])))
for rate in (20000, 100000, 200000):
    r = j(f"statsd_meterd_{rate}"); got = int(open(os.path.join(w, f"statsd_meterd_{rate}.received")).read())
    rows.append((f"meterd StatsD UDP at {rate*10:,} lines/s", f'{r["events"]/r["seconds"]:,.0f} lines/s sent',
                 f'{100*(r["events"]-got)/max(r["events"],1):.3f}% lost'))
r = j("statsd_meterd_distinct"); got = int(open(os.path.join(w, "statsd_meterd_distinct.received")).read())
rows.append(("meterd StatsD UDP at 2,000,000 lines/s, distinct values", f'{r["events"]/r["seconds"]:,.0f} lines/s sent',
             f'{100*(r["events"]-got)/max(r["events"],1):.3f}% lost'))
for rate in (20000, 40000):
    r = j(f"etsy_{rate}"); got = int(open(os.path.join(w, f"etsy_{rate}.received")).read())
    rows.append((f"Etsy statsd at {rate*10:,} lines/s", f'{r["events"]/r["seconds"]:,.0f} lines/s sent',
                 f'{100*(r["events"]-got)/max(r["events"],1):.3f}% lost'))
rows.append((f"RSS growth for {series-series10k:,} new series", f'{(rss1-rss0)/1024:,.1f} MiB',
             f'{(rss1-rss0)*1024/max(series-series10k,1):,.0f} bytes/series'))
rows.append((f"GET /metrics ({series10k:,} series) p50", f'{scrape["latency_ms"].get("p50",0):.1f} ms', ""))
rows.append(("batched ingest while scraping", f'{bs["events_per_second"]:,.0f} events/s',
             f'{100*bs["events_per_second"]/max(b["events_per_second"],1):.0f}% of unscraped'))
total_err = sum(errs(r) for r in (h, b, s, bs, j("push10k"), j("push100k"), cb, cs))
rows.append(("non-2xx answers (meterd, ceiling)", str(total_err), "" if total_err == 0 else
             json.dumps([r["errors"] for r in (h, b, s, bs, j("push10k"), j("push100k"), cb, cs)])))
wd = max(len(r[0]) for r in rows); wv = max(len(r[1]) for r in rows)
print(f'{"measure":<{wd}}  {"figure":>{wv}}  ratio / note')
for a, v, n in rows:
    print(f"{a:<{wd}}  {v:>{wv}}  {n}")
PY
