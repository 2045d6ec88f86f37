#!/usr/bin/env bash
# `make bench`: tokenwarden measured side by side with the libraries people would use instead.
# Writes target/bench/report.md and target/bench/report.json (raw parts in target/bench/results/).
#   1. one size table: the page load of each of our builds (wasm + the JS its entry loads, gzip -9)
#      beside the peers of benches/peers/package.json (installed from npm in this run), each a
#      minimal page (benches/peers/usage/) bundled with esbuild --bundle --minify, gzip -9;
#   2-3. verifyJwt / decodeJwt vs jose (and jwt-decode) in Node and headless Chromium, decodeJwt
#      also vs jose's decodeJwt + decodeProtectedHeader (the same work: both parts);
#   4. tm.fetch vs plain fetch vs a hand-written wrapper in Chromium (preparation and end to end);
#   5. criterion benchmarks of the core, and the reference server under wrk on loopback;
#   6. the server per store (scripts/bench-stores.sh) and worker custody's cost
#      (scripts/bench-custody.sh), appended to the report.
# Needs what scripts/setup.sh installs (run it first; `make bench` does). About 15-20 minutes from
# a fresh clone on 2 cores after setup (cold builds take 6-10 of them), about 8 minutes warm.
# Knobs: BENCH_ROUNDS (21), BENCH_BATCH_MS (50), BENCH_E2E_ROUNDS (3), BENCH_LOAD_RUNS (3),
# BENCH_LOAD_SECS (5), BENCH_CRITERION_SECS (2). BENCH_ONLY=verify runs only verifyJwt and
# decodeJwt against jose in Node and Chromium (about 2 minutes warm) and prints their ratios;
# BENCH_ONLY=fetch runs only the tm.fetch preparation comparison in Chromium and prints it.
# BENCH_QUICK=1 (`make test-bench`, the last step of `make test`): every step with one short
# round, no figure asserted, into target/bench-quick; it reuses the package and the debug builds
# `make test` has made (BUILD_BINS, from the Makefile), compiles only the bench targets, and fails
# if any step breaks. The HS256 hmac-sync case and the pure-Rust server build are left out.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
QUICK=${BENCH_QUICK:-}
OUT=$ROOT/target/bench
[ -n "$QUICK" ] && OUT=$ROOT/target/bench-quick

# ---- The builds measured: the one place naming them ----------------------------------------------
# The package as users get it: scripts/build-pkg.sh with no arguments builds its three entries
# (tokenwarden in PKG, tokenwarden/oauth in PKG/oauth, tokenwarden/verify in PKG/verify, each
# DIR/web/index.js and DIR/node/index.js). PKG_FULL is what the page-side benchmarks load
# (TokenManager with DPoP and custody: tokenwarden/oauth); PKG_VERIFY is what verifyJwt/decodeJwt
# are timed on (Node and Chromium; build-pkg.sh compiles that entry for speed); the size table has
# one row per entry (size_rows).
PKG=$OUT/pkg
# In the quick mode, what `make test` has built already (make pkg).
[ -n "$QUICK" ] && PKG=$ROOT/pkg
PKG_FULL=$PKG/oauth
PKG_NOVERIFY=$PKG
PKG_VERIFY=$PKG/verify
# HS256 computed in wasm (feature hmac-sync, not in the package), beside WebCrypto's.
PKG_HMACSYNC=$OUT/pkg-hmacsync
# The verify entry's feature set plus hmac-sync (no_std, as the entries: the nightly build of
# scripts/wasm-release.sh compiles core and alloc only).
PKG_HMACSYNC_ARGS=(--no-default-features --features es256,eddsa,rsa,hmac,dpop-verify,jwt-api,hmac-sync --config 'profile.release.opt-level=3')
[ -n "$QUICK" ] && PKG_HMACSYNC="" # not built by make test: the HS256 hmac-sync case is left out
size_rows() { # NAME|LABEL|browser entry, one per row of ours in the size table
  local at
  at=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
  printf '%s\n' \
    "base|tokenwarden $at: the dialect manager and decodeJwt|$PKG_NOVERIFY/web/index.js" \
    "oauth|tokenwarden/oauth $at: the manager with OAuth/OIDC and DPoP|$PKG_FULL/web/index.js" \
    "verify|tokenwarden/verify $at: verifyJwt, KeySet, decodeJwt, verifyDpopProof|$PKG_VERIFY/web/index.js"
}
# ----------------------------------------------------------------------------------------------------

