#!/usr/bin/env bash
# Idempotent set-up for building and testing tokenwarden on a fresh Debian machine.
# Installs: the wasm32 target, wasm-bindgen-cli matching Cargo.lock, wasm-pack,
# Debian chromium + chromium-driver, and the npm packages the tests and builds use.
# A cold run takes about 8-12 minutes (two `cargo install`s); a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# Version of wasm-bindgen pinned in Cargo.lock (the CLI must match it exactly).
wb_version() {
  if [ ! -f Cargo.lock ]; then cargo generate-lockfile >/dev/null 2>&1; fi
  awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target (about 30 s)"
  rustup target add wasm32-unknown-unknown
fi

# The package's wasm is built with nightly `-Zbuild-std` and `-Cpanic=immediate-abort` when the
# machine has a nightly toolchain (scripts/wasm-release.sh): that needs nightly's standard
# library sources. No nightly: the stable build is used and nothing is installed here.
if rustup run nightly rustc --version >/dev/null 2>&1 \
  && ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
  say "adding rust-src to the nightly toolchain, for the package's -Zbuild-std wasm (about 1 minute)"
  rustup component add rust-src --toolchain nightly
fi

WB=$(wb_version)
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WB" ]; then
  say "installing wasm-bindgen-cli $WB (about 3 minutes on 2 cores)"
  # --locked can fail when a locked dependency is briefly missing from the index; then let cargo
  # resolve compatible versions.
  cargo install wasm-bindgen-cli --version "$WB" --locked --force \
    || cargo install wasm-bindgen-cli --version "$WB" --force
fi

if ! command -v wasm-pack >/dev/null; then
  say "installing wasm-pack (about 2 minutes)"
  cargo install wasm-pack --locked || cargo install wasm-pack
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing Debian chromium and chromium-driver (about 1 minute)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The reference server's Redis store tests start their own redis-server on a loopback port
# (never as a system service); Debian's package is enough.
if ! command -v redis-server >/dev/null; then
  say "installing Debian redis-server for the server's store tests (about 20 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # The package starts a system instance on 6379; the tests do not use it.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    say "stopping the system redis-server service (the tests start their own)"
    systemctl stop redis-server || true
    systemctl disable redis-server >/dev/null 2>&1 || true
  fi
fi

# The OAuth suites serve oidc-provider over https with a CA made for each run
# (tests/support/test-ca.mjs runs the openssl command).
if ! command -v openssl >/dev/null; then
  say "installing Debian openssl for the test certificate authorities (about 10 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi

# The load generator of `make bench`'s server step (and its quick mode in `make test`).
if ! command -v wrk >/dev/null; then
  say "installing Debian wrk for the benchmarks (about 10 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/esbuild ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (binaryen for wasm-opt, esbuild for the package's JS, jose, playwright-core; about 30 s)"
  npm ci --no-audit --no-fund --loglevel=error
fi

say "ready: rust $(rustc --version | awk '{print $2}'), wasm-bindgen $WB, $(wasm-pack --version), $(chromium --version 2>/dev/null | head -1)"
