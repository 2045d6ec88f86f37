#!/usr/bin/env bash
# Builds the example apps on tokenwarden's Rust API, the Leptos app (examples/leptos-app) and the
# Yew app (examples/yew-app), once each into target/examples/<leptos|yew>/, where `make demo`
# (scripts/demo.sh) and the Playwright suite (tests/apps/, `make test-apps`) both serve them from
# (reference server flag --examples-dir target/examples); and, in the same cargo invocation, the
# Rust shell behind the npm TokenManager's surface that the scenario suite drives
# (tests/scenarios/shell, into target/scenario-shell/).
#   1. one cargo build --target wasm32-unknown-unknown of both apps (dev profile, whose
#      dependencies are optimized; cold about 11 minutes on 2 cores, warm seconds): one cargo
#      invocation, so their shared dependencies (tokenwarden, wasm-bindgen, web-sys, gloo-net,
#      serde) are compiled once, with one set of features
#   2. wasm-bindgen --target web for each (the pinned wasm-bindgen-cli, as for the npm package)
#   3. with --clippy: cargo clippy of both apps for wasm32 (about 1 minute cold)
# Cargo builds them in their own target directory (target/example-apps): none of their
# dependencies is shared with the other builds (the frameworks' proc macros unify other `syn`
# features, which rebuilds wasm-bindgen's macro and everything above it), and their own directory
# lets `make test` build them in the background (scripts/bg.sh) while the other suites hold
# target/'s lock.
# Env: CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
CLIPPY=""
[ "${1:-}" = --clippy ] && CLIPPY=1
export CARGO_TARGET_DIR="$TARGET_DIR/example-apps"
APPS=(leptos yew)
PACKAGES=()
for app in "${APPS[@]}"; do PACKAGES+=(-p "tokenwarden-$app-app"); done
PACKAGES+=(-p tokenwarden-scenario-shell)

echo "example-apps: cargo build --target wasm32-unknown-unknown ${PACKAGES[*]} (cold about 11 min on 2 cores, warm seconds)"
t=$SECONDS
cargo build --target wasm32-unknown-unknown "${PACKAGES[@]}"
for app in "${APPS[@]}"; do
  OUT="$TARGET_DIR/examples/$app"
  WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/tokenwarden-$app-app.wasm"
  if [ "$OUT/tokenwarden_${app}_app_bg.wasm" -nt "$WASM" ] && [ "$OUT/index.html" -nt "examples/$app-app/index.html" ]; then
    echo "example-apps: $OUT/ is up to date"
  else
    echo "example-apps: wasm-bindgen --target web into $OUT/"
    rm -rf "$OUT"
    mkdir -p "$OUT"
    wasm-bindgen --target web --no-typescript --out-dir "$OUT" --out-name "tokenwarden_${app}_app" "$WASM"
    cp "examples/$app-app/index.html" "$OUT/index.html"
    echo "example-apps: $app built ($(du -k "$OUT/tokenwarden_${app}_app_bg.wasm" | cut -f1) KB of wasm)"
  fi
done
SHELL_OUT="$TARGET_DIR/scenario-shell"
SHELL_WASM="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/tokenwarden_scenario_shell.wasm"
if [ "$SHELL_OUT/shell_bg.wasm" -nt "$SHELL_WASM" ]; then
  echo "example-apps: $SHELL_OUT/ is up to date"
else
  echo "example-apps: wasm-bindgen --target web of the scenario suite's Rust shell into $SHELL_OUT/"
  rm -rf "$SHELL_OUT"
  wasm-bindgen --target web --no-typescript --out-dir "$SHELL_OUT" --out-name shell "$SHELL_WASM"
fi
echo "example-apps: built in $((SECONDS - t)) s"
if [ -n "$CLIPPY" ]; then
  echo "example-apps: cargo clippy --target wasm32-unknown-unknown ${PACKAGES[*]} -- -D warnings (about 1 minute cold)"
  cargo clippy --target wasm32-unknown-unknown "${PACKAGES[@]}" -- -D warnings
fi
