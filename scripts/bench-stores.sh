#!/usr/bin/env bash
# The reference server under load, per store: GET /api/me and POST /auth/refresh throughput and
# p99 with the memory, SQLite and Redis stores (one instance each) and two instances sharing one
# Redis and one signing key, on loopback, side by side in one run. Called by scripts/bench.sh
# (also runs alone). Writes OUT/stores.md and OUT/stores.json (OUT defaults to target/bench).
# Needs redis-server (scripts/setup.sh installs it). About 1-2 minutes after the builds
# (2-4 minutes cold). Knobs: BENCH_STORE_SECS (5), BENCH_STORE_CONCURRENCY (32).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
OUT=${1:-$ROOT/target/bench}
SECS=${BENCH_STORE_SECS:-5}
CONC=${BENCH_STORE_CONCURRENCY:-32}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-build}
export CARGO_PROFILE_BENCH_OPT_LEVEL=3 CARGO_PROFILE_BENCH_LTO=false
export CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_DEBUG=false
WORK=$OUT/stores
mkdir -p "$WORK"
say() { printf '\033[1mbench-stores:\033[0m %s\n' "$*"; }
command -v redis-server >/dev/null || { echo "bench-stores: redis-server not found: run scripts/setup.sh" >&2; exit 1; }

SERVERS=()
REDIS_PID=""
stop_servers() {
  for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  SERVERS=()
}
cleanup() {
  stop_servers
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

say "building the server and the load generator (bench profile; 2-4 min cold, seconds warm)"
cargo build --profile bench -p tokenwarden-server --bin tokenwarden-server --example load
SERVER_BIN=$CARGO_TARGET_DIR/release/tokenwarden-server
LOAD_BIN=$CARGO_TARGET_DIR/release/examples/load

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
say "starting redis-server on 127.0.0.1:$REDIS_PORT (no persistence)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$REDIS_PORT") 2>/dev/null && break; sleep 0.1; done
KEY=$WORK/signing-key.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KEY" 2>/dev/null \
  || { echo "bench-stores: openssl could not make a P-256 key" >&2; exit 1; }

# Long-lived access tokens and no per-request log: the table measures the store, not expiry.
COMMON=(--port 0 --quiet --access-ttl 3600 --signing-key "$KEY" --issuer http://bench.invalid
  --www-dir "$WORK" --pkg-dir "$WORK")
json_rows=()
md_rows=()
run_case() { # run_case NAME STORE INSTANCES
  local name=$1 store=$2 n=$3 urls=() i
  rm -f "$WORK"/bench-*.db*
  for i in $(seq 1 "$n"); do
    start_server "$WORK/server-$name-$i.log" "${COMMON[@]}" --store "$store" || exit 1
    SERVERS+=("$SERVER_PID")
    urls+=(--url "$SERVER_URL")
  done
  local me refresh
  say "$name: GET /api/me, $CONC connections, ${SECS} s"
  me=$("$LOAD_BIN" "${urls[@]}" --op me --concurrency "$CONC" --seconds "$SECS")
  say "$name: POST /auth/refresh, $CONC connections, ${SECS} s"
  refresh=$("$LOAD_BIN" "${urls[@]}" --op refresh --concurrency "$CONC" --seconds "$SECS")
  stop_servers
  json_rows+=("{\"case\":\"$name\",\"me\":$me,\"refresh\":$refresh}")
  md_rows+=("$(node -e '
    const [name, me, rf] = process.argv.slice(1); const a = JSON.parse(me), b = JSON.parse(rf);
    console.log(`| ${name} | ${a.rps} | ${a.p99_ms} | ${b.rps} | ${b.p99_ms} | ${a.errors + b.errors} |`);' \
    "$name" "$me" "$refresh")")
}
START=$(date +%s)
run_case "memory, 1 instance" memory 1
run_case "sqlite, 1 instance" "sqlite:$WORK/bench-1.db" 1
run_case "redis, 1 instance" "redis://127.0.0.1:$REDIS_PORT" 1
run_case "redis, 2 instances" "redis://127.0.0.1:$REDIS_PORT" 2

{
  echo "## Reference server: stores under load"
  echo
  echo "Loopback, $CONC concurrent clients for ${SECS} s per cell, $(nproc) cores shared with the load generator;"
  echo "the two-instance row spreads requests over both (refresh chains hop between them)."
  echo
  echo "| store | GET /api/me req/s | p99 ms | POST /auth/refresh req/s | p99 ms | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${md_rows[@]}"
} >"$OUT/stores.md"
(IFS=,; echo "[${json_rows[*]}]") >"$OUT/stores.json"
cat "$OUT/stores.md"
say "done in $(($(date +%s) - START)) s: $OUT/stores.md"
