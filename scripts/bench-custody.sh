#!/usr/bin/env bash
# Worker custody's cost (README "Worker custody"): tm.fetch in worker custody vs page custody vs
# plain fetch with the header set by hand (GET /healthz end to end on loopback, sequential and
# 50 in flight, side by side in one Chromium run), and the bytes a page downloads in each
# custody. Called by scripts/bench.sh (also runs alone). Writes OUT/custody.md and
# OUT/custody.json (OUT defaults to target/bench). About 1-2 minutes (plus the package build
# when PKG_DIR lacks it). Usage: scripts/bench-custody.sh [OUT] [PKG_DIR]
# Knobs: BENCH_CUSTODY_ROUNDS (7), BENCH_CUSTODY_SEQUENTIAL (300), BENCH_CUSTODY_PARALLEL (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
OUT=${1:-$ROOT/target/bench}
PKG=${2:-$OUT/pkg/oauth}
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
WORK=$OUT/custody
mkdir -p "$WORK/www/bench"
say() { printf '\033[1mbench-custody:\033[0m %s\n' "$*"; }
[ -f "$PKG/web/worker.js" ] || { say "building the package into $PKG (1-2 min)"; env -u CARGO_TARGET_DIR scripts/build-pkg.sh "$PKG"; }
say "building the reference server (debug; seconds when up to date)"
# Under make (make test-bench): make test's own build of it (the Makefile's BUILD_BINS).
if [ -n "${BUILD_BINS:-}" ]; then env -u CARGO_TARGET_DIR $BUILD_BINS; else env -u CARGO_TARGET_DIR cargo build -p tokenwarden-server; fi
SERVER_BIN=$ROOT/target/debug/tokenwarden-server
printf '<!doctype html><meta charset="utf-8"><title>ready</title>\n' >"$WORK/www/bench/custody.html"
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; true' EXIT
start_server "$WORK/server.log" --port 0 --quiet --access-ttl 3600 --www-dir "$WORK/www" --pkg-dir "$PKG"
say "server at $SERVER_URL; Chromium (about 1 minute)"
node benches/js/custody_bench.mjs "$SERVER_URL" "$PKG" "$OUT/custody.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = r.speed, f = (x) => x.toFixed(1), pct = (x, y) => `${x >= y ? "+" : ""}${f(x - y)} µs (${(x / y).toFixed(2)}x)`;
  const kb = (n) => (n / 1024).toFixed(1) + " KB";
  const lines = [
    "## Worker custody: the cost of keeping tokens out of the page",
    "",
    `${r.runtime}; GET /healthz on loopback (the cheapest route of the reference server, so the client work shows; the token is attached and ignored), body read; median of ${r.rounds} rounds, clients interleaved.`,
    "",
    "| client | sequential, µs per request | over plain fetch | 50 in flight, µs per request | over plain fetch |",
    "|---|---|---|---|---|",
    ...["plain", "page", "worker"].map((k) => `| ${{ plain: "plain fetch (header by hand)", page: "tm.fetch, custody page", worker: "tm.fetch, custody worker" }[k]} | ${f(s[k].sequentialUs)} | ${k === "plain" ? "" : pct(s[k].sequentialUs, s.plain.sequentialUs)} | ${f(s[k].parallelUs)} | ${k === "plain" ? "" : pct(s[k].parallelUs, s.plain.parallelUs)} |`),
    "",
    `Worker over page custody: sequential ${pct(s.worker.sequentialUs, s.page.sequentialUs)}, 50 in flight ${pct(s.worker.parallelUs, s.page.parallelUs)}.`,
    "",
    "Bytes the page downloads for the package (transfer sizes; the server sends them uncompressed):",
    "",
    "| custody | page realm | worker realm | worker files served by the HTTP cache |",
    "|---|---|---|---|",
    ...["page", "worker"].map((c) => { const b = r.bytes[c]; return `| ${c} | ${kb(b.page.transfer)} (${b.page.files} files) | ${kb(b.worker.transfer)} (${b.worker.files} files) | ${b.worker.fromCache.join(", ") || "none"} |`; }),
    "",
    `Construction to the first answer of start() (no session): page custody ${f(r.bytes.page.startMs)} ms, worker custody ${f(r.bytes.worker.startMs)} ms (the worker loads and compiles the module).`,
    "",
    "gzip -9 of the files: " + Object.entries(r.gzip).map(([n, g]) => `${n} ${g.gzip} B`).join(", ") + ". Worker custody adds remote.js and worker.js to the download, and the worker instantiates its own copy of the module (bytes above; compiled again).",
    "",
  ];
  require("fs").writeFileSync(process.argv[2], lines.join("\n"));
  console.log(lines.join("\n"));' "$OUT/custody.json" "$OUT/custody.md"
