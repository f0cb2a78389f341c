#!/usr/bin/env bash
# What one hostile request costs meterd: the peak resident memory it adds (VmHWM, reset before
# each request through /proc/PID/clear_refs) and the size of the answer, for the worst bodies
# of issue 19 at the default limits.max_body_bytes (16 MiB). Loopback only, one request each.
#
#   cargo build --release && benches/figures/hostile_costs.sh target/release/meterd
set -euo pipefail
bin=${1:-target/release/meterd}
dir=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
# A fresh server per body, so that memory freed by one request does not hide the next's.
start() {
  [ -n "$pid" ] && kill "$pid" && wait "$pid" 2>/dev/null || true
  rm -rf "$dir/data"
  port=$((20000 + RANDOM % 20000))
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" --statsd-udp off >"$dir/log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log"; exit 1; }
    sleep 0.1
  done
}
mib=$((16 * 1024 * 1024))
python3 - "$dir" "$mib" <<'PY'
import gzip, sys
d, n = sys.argv[1], int(sys.argv[2])
def fill(unit, open_="", close=""):
    k = (n - len(open_) - len(close)) // len(unit)
    return (open_ + unit * k)[:-1] + close if close else open_ + unit * k
open(f"{d}/zeros.json", "w").write(fill("0,", "[", "]"))
open(f"{d}/zeros.ndjson", "w").write(fill("0\n"))
open(f"{d}/x.statsd", "w").write(fill("x\n"))
open(f"{d}/empty.put", "w").write(fill("{},", "[", "]"))
open(f"{d}/valid.json", "w").write(fill('{"name":"a","type":"counter"},', "[", "]"))
open(f"{d}/longname.json", "w").write('[{"name":"' + "a" * (n - 40) + '","type":"counter"}]')
open(f"{d}/bomb.gz", "wb").write(gzip.compress(b"[" + b" " * (1 << 30) + b"]"))
PY
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
printf '%-34s %9s %12s %10s\n' body "body KiB" "peak +KiB" "answer B"
while read -r name file path ctype encoding; do
  start
  echo 5 >"/proc/$pid/clear_refs"
  before=$(hwm)
  answer=$(curl -s -o "$dir/answer" -w '%{http_code}' -H "Content-Type: $ctype" \
    ${encoding:+-H "Content-Encoding: $encoding"} --data-binary "@$dir/$file" \
    "http://127.0.0.1:$port$path")
  printf '%-34s %9d %12d %10d  (%s)\n' "$name" $(($(stat -c %s "$dir/$file") / 1024)) \
    $(($(hwm) - before)) "$(stat -c %s "$dir/answer")" "$answer"
done <<'LIST'
events-[0,0,...] zeros.json /api/v1/events application/json
ndjson-0\n... zeros.ndjson /api/v1/events application/x-ndjson
statsd-x\n... x.statsd /api/v1/statsd text/plain
put-[{},{},...] empty.put /api/put application/json
events-16MiB-name longname.json /api/v1/events application/json
gzip-1GiB-of-blanks bomb.gz /api/v1/events application/json gzip
events-valid-(1_000_000x"a") valid.json /api/v1/events application/json
LIST
