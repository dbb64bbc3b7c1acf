# Shared by scripts/soak.sh and scripts/throughput.sh (sourced, not run).

# Installs wrk from Debian when it is missing.
ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
  fi
}

# start_server LOG COMMAND...: runs COMMAND in the background, its output
# in LOG, and waits (up to 5 s) for its `listening on ADDR` line. Sets
# SERVER_PID and SERVER_ADDR; fails, showing LOG, if it never comes.
start_server() {
  local log="$1"; shift
  "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$log" && break
    sleep 0.05
  done
  SERVER_ADDR="$(sed -n 's/^listening on //p' "$log")"
  if [ -z "$SERVER_ADDR" ]; then
    cat "$log"; echo "the server did not start: $*"
    return 1
  fi
}
