#!/usr/bin/env bash
# Ingest through a meterd cluster next to one meterd, in one run on one machine (issue 13):
# three nats-servers as one JetStream cluster (R3 stream) and three meterd nodes, all on
# loopback, then one plain meterd; the same bounded load (`meterd bench --mode events`) goes to
# the single node, to one cluster node, and spread over the three cluster nodes.
# Every run is bounded by --duration. Prints a table (and writes it to $OUT if set).
#
#   bash benches/cluster.sh            # DUR=10s by default
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10s}
CONN=${CONN:-16}
BATCH=${BATCH:-100}
NATS=${NATS:-$(command -v nats-server || echo /usr/sbin/nats-server)}
source benches/lib.sh
bench_setup cluster
field() { python3 -c "import json,sys; d=json.load(open('$1')); print(d$2)"; }
errors() { python3 -c "import json; d=json.load(open('$1')); print(sum(d.get('errors', {}).values()))"; }

say "building meterd (release)"
cargo build --release --quiet --bin meterd
M="${CARGO_TARGET_DIR:-target}/release/meterd"

# --- three nats-servers, one JetStream cluster ----------------------------------------------------
ROUTES=(); CLIENTS=(); MONITORS=()
for i in 0 1 2; do ROUTES+=("$(free_port)"); CLIENTS+=("$(free_port)"); MONITORS+=("$(free_port)"); done
ROUTE_LIST=$(printf '"nats-route://127.0.0.1:%s", ' "${ROUTES[@]}"); ROUTE_LIST=${ROUTE_LIST%, }
for i in 0 1 2; do
  cat >"$WORK/ns$i.conf" <<CONF
server_name: ns$i
listen: 127.0.0.1:${CLIENTS[$i]}
http: 127.0.0.1:${MONITORS[$i]}
jetstream { store_dir: "$WORK/ns$i" }
cluster { name: bench, listen: 127.0.0.1:${ROUTES[$i]}, routes: [$ROUTE_LIST] }
CONF
  "$NATS" -c "$WORK/ns$i.conf" >"$WORK/ns$i.log" 2>&1 &
  PIDS+=("$!")
done
# JetStream is ready once the servers elected a meta leader.
for i in 0 1 2; do
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:${MONITORS[$i]}/jsz" 2>/dev/null \
      | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("meta_cluster",{}).get("leader") else 1)' \
      && break
    sleep 0.1
  done
done
URLS=$(printf 'nats://127.0.0.1:%s,' "${CLIENTS[@]}"); URLS=${URLS%,}
printf '[cluster]\npartitions = 16\nreplicas = 3\n[limits]\nmax_series_per_service = 1000000\n' >"$WORK/bench.toml"

# --- three meterd nodes and one single node -------------------------------------------------------
NODES=()
for n in a b c; do
  P=$(free_port)
  "$M" serve --listen "127.0.0.1:$P" --data-dir "$WORK/$n" --statsd-udp off --pipeline "$WORK/bench.toml" \
    --cluster "$URLS" --node "$n" >"$WORK/$n.log" 2>&1 &
  PIDS+=("$!"); NODES+=("http://127.0.0.1:$P")
  sleep 1
done
SP=$(free_port)
"$M" serve --listen "127.0.0.1:$SP" --data-dir "$WORK/single" --statsd-udp off --pipeline "$WORK/bench.toml" \
  >"$WORK/single.log" 2>&1 &
PIDS+=("$!")
for u in "${NODES[@]}" "http://127.0.0.1:$SP"; do wait_http "$u/-/ready"; done

LOAD=("$M" bench --mode events --batch "$BATCH" --duration "$DUR" --json --quiet)
say "single node: $CONN connections"
"${LOAD[@]}" --target "http://127.0.0.1:$SP" --connections "$CONN" >"$WORK/single.json"
say "cluster, one node: $CONN connections"
"${LOAD[@]}" --target "${NODES[0]}" --connections "$CONN" >"$WORK/one.json"
say "cluster, three nodes: $((CONN / 3)) connections each"
for i in 0 1 2; do
  "${LOAD[@]}" --target "${NODES[$i]}" --connections $((CONN / 3)) >"$WORK/three$i.json" &
  LP[$i]=$!
done
wait "${LP[0]}" "${LP[1]}" "${LP[2]}"

row() { printf '%-34s %12s %10s %10s %8s\n' "$@"; }
{
  row "target" "events/s" "p50 ms" "p99 ms" "errors"
  for f in single one; do
    row "$( [ $f = single ] && echo 'single node' || echo 'cluster: all load on one node')" \
      "$(printf '%.0f' "$(field "$WORK/$f.json" "['events_per_second']")")" "$(field "$WORK/$f.json" "['latency_ms']['p50']")" \
      "$(field "$WORK/$f.json" "['latency_ms']['p99']")" "$(errors "$WORK/$f.json")"
  done
  total=0
  for i in 0 1 2; do total=$(python3 -c "print($total + $(field "$WORK/three$i.json" "['events_per_second']"))"); done
  row "cluster: load spread on 3 nodes" "$(printf '%.0f' "$total")" \
    "$(field "$WORK/three0.json" "['latency_ms']['p50']")" "$(field "$WORK/three0.json" "['latency_ms']['p99']")" \
    "$(errors "$WORK/three0.json")"
} | tee "${OUT:-/dev/null}"
