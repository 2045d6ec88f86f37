#!/usr/bin/env bash
# `make bench`: tokenwarden measured side by side with the libraries people would use instead.
# Writes target/bench/report.md and target/bench/report.json (raw parts in target/bench/results/).
#   1. sizes of our npm builds vs auth0-spa-js, oidc-client-ts, @supabase/auth-js, okta-auth-js,
#      jose and jwt-decode (installed from npm in this run into target/bench/peers);
#   2-3. verifyJwt / decodeJwt vs jose (and jwt-decode) in Node and headless Chromium;
#   4. tm.fetch vs plain fetch vs a hand-written wrapper in Chromium (preparation and end to end);
#   5. criterion benchmarks of the core, and the reference server under wrk on loopback;
#   6. worker custody's cost (scripts/bench-custody.sh, appended to the report).
# Needs what scripts/setup.sh installs (run it first; `make bench` does), plus wrk (installed
# here with apt-get when missing). About 13-15 minutes from a fresh clone on 2 cores after setup
# (cold builds take 6-10 of them, more when the machine is busy), about 5 minutes warm.
# Knobs: BENCH_ROUNDS (21), BENCH_BATCH_MS (50), BENCH_E2E_ROUNDS (3), BENCH_LOAD_RUNS (3),
# BENCH_LOAD_SECS (5), BENCH_CRITERION_SECS (2). BENCH_ONLY=verify runs only verifyJwt and
# decodeJwt against jose in Node and Chromium (about 2 minutes warm) and prints their ratios;
# BENCH_ONLY=fetch runs only the tm.fetch preparation comparison in Chromium and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
OUT=$ROOT/target/bench
RES=$OUT/results
PEERS=$OUT/peers
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Native builds get their own target dir (no lock contention with other builds) and the bench
# profile optimised for speed: the release profile it inherits is tuned for wasm size.
export CARGO_TARGET_DIR=$ROOT/target/bench-build
export CARGO_PROFILE_BENCH_OPT_LEVEL=3 CARGO_PROFILE_BENCH_LTO=false
export CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_DEBUG=false
export BENCH_ROUNDS=${BENCH_ROUNDS:-21} BENCH_E2E_ROUNDS=${BENCH_E2E_ROUNDS:-3}
CRITERION_SECS=${BENCH_CRITERION_SECS:-2}

