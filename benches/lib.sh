# Shared by the bench scripts (sourced): a work dir removed at exit (kept with KEEP=1), the
# processes in PIDS killed at exit, and the small helpers every script needs.
#   source "$(dirname "$0")/lib.sh"; bench_setup NAME
bench_setup() {
  WORK=$(mktemp -d "/tmp/meterd-$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "raw results kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
say() { printf '== %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits until $1 answers 2xx, 60 s at most (a release build starting on a busy machine).
wait_http() { for _ in $(seq 1 600); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
