#!/usr/bin/env bash
# Builds the Leptos example app (examples/leptos-app) once into target/examples/leptos/, where
# `make demo` (scripts/demo.sh) and the Playwright suite (tests/leptos/, `make test-leptos`) both
# serve it from (reference server flag --examples-dir target/examples).
#   1. cargo build --target wasm32-unknown-unknown -p tokenwarden-leptos-app (dev profile, whose
#      dependencies are optimized; cold about 9 minutes on 2 cores, warm seconds)
#   2. wasm-bindgen --target web (the pinned wasm-bindgen-cli, as for the npm package; seconds)
#   3. with --clippy: cargo clippy of the app for wasm32 (about 1 minute cold)
# Cargo builds it in its own target directory (target/leptos-app): none of its dependencies is
# shared with the other builds (Leptos's proc macros unify other `syn` features, which rebuilds
# wasm-bindgen's macro and everything above it), and its own directory lets `make test` build it
# in the background (scripts/bg.sh) while the other suites hold target/'s lock.
# Env: CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT="$TARGET_DIR/examples/leptos"
CLIPPY=""
[ "${1:-}" = --clippy ] && CLIPPY=1
export CARGO_TARGET_DIR="$TARGET_DIR/leptos-app"

echo "leptos-app: cargo build --target wasm32-unknown-unknown -p tokenwarden-leptos-app (cold about 9 min on 2 cores, warm seconds)"
t=$SECONDS
cargo build --target wasm32-unknown-unknown -p tokenwarden-leptos-app
WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/tokenwarden-leptos-app.wasm"
if [ "$OUT/tokenwarden_leptos_app_bg.wasm" -nt "$WASM" ] && [ "$OUT/index.html" -nt examples/leptos-app/index.html ]; then
  echo "leptos-app: $OUT/ is up to date"
else
  echo "leptos-app: wasm-bindgen --target web into $OUT/"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  wasm-bindgen --target web --no-typescript --out-dir "$OUT" --out-name tokenwarden_leptos_app "$WASM"
  cp examples/leptos-app/index.html "$OUT/index.html"
  echo "leptos-app: built in $((SECONDS - t)) s ($(du -k "$OUT/tokenwarden_leptos_app_bg.wasm" | cut -f1) KB of wasm)"
fi
if [ -n "$CLIPPY" ]; then
  echo "leptos-app: cargo clippy --target wasm32-unknown-unknown -p tokenwarden-leptos-app -- -D warnings (about 1 minute cold)"
  cargo clippy --target wasm32-unknown-unknown -p tokenwarden-leptos-app -- -D warnings
fi
