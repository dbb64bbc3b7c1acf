#!/usr/bin/env bash
# Loopback throughput of the server stacks (trace-tower/examples/throughput.rs):
# bare, ours propagation-only, ours recording in memory, ours with
# OpenTelemetry, tower-http's request-id + trace stack, and
# axum-tracing-opentelemetry. Each stack's server runs on one worker
# thread pinned to core 0, wrk (one thread, 32 connections, a
# `traceparent` on every request) on core 1; the stacks take turns,
# round after round, so that drift in the machine hits them all alike.
# Prints requests per second and the ratio to bare for each round, then
# the medians. Loopback only, bounded: ROUNDS x stacks x (SECONDS + 1 s).
# Asserts nothing about speed. Installs wrk from Debian if needed.
#
# Usage: scripts/throughput.sh [SECONDS] [ROUNDS]   (default 10 s, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${1:-10}"
ROUNDS="${2:-3}"
STACKS="${STACKS:-bare ours memory otel tower-http otel-axum}"
CONNECTIONS="${CONNECTIONS:-32}"
TRACEPARENT="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

source scripts/lib.sh
ensure_wrk
cargo build --release -q -p trace-tower --features axum --example throughput

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server_core=(taskset -c 0); client_core=(taskset -c 1)
else
  echo "(fewer than 2 cores or no taskset: not pinned)"
  server_core=(); client_core=()
fi

log="$(mktemp)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -f "$log"' EXIT

# One run of one stack: its requests per second.
run() {
  start_server "$log" "${server_core[@]}" target/release/examples/throughput "$1" >&2 || exit 1
  server="$SERVER_PID"
  local url="http://$SERVER_ADDR/users/7"
  "${client_core[@]}" wrk -t1 -c"$CONNECTIONS" -d1s -H "traceparent: $TRACEPARENT" "$url" >/dev/null
  local out; out="$("${client_core[@]}" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}"s \
    -H "traceparent: $TRACEPARENT" "$url")"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  if echo "$out" | grep -qE "Non-2xx|Socket errors"; then
    echo "$out" >&2; echo "the $1 run had errors" >&2; exit 1
  fi
  echo "$out" | sed -nE 's/^Requests\/sec: *([0-9.]+)/\1/p'
}

declare -A results ratios
printf '%-6s' round; for stack in $STACKS; do printf '%22s' "$stack"; done; echo
for round in $(seq "$ROUNDS"); do
  declare -A rps=()
  for stack in $STACKS; do rps[$stack]="$(run "$stack")"; done
  printf '%-6s' "$round"
  for stack in $STACKS; do
    ratio="$(python3 -c "print(f'{float(\"${rps[$stack]}\") / float(\"${rps[bare]:-${rps[$stack]}}\"):.3f}')")"
    printf '%22s' "$(printf '%.0f (%s)' "${rps[$stack]}" "$ratio")"
    results[$stack]+="${rps[$stack]} "
    ratios[$stack]+="$ratio "
  done
  echo
done
echo "requests per second (ratio to bare in that round); medians over $ROUNDS rounds of ${SECONDS_PER_RUN} s:"
for stack in $STACKS; do
  python3 - "$stack" "${results[$stack]}" "${ratios[$stack]}" <<'PY'
import statistics, sys
name, rps, ratios = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
print(f"  {name:<12} {statistics.median(map(float, rps)):>10.0f} req/s  "
      f"{statistics.median(map(float, ratios)):.3f} of bare")
PY
done