RES=$OUT/results
PEERS=$OUT/peers
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Native builds get their own target dir (no lock contention with other builds) and the bench
# profile optimised for speed: the release profile it inherits is tuned for wasm size. The quick
# mode builds in `make test`'s target dir with the dev profile instead (nothing to rebuild).
export CARGO_TARGET_DIR=$ROOT/target/bench-build
CARGO_PROFILE=bench PROFILE_DIR=release
if [ -n "$QUICK" ]; then export CARGO_TARGET_DIR=$ROOT/target; CARGO_PROFILE=dev PROFILE_DIR=debug; fi
export BENCH_CARGO_PROFILE=$CARGO_PROFILE
export CARGO_PROFILE_BENCH_OPT_LEVEL=3 CARGO_PROFILE_BENCH_LTO=false
export CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 CARGO_PROFILE_BENCH_DEBUG=false
if [ -n "$QUICK" ]; then
  # One short round of everything: the figures mean nothing, the steps must all run.
  export BENCH_ROUNDS=1 BENCH_BATCH_MS=2 BENCH_E2E_ROUNDS=1 BENCH_E2E_REQUESTS=20 BENCH_DPOP_REQUESTS=10
  export BENCH_LOAD_RUNS=1 BENCH_LOAD_SECS=1 BENCH_STORE_SECS=1 BENCH_STORE_ROUNDS=1
  export BENCH_CUSTODY_ROUNDS=1 BENCH_CUSTODY_SEQUENTIAL=10 BENCH_CUSTODY_PARALLEL=50
  CRITERION_ARGS=(--warm-up-time 0.01 --measurement-time 0.01 --sample-size 10)
else
  CRITERION_ARGS=(--warm-up-time 1 --measurement-time "${BENCH_CRITERION_SECS:-2}" --sample-size 50)
fi
export BENCH_ROUNDS=${BENCH_ROUNDS:-21} BENCH_E2E_ROUNDS=${BENCH_E2E_ROUNDS:-3}

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
# build_pkg DIR ARGS...: scripts/build-pkg.sh (its own target dir per feature set); in the quick
# mode only when DIR has no package yet.
build_pkg() {
  local dir=$1
  shift
  if [ -n "$QUICK" ] && [ -f "$dir/web/index.js" ] && [ -f "$dir/node/index.js" ]; then
    echo "bench: reusing $dir"
    return
  fi
  env -u CARGO_TARGET_DIR scripts/build-pkg.sh "$dir" "$@"
}
# The reference server for the page benchmarks: the debug build `make test` uses, or in a full
# run the bench profile (step 3).
debug_server() { env -u CARGO_TARGET_DIR cargo build -p tokenwarden-server; SERVER_BIN=$ROOT/target/debug/tokenwarden-server; }

