#!/usr/bin/env bash
# The reference server under load, per store: GET /api/me and POST /auth/refresh throughput and
# p99 with the memory, SQLite and Redis stores (one instance each) and two instances sharing one
# Redis and one signing key, then GET /api/me with a DPoP proof per request (`--dpop`: a
# signature checked and a `jti` recorded in the store each time) on one and two instances on
# Redis, on loopback, side by side in one run. Called by scripts/bench.sh
# (also runs alone). Writes OUT/stores.md and OUT/stores.json (OUT defaults to target/bench).
# Needs redis-server (scripts/setup.sh installs it). About 1-2 minutes after the builds
# (2-4 minutes cold). Knobs: BENCH_STORE_SECS (3), BENCH_STORE_ROUNDS (3), BENCH_STORE_CONCURRENCY (32),
# BENCH_CARGO_PROFILE (bench; dev builds into target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
OUT=${1:-$ROOT/target/bench}
SECS=${BENCH_STORE_SECS:-3}
ROUNDS=${BENCH_STORE_ROUNDS:-3}
CONC=${BENCH_STORE_CONCURRENCY:-32}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-build}
export CARGO_PROFILE_BENCH_OPT_LEVEL=3 CARGO_PROFILE_BENCH_LTO=false
export CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_DEBUG=false
WORK=$OUT/stores
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
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

# BENCH_CARGO_PROFILE=dev (scripts/bench.sh's quick mode): the debug builds `make test` has made.
PROFILE=${BENCH_CARGO_PROFILE:-bench}
PROFILE_DIR=release
[ "$PROFILE" = dev ] && PROFILE_DIR=debug
say "building the server and the load generator ($PROFILE profile; 2-4 min cold, seconds warm)"
if [ "$PROFILE" = dev ] && [ -n "${BUILD_BINS:-}" ]; then
  # Under make (the quick mode): make test's own build (the Makefile's BUILD_BINS, which builds the
  # workspace's examples too), nothing compiled again.
  $BUILD_BINS
else
  cargo build --profile "$PROFILE" -p tokenwarden-server --bin tokenwarden-server --example load
fi
SERVER_BIN=$CARGO_TARGET_DIR/$PROFILE_DIR/tokenwarden-server
LOAD_BIN=$CARGO_TARGET_DIR/$PROFILE_DIR/examples/load

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
# All servers run for the whole measurement; the cases take turns, ROUNDS times, and each cell
# is the median over the rounds, so that a busy moment of the machine does not land on one store.
NAMES=("memory, 1 instance" "sqlite, 1 instance" "redis, 1 instance" "redis, 2 instances"
  "redis, 1 instance, DPoP" "redis, 2 instances, DPoP")
STORES=(memory "sqlite:$WORK/bench.db" "redis://127.0.0.1:$REDIS_PORT" "redis://127.0.0.1:$REDIS_PORT"
  "redis://127.0.0.1:$REDIS_PORT" "redis://127.0.0.1:$REDIS_PORT")
COUNTS=(1 1 1 2 1 2)
# The DPoP cases: servers with --dpop (proofs name URLs under the issuer), GET /api/me only.
DPOP_CASES=(0 0 0 0 1 1)
URLS=()
rm -f "$WORK"/bench.db*
for c in "${!NAMES[@]}"; do
  urls=""
  for i in $(seq 1 "${COUNTS[$c]}"); do
    extra=()
    # One key per load worker signs thousands of proofs: BENCH_DPOP_QUOTA (scripts/lib.sh).
    [ "${DPOP_CASES[$c]}" = 1 ] && extra=(--dpop --dpop-quota "$BENCH_DPOP_QUOTA" --redis-prefix "bench-dpop")
    start_server "$WORK/server-$c-$i.log" "${COMMON[@]}" --store "${STORES[$c]}" "${extra[@]}" || exit 1
    SERVERS+=("$SERVER_PID")
    urls+=" --url $SERVER_URL"
  done
  URLS+=("$urls")
done
START=$(date +%s)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for c in "${!NAMES[@]}"; do
    ops=(me refresh) dpop=()
    [ "${DPOP_CASES[$c]}" = 1 ] && ops=(me) dpop=(--dpop)
    for op in "${ops[@]}"; do
      say "round $round/$ROUNDS, ${NAMES[$c]}: $op, $CONC clients, ${SECS} s"
      # shellcheck disable=SC2086
      line=$("$LOAD_BIN" ${URLS[$c]} --op "$op" --concurrency "$CONC" --seconds "$SECS" "${dpop[@]}")
      echo "{\"case\":$c,\"op\":\"$op\",\"round\":$round,\"r\":$line}" >>"$RESULTS"
    done
  done
done
stop_servers
node -e '
  const fs = require("fs");
  const [file, outJson, outRows, ...names] = process.argv.slice(1);
  const rows = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const cell = (c, op) => {
    const rs = rows.filter((r) => r.case === c && r.op === op).map((r) => r.r);
    if (rs.length === 0) return null;
    return { rps: median(rs.map((r) => r.rps)), p99_ms: median(rs.map((r) => r.p99_ms)),
             errors: rs.reduce((n, r) => n + r.errors, 0), rounds: rs.length };
  };
  const table = names.map((name, c) => ({ name, me: cell(c, "me"), refresh: cell(c, "refresh") }));
  fs.writeFileSync(outJson, JSON.stringify(table, null, 1));
  fs.writeFileSync(outRows, table.map((t) =>
    `| ${t.name} | ${t.me.rps} | ${t.me.p99_ms} | ${t.refresh?.rps ?? "–"} | ${t.refresh?.p99_ms ?? "–"} | ${t.me.errors + (t.refresh?.errors ?? 0)} |`
  ).join("\n") + "\n");' "$RESULTS" "$OUT/stores.json" "$WORK/rows.md" "${NAMES[@]}"

{
  echo "## Reference server: stores under load"
  echo
  echo "Loopback, $CONC concurrent clients, median of $ROUNDS rounds of ${SECS} s per cell (the cases take turns),"
  echo "$(nproc) cores shared with the load generator; the two-instance row spreads requests over both"
  echo "instances (refresh chains hop between them). The DPoP rows: servers with \`--dpop\`, every request"
  echo "with a fresh ES256 proof signed by the load generator (on the same cores), its signature checked and"
  echo "its \`jti\` recorded in Redis. Load at the start: $LOAD_AT_START."
  echo
  echo "| store | GET /api/me req/s | p99 ms | POST /auth/refresh req/s | p99 ms | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
  cat "$WORK/rows.md"
} >"$OUT/stores.md"
cat "$OUT/stores.md"
say "done in $(($(date +%s) - START)) s: $OUT/stores.md"