START=$(date +%s)
STEP_START=$START
STEPS=9
elapsed() { local s=$(($(date +%s) - START)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
step() { # step N "what" "expected duration" "short name for the report"
  finish_step
  STEP_NAME=$4
  STEP_START=$(date +%s)
  printf '\n\033[1m[bench %s] step %s/%s: %s\033[0m (expect %s)\n' "$(elapsed)" "$1" "$STEPS" "$2" "$3"
}
STEP_NAME=""
finish_step() {
  if [ -n "$STEP_NAME" ]; then echo "$(($(date +%s) - STEP_START)) $STEP_NAME" >>"$RES/timings.txt"; fi
  STEP_NAME=""
}
die() { echo "bench: $*" >&2; exit 1; }

SERVER_PID=""
DPOP_PID=""
NPM_PID=""
cleanup() {
  for pid in $DPOP_PID; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$NPM_PID" ]; then kill "$NPM_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Prerequisites (scripts/setup.sh installs all but wrk).
for tool in cargo node npm wasm-bindgen wasm-opt; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh (or make setup) first"
done
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium not found: run scripts/setup.sh first"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || die "no wasm32 target: run scripts/setup.sh first"

rm -rf "$RES" "$OUT/www" "$OUT/report.md" "$OUT/report.json"
mkdir -p "$RES" "$OUT/www/bench" "$PEERS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

step 1 "install the peers from npm into target/bench/peers (in the background) and wrk" "15-60 s" "peers+wrk"
rm -rf "$PEERS/node_modules" "$PEERS/js"
cp benches/peers/package.json benches/peers/package-lock.json "$PEERS/"
cp -r benches/js "$PEERS/js"
(cd "$PEERS" && npm install --no-audit --no-fund --loglevel=error >"$RES/npm-install.log" 2>&1) &
NPM_PID=$!
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null || die "could not install wrk"
fi

step 2 "npm builds: full default and without verification (scripts/build-pkg.sh)" "2-4 min cold, 30 s warm" "pkg builds"
# build-pkg.sh picks its own target dir per feature set.
env -u CARGO_TARGET_DIR scripts/build-pkg.sh "$OUT/pkg-full"
# HS256 computed in wasm (feature hmac-sync, not in the default package), beside WebCrypto's.
# An opt-in build for HS* in bulk, so compiled for speed (opt-level 3; the package is tuned for
# size): measured in Node, verifyJwt HS256 17-18 -> 10-11 us, at about +17% wasm gzip.
env -u CARGO_TARGET_DIR scripts/build-pkg.sh "$OUT/pkg-hmacsync" --features hmac-sync \
  --config 'profile.release.opt-level=3'
if [ -n "${BENCH_ONLY:-}" ]; then
  # One comparison alone: BENCH_ONLY=verify (verifyJwt and decodeJwt against jose, Node and
  # Chromium) or BENCH_ONLY=fetch (tm.fetch preparation, Chromium); about 2 minutes warm each.
  case "$BENCH_ONLY" in verify|fetch) ;; *) die "BENCH_ONLY must be verify or fetch" ;; esac
  echo "bench: BENCH_ONLY=$BENCH_ONLY: that comparison alone, side by side in one run"
  wait "$NPM_PID" || { cat "$RES/npm-install.log" >&2; die "npm install of the peers failed"; }
  NPM_PID=""
  cp "$ROOT"/benches/web/* "$OUT/www/bench/"
  cp -r "$OUT/pkg-hmacsync/web" "$OUT/www/bench/hmacsync"
  (cd "$PEERS" && node js/make_tokens.mjs "$OUT/www/bench/tokens.json" \
    && node_modules/.bin/esbuild js/browser_entry.mjs --bundle --format=esm --platform=browser \
      --outfile="$OUT/www/bench/bundle.js" --log-level=warning)
  if [ "$BENCH_ONLY" = verify ]; then
    (cd "$PEERS" && node js/node_bench.mjs "$OUT/pkg-full" "$OUT/www/bench/tokens.json" "$RES/node.json" "$OUT/pkg-hmacsync")
  fi
  env -u CARGO_TARGET_DIR cargo build -p tokenwarden-server
  SERVER_BIN=$ROOT/target/debug/tokenwarden-server
  start_server "$RES/server.log" --port 0 --quiet --www-dir "$OUT/www" --pkg-dir "$OUT/pkg-full" \
    || die "the reference server did not start"
  (cd "$PEERS" && node js/browser_bench.mjs "$SERVER_URL" "$RES/chromium.json")
  if [ "$BENCH_ONLY" = fetch ]; then
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      for (const [name, p] of Object.entries(r.fetchPrep)) {
        const d = Object.entries(p.diffsUs ?? {}).map(([k, v]) => `${k} ${v.median.toFixed(2)} (${v.min.toFixed(2)}-${v.max.toFixed(2)})`);
        console.log(`${r.runtime} fetch preparation, ${name}, us/call medians (min-max): ${d.join("; ")}`);
      }' "$RES/chromium.json"
    exit 0
  fi
  node -e '
    const fs = require("fs");
    for (const file of process.argv.slice(1)) {
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      const time = (s) => (1 / s.median).toFixed(2);
      const row = Object.entries(r.verify).flatMap(([alg, v]) => Object.entries(v.ratios)
        .map(([pair, s]) => `${alg}${pair.includes("sync") ? " hmac-sync" : ""} ${time(s)}`));
      row.push(`decodeJwt ${time(r.decode.ratios["tokenwarden / jose"])}`);
      console.log(`${r.runtime ?? file}: time / jose: ${row.join(", ")}`);
    }' "$RES/node.json" "$RES/chromium.json"
  exit 0
fi
env -u CARGO_TARGET_DIR scripts/build-pkg.sh "$OUT/pkg-noverify" --no-default-features

step 3 "native builds: criterion benches and the reference server (bench profile)" "4-6 min cold, 5 s warm" "native builds"
cargo bench -p tokenwarden --features hmac --bench core --no-run
cargo build --profile bench -p tokenwarden-server
SERVER_BIN=$CARGO_TARGET_DIR/release/tokenwarden-server
[ -x "$SERVER_BIN" ] || die "server binary not found at $SERVER_BIN"

step 4 "sizes (esbuild + gzip -9) and benchmark tokens" "10 s" "sizes"
wait "$NPM_PID" || { cat "$RES/npm-install.log" >&2; die "npm install of the peers failed"; }
NPM_PID=""
cd "$PEERS"
node js/size.mjs "$RES/size.json" full="$OUT/pkg-full" noverify="$OUT/pkg-noverify"
node js/make_tokens.mjs "$OUT/www/bench/tokens.json"
cp "$ROOT"/benches/web/* "$OUT/www/bench/"
cp -r "$OUT/pkg-hmacsync/web" "$OUT/www/bench/hmacsync"
node_modules/.bin/esbuild js/browser_entry.mjs --bundle --format=esm --platform=browser \
  --outfile="$OUT/www/bench/bundle.js" --log-level=warning

step 5 "Node: verifyJwt vs jose (4 algorithms), decodeJwt vs jose and jwt-decode" "15 s" "Node"
node js/node_bench.mjs "$OUT/pkg-full" "$OUT/www/bench/tokens.json" "$RES/node.json" "$OUT/pkg-hmacsync"
cd "$ROOT"

step 6 "native: criterion (verify x4 and jsonwebtoken x4, decode, session steps)" "30-60 s" "criterion"
rm -rf "$CARGO_TARGET_DIR/criterion"
if ! cargo bench -p tokenwarden --features hmac --bench core -- \
  --warm-up-time 1 --measurement-time "$CRITERION_SECS" --sample-size 50 >"$RES/criterion.log" 2>&1; then
  tail -n 40 "$RES/criterion.log" >&2
  die "criterion failed (log: $RES/criterion.log)"
fi
grep 'time:' "$RES/criterion.log" || true
node "$PEERS/js/criterion.mjs" "$CARGO_TARGET_DIR/criterion" "$RES/native.json"

step 7 "Chromium: verification, decoding, fetch preparation and end to end" "2-3 min" "Chromium"
LOG=$RES/server.log
start_server "$LOG" --port 0 --quiet --access-ttl 3600 --www-dir "$OUT/www" --pkg-dir "$OUT/pkg-full" \
  || die "the reference server did not start"
URL=$SERVER_URL
echo "bench: reference server at $URL"
(cd "$PEERS" && node js/browser_bench.mjs "$URL" "$RES/chromium.json")
# DPoP vs Bearer: two more servers (one with --dpop), both cross-origin to the page alike.
MAIN_PID=$SERVER_PID
start_server "$RES/server-bearer.log" --port 0 --quiet --access-ttl 3600 --allow-any-loopback-origin \
  --www-dir "$OUT/www" --pkg-dir "$OUT/pkg-full" || die "the bearer reference server did not start"
BEARER_PID=$SERVER_PID BEARER_URL=$SERVER_URL
start_server "$RES/server-dpop.log" --port 0 --quiet --access-ttl 3600 --allow-any-loopback-origin --dpop \
  || die "the DPoP reference server did not start"
DPOP_PID="$SERVER_PID $BEARER_PID"
SERVER_PID=$MAIN_PID
echo "bench: Bearer server at $BEARER_URL, DPoP server at $SERVER_URL"
(cd "$PEERS" && node js/dpop_bench.mjs "$BEARER_URL" "$SERVER_URL" "$RES/dpop.json")
for pid in $DPOP_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
DPOP_PID=""

step 8 "reference server: GET /api/me, 50 connections, wrk on loopback" "25 s" "server load"
(cd "$PEERS" && node js/load.mjs "$URL" "$RES/load.json")
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

step 9 "report" "1 s" "report"
finish_step
node -e '
  const fs = require("fs");
  const [file, ...kv] = process.argv.slice(1);
  const meta = {};
  for (let i = 0; i < kv.length; i += 2) meta[kv[i]] = kv[i + 1];
  meta.nproc = Number(meta.nproc); meta.dirty = meta.dirty === "1";
  fs.writeFileSync(file, JSON.stringify(meta, null, 1));' "$RES/meta.json" \
  date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  dirty "$(git diff --quiet HEAD 2>/dev/null && echo 0 || echo 1)" \
  nproc "$(nproc)" \
  cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  node "Node $(node --version)" \
  chromium "$(/usr/bin/chromium --version 2>/dev/null | head -n1)" \
  rustc "$(rustc --version | cut -d' ' -f1-2)" \
  loadStart "$LOAD_START" loadEnd "$(cut -d' ' -f1-3 /proc/loadavg)"
node "$PEERS/js/report.mjs" "$RES" "$OUT"
TOTAL=$(($(date +%s) - START))
printf '\n\033[1m[bench %s] done in %d min %d s\033[0m: %s\n\n' "$(elapsed)" $((TOTAL / 60)) $((TOTAL % 60)) "$OUT/report.md"
sed -n '/^## Summary/,/^## 1\./p' "$OUT/report.md" | sed '$d'

# The reference server per store (memory, SQLite, Redis; two instances on one Redis): its own
# script, appended to the report (about 1-2 minutes).
printf '\n\033[1m[bench %s] stores: the reference server under load per store\033[0m (expect 1-2 min)\n' "$(elapsed)"
scripts/bench-stores.sh "$OUT"
printf '\n' >>"$OUT/report.md"
cat "$OUT/stores.md" >>"$OUT/report.md"

# Worker custody: tm.fetch through the worker vs page custody vs plain fetch, and the bytes
# (about 1-2 minutes), appended to the report.
printf '\n\033[1m[bench %s] custody: tm.fetch in worker vs page custody, bytes\033[0m (expect 1-2 min)\n' "$(elapsed)"
scripts/bench-custody.sh "$OUT" "$OUT/pkg-full"
printf '\n' >>"$OUT/report.md"
cat "$OUT/custody.md" >>"$OUT/report.md"