SERVER_PID=""
DPOP_PID=""
NPM_PID=""
cleanup() {
  for pid in $DPOP_PID; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$NPM_PID" ]; then kill "$NPM_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Prerequisites (scripts/setup.sh installs them all).
for tool in cargo node npm wasm-bindgen wasm-opt wrk redis-server; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh (or make setup) first"
done
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium not found: run scripts/setup.sh first"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || die "no wasm32 target: run scripts/setup.sh first"

rm -rf "$RES" "$OUT/www" "$OUT/report.md" "$OUT/report.json"
mkdir -p "$RES" "$OUT/www/bench" "$PEERS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

step 1 "install the peers from npm into $PEERS (in the background)" "15-60 s" "peers"
rm -rf "$PEERS/js" "$PEERS/usage"
cp -r benches/js "$PEERS/js"
cp -r benches/peers/usage "$PEERS/usage"
if [ -n "$QUICK" ] && [ -d "$PEERS/node_modules" ] && cmp -s benches/peers/package-lock.json "$PEERS/package-lock.json"; then
  echo "bench: the peers of benches/peers/package-lock.json are installed already"
  NPM_PID=""
else
  rm -rf "$PEERS/node_modules"
  cp benches/peers/package.json benches/peers/package-lock.json "$PEERS/"
  (cd "$PEERS" && npm ci --no-audit --no-fund --loglevel=error >"$RES/npm-install.log" 2>&1) &
  NPM_PID=$!
fi
wait_peers() {
  if [ -n "$NPM_PID" ]; then
    wait "$NPM_PID" || { cat "$RES/npm-install.log" >&2; die "npm install of the peers failed"; }
  fi
  NPM_PID=""
}

step 2 "npm builds (scripts/build-pkg.sh): the package's three entries${PKG_HMACSYNC:+, $(basename "$PKG_HMACSYNC")}" "3-6 min cold, 30 s warm" "pkg builds"
build_pkg "$PKG"
if [ -n "$PKG_HMACSYNC" ]; then build_pkg "$PKG_HMACSYNC" "${PKG_HMACSYNC_ARGS[@]}"; fi
# The page and the Node bench read the verification build and the hmac-sync one from here.
prepare_www() {
  cp "$ROOT"/benches/web/* "$OUT/www/bench/"
  cp -r "$PKG_VERIFY/web" "$OUT/www/bench/verify"
  if [ -n "$PKG_HMACSYNC" ]; then cp -r "$PKG_HMACSYNC/web" "$OUT/www/bench/hmacsync"; fi
  (cd "$PEERS" && node js/make_tokens.mjs "$OUT/www/bench/tokens.json" \
    && node_modules/.bin/esbuild js/browser_entry.mjs --bundle --format=esm --platform=browser \
      --outfile="$OUT/www/bench/bundle.js" --log-level=warning)
}
if [ -n "${BENCH_ONLY:-}" ]; then
  # One comparison alone: BENCH_ONLY=verify (verifyJwt and decodeJwt against jose, Node and
  # Chromium) or BENCH_ONLY=fetch (tm.fetch preparation, Chromium); about 2 minutes warm each.
  case "$BENCH_ONLY" in verify|fetch) ;; *) die "BENCH_ONLY must be verify or fetch" ;; esac
  echo "bench: BENCH_ONLY=$BENCH_ONLY: that comparison alone, side by side in one run"
  wait_peers
  prepare_www
  if [ "$BENCH_ONLY" = verify ]; then
    (cd "$PEERS" && node js/node_bench.mjs "$PKG_VERIFY" "$OUT/www/bench/tokens.json" "$RES/node.json" "$PKG_HMACSYNC")
  fi
  debug_server
  start_server "$RES/server.log" --port 0 --quiet --www-dir "$OUT/www" --pkg-dir "$PKG_FULL" \
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
  node "$PEERS/js/ratios.mjs" "$RES/node.json" "$RES/chromium.json"
  exit 0
fi

step 3 "native builds: criterion benches and the reference server ($CARGO_PROFILE profile)" "4-6 min cold, 5 s warm" "native builds"
if [ -n "$QUICK" ]; then
  # make test's own build (the Makefile's BUILD_BINS: the workspace with tokenwarden/hmac, whose
  # server turns ring on), and the two bench targets on that same feature set, so that only they
  # compile. The load steps run that one server twice (no pure-Rust build in the quick mode).
  [ -n "${BUILD_BINS:-}" ] || die "the quick mode runs under make (make test-bench), which sets BUILD_BINS"
  $BUILD_BINS
  QUICK_BENCH=(cargo bench --profile dev --workspace --features tokenwarden/hmac)
  "${QUICK_BENCH[@]}" --bench core --bench paired --no-run
else
  cargo bench --profile "$CARGO_PROFILE" -p tokenwarden --features hmac --bench core --no-run
  cargo bench --profile "$CARGO_PROFILE" -p tokenwarden --features hmac,ring --bench core --bench paired --no-run
  # The server on the pure-Rust primitive first (kept under another name), then on ring (its default).
  cargo build --profile "$CARGO_PROFILE" -p tokenwarden-server --no-default-features
fi
SERVER_BIN=$CARGO_TARGET_DIR/$PROFILE_DIR/tokenwarden-server
[ -x "$SERVER_BIN" ] || die "server binary not found at $SERVER_BIN"
cp "$SERVER_BIN" "$CARGO_TARGET_DIR/$PROFILE_DIR/tokenwarden-server-pure-rust"
[ -n "$QUICK" ] || cargo build --profile "$CARGO_PROFILE" -p tokenwarden-server

step 4 "sizes: our page loads beside the peers' (esbuild + gzip -9), and benchmark tokens" "10 s" "sizes"
wait_peers
ROWS=()
while IFS= read -r row; do ROWS+=("$row"); done < <(size_rows)
(cd "$PEERS" && node js/size.mjs "$RES/size.json" usage "${ROWS[@]}")
prepare_www
cd "$PEERS"

step 5 "Node: verifyJwt vs jose (5 algorithms), decodeJwt vs jose (payload; header + payload) and jwt-decode" "30 s" "Node"
node js/node_bench.mjs "$PKG_VERIFY" "$OUT/www/bench/tokens.json" "$RES/node.json" "$PKG_HMACSYNC"
cd "$ROOT"

step 6 "native: criterion (verify x4 and jsonwebtoken x4, decode, session steps), then verify on ring vs jsonwebtoken interleaved" "2-3 min" "criterion"
rm -rf "$CARGO_TARGET_DIR/criterion"
# run_or_die LOG WHAT COMMAND...: COMMAND's output appended to LOG; its tail and a stop if it fails.
run_or_die() {
  local log=$1 what=$2
  shift 2
  "$@" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; die "$what failed (log: $log)"; }
}
: >"$RES/criterion.log"
: >"$RES/paired.log"
if [ -n "$QUICK" ]; then
  # One criterion run (the workspace's feature set has ring: verify-ring included) and the
  # interleaved one, on the targets step 3 built.
  run_or_die "$RES/criterion.log" criterion "${QUICK_BENCH[@]}" --bench core -- "${CRITERION_ARGS[@]}"
  run_or_die "$RES/paired.log" "paired verify benchmark" \
    env TW_PAIRED_OUT="$RES/paired.json" "${QUICK_BENCH[@]}" --bench paired
else
  run_or_die "$RES/criterion.log" criterion \
    cargo bench --profile "$CARGO_PROFILE" -p tokenwarden --features hmac --bench core -- "${CRITERION_ARGS[@]}"
  # The core on ring's primitive (feature ring) beside jsonwebtoken again, in one run.
  run_or_die "$RES/criterion.log" "criterion (ring)" \
    cargo bench --profile "$CARGO_PROFILE" -p tokenwarden --features hmac,ring --bench core -- \
    "${CRITERION_ARGS[@]}" 'verify-ring|jsonwebtoken'
  # The ratios the report states: the core on ring and jsonwebtoken interleaved round by round
  # (benches/paired.rs, about 1 minute), which criterion's one-after-the-other runs are not.
  run_or_die "$RES/paired.log" "paired verify benchmark" \
    env TW_PAIRED_OUT="$RES/paired.json" cargo bench --profile "$CARGO_PROFILE" -p tokenwarden --features hmac,ring --bench paired
fi
grep 'time:' "$RES/criterion.log" || true
grep '^paired' "$RES/paired.log"
node "$PEERS/js/criterion.mjs" "$CARGO_TARGET_DIR/criterion" "$RES/native.json"

step 7 "Chromium: verification, decoding, fetch preparation and end to end" "2-3 min" "Chromium"
LOG=$RES/server.log
start_server "$LOG" --port 0 --quiet --access-ttl 3600 --www-dir "$OUT/www" --pkg-dir "$PKG_FULL" \
  || die "the reference server did not start"
URL=$SERVER_URL
echo "bench: reference server at $URL"
(cd "$PEERS" && node js/browser_bench.mjs "$URL" "$RES/chromium.json")
# DPoP vs Bearer: two more servers (one with --dpop), both cross-origin to the page alike.
MAIN_PID=$SERVER_PID
start_server "$RES/server-bearer.log" --port 0 --quiet --access-ttl 3600 --allow-any-loopback-origin \
  --www-dir "$OUT/www" --pkg-dir "$PKG_FULL" || die "the bearer reference server did not start"
BEARER_PID=$SERVER_PID BEARER_URL=$SERVER_URL
# The page signs every proof with one key: BENCH_DPOP_QUOTA (scripts/lib.sh) lifts the quota.
start_server "$RES/server-dpop.log" --port 0 --quiet --access-ttl 3600 --allow-any-loopback-origin --dpop --dpop-quota "$BENCH_DPOP_QUOTA" \
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
# The same load on the server built without ring (the pure-Rust primitive).
RING_BIN=$SERVER_BIN SERVER_BIN=$CARGO_TARGET_DIR/$PROFILE_DIR/tokenwarden-server-pure-rust
start_server "$RES/server-pure.log" --port 0 --quiet --access-ttl 3600 --www-dir "$OUT/www" --pkg-dir "$PKG_FULL" \
  || die "the reference server (pure-Rust primitive) did not start"
(cd "$PEERS" && node js/load.mjs "$SERVER_URL" "$RES/load-pure.json")
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID="" SERVER_BIN=$RING_BIN

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
sed -n '/^## Summary/,/^## 2\./p' "$OUT/report.md" | sed '$d'
node "$PEERS/js/ratios.mjs" "$RES/node.json" "$RES/chromium.json"

# The reference server per store (memory, SQLite, Redis; two instances on one Redis): its own
# script, appended to the report (about 1-2 minutes).
printf '\n\033[1m[bench %s] stores: the reference server under load per store\033[0m (expect 1-2 min)\n' "$(elapsed)"
scripts/bench-stores.sh "$OUT"
printf '\n' >>"$OUT/report.md"
cat "$OUT/stores.md" >>"$OUT/report.md"

# Worker custody: tm.fetch through the worker vs page custody vs plain fetch, and the bytes
# (about 1-2 minutes), appended to the report.
printf '\n\033[1m[bench %s] custody: tm.fetch in worker vs page custody, bytes\033[0m (expect 1-2 min)\n' "$(elapsed)"
scripts/bench-custody.sh "$OUT" "$PKG_FULL"
printf '\n' >>"$OUT/report.md"
cat "$OUT/custody.md" >>"$OUT/report.md"
if [ -n "$QUICK" ]; then
  printf '\n\033[1m[bench %s] quick mode: every step ran (figures not meaningful)\033[0m\n' "$(elapsed)"
fi
