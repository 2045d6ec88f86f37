# Shared by the scripts that run the reference server (source it; it defines a function and a
# constant, nothing runs).

# The DPoP servers of the benchmarks: one key signs every proof of a run, far more live proofs
# than the default quota (1000 per key) lets one client have; the rows measure the proofs, not the
# quota's 429.
BENCH_DPOP_QUOTA=4000000000

# start_server LOG ARGS...: starts "$SERVER_BIN" ARGS... in the background with its output in
# LOG, and waits (up to 20 s) for its "listening on URL" line. Sets SERVER_PID and SERVER_URL.
# Returns 1, after printing LOG, if the server exits or does not start in time.
start_server() {
  local log=$1
  shift
  "$SERVER_BIN" "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  SERVER_URL=""
  for _ in $(seq 1 200); do
    SERVER_URL=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n1)
    [ -n "$SERVER_URL" ] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$log" >&2
      echo "the reference server exited" >&2
      return 1
    fi
    sleep 0.1
  done
  cat "$log" >&2
  echo "the reference server did not start in 20 s" >&2
  return 1
}
