#!/usr/bin/env bash
# A bounded soak: serves a recording axum app on 127.0.0.1
# (trace-tower/examples/soak.rs) and drives it with wrk for SECONDS
# (default 300) with valid, invalid and oversized trace headers and user
# agents (scripts/soak.lua). Passes when wrk saw no non-2xx response and no
# socket error, and the server's RSS after the run is within
# RSS_SLACK_MIB (default 32) of its RSS after the warm-up (the store is
# bounded at 10,000 spans or 16 MiB). Installs wrk from Debian if needed.
#
# Usage: scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-300}"
WARMUP="${WARMUP:-5}"
RSS_SLACK_MIB="${RSS_SLACK_MIB:-32}"
CONNECTIONS="${CONNECTIONS:-32}"

source scripts/lib.sh
ensure_wrk
cargo build --release -q -p trace-tower --features axum --example soak
log="$(mktemp)"
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; rm -f "$log"' EXIT
start_server "$log" target/release/examples/soak
addr="$SERVER_ADDR"; server="$SERVER_PID"

stats() { python3 -c 'import json,sys,urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "http://$addr/_stats"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# wrk on one thread, the server on one worker: a core each.
drive() { wrk -t1 -c"$CONNECTIONS" -d"$1"s -s scripts/soak.lua "http://$addr/"; }

drive "$WARMUP" >/dev/null
warm="$(stats)"
out="$(drive "$DURATION")"
end="$(stats)"
kill -0 "$server" || { echo "the server died"; exit 1; }

echo "$out"
requests="$(echo "$out" | sed -nE 's/^ *([0-9]+) requests in.*/\1/p')"
non2xx="$(echo "$out" | sed -nE 's/^ *Non-2xx or 3xx responses: ([0-9]+)/\1/p')"
socket="$(echo "$out" | sed -nE 's/^ *Socket errors: (.*)/\1/p')"
rss_warm="$(field "$warm" rss_kib)"; rss_end="$(field "$end" rss_kib)"
growth_kib=$((rss_end - rss_warm))
echo "after warm-up: $warm"
echo "after the run: $end"
echo "soak: ${DURATION}s, ${requests:-0} requests, non-2xx ${non2xx:-0}, socket errors ${socket:-none}, RSS ${rss_warm} KiB -> ${rss_end} KiB (growth ${growth_kib} KiB, bound $((RSS_SLACK_MIB * 1024)) KiB)"

fail=0
[ "${requests:-0}" -gt 0 ] || { echo "FAIL: no requests"; fail=1; }
[ -z "$non2xx" ] || { echo "FAIL: $non2xx non-2xx responses"; fail=1; }
[ -z "$socket" ] || { echo "FAIL: socket errors: $socket"; fail=1; }
[ "$growth_kib" -le $((RSS_SLACK_MIB * 1024)) ] || { echo "FAIL: RSS grew by ${growth_kib} KiB"; fail=1; }
[ "$(field "$end" bytes)" -le "$(field "$end" max_bytes)" ] || { echo "FAIL: the store is over its byte bound"; fail=1; }
exit "$fail"
